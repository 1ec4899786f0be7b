"""What a cold start loads: each handler imports no AWS SDK, no X-Ray SDK, no HTTP client and
no platform provider at init, and a route that lists publications loads no provider even
while it serves. Fresh interpreters, since this test process has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/handler.py"))
HEAVY = [
    "boto3",
    "botocore.client",
    "aws_xray_sdk.core",
    "httpx",
    "pynamodb.models",
    "autopost.providers.vk",
    "autopost.providers.telegram",
    "autopost.providers.rutube",
    "autopost.providers.dzen",
]

IMPORT_ONLY = """
import importlib.util, json, sys
sys.path[:0] = [{function!r}]
spec = importlib.util.spec_from_file_location("handler", {handler!r})
module = importlib.util.module_from_spec(spec)
sys.modules["handler"] = module
spec.loader.exec_module(module)
from autopost.infra.lazy import loaded
print(json.dumps([name for name in {heavy!r} if loaded(name)]))
"""

LIST_PUBLICATIONS = """
import importlib.util, json, os, sys
from moto import mock_aws
from devstack.provision import provision
from tests.support.http_events import http_event
from tests.support.lambda_context import LambdaContext
with mock_aws():
    stack = provision(stack_name="cold", region="eu-central-1",
                      parameters={{"JwtIssuer": "https://issuer.local", "JwtAudience": "autopost"}})
    for spec in stack.functions.values():
        os.environ.update(spec.environment)
    spec = importlib.util.spec_from_file_location("handler", {handler!r})
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    answer = module.lambda_handler(http_event("GET", "/publications"), LambdaContext())
    from autopost.infra.lazy import loaded
    names = ["autopost.connecting.service", "autopost.providers.vk", "autopost.providers.telegram",
             "autopost.providers.rutube", "autopost.providers.dzen", "httpx"]
    print(json.dumps({{"status": answer["statusCode"], "loaded": [n for n in names if loaded(n)]}}))
"""


def run(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("function", HANDLERS)
def test_a_handler_loads_no_sdk_and_no_provider_at_init(function, monkeypatch):
    handler = ROOT / "functions" / function / "handler.py"
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": f"autopost-{function}",  # tracing on, as in Lambda
        "AWS_REGION": "eu-central-1",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    }
    code = IMPORT_ONLY.format(function=str(handler.parent), handler=str(handler), heavy=HEAVY)
    assert json.loads(run(code, environment)) == []


def test_listing_publications_loads_no_provider():
    code = LIST_PUBLICATIONS.format(handler=str(ROOT / "functions" / "api" / "handler.py"))
    assert json.loads(run(code)) == {"status": 200, "loaded": []}
