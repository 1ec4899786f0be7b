"""The package's folders are layers: each imports only the layers below it, and the running
services never import one another. Read from the source (every `import`, also those inside
functions and `lazy("…")` stand-ins), so a new import that runs back up fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "autopost" / "autopost"

# Lower number = lower layer. A package may import its own layer's modules only where the
# rule below allows it.
LAYERS = {
    "domain": 0,
    "infra": 1,
    "storage": 2,
    "providers": 2,
    "publishing": 3,
    "connecting": 3,
    "api": 4,
    "publish_worker": 4,
    "stats_sync": 4,
    "clip_validator": 4,
    "publication_events": 4,
    "webhooks": 4,
    "maintenance": 4,
}
# Imports between packages of one layer that are part of the design.
SIDEWAYS = {
    ("connecting", "publishing"),  # a disconnect stops the executions of scheduled publications
    ("publish_worker", "clip_validator"),  # the worker checks a clip's key by the validator's rules
    ("api", "webhooks"),  # a test event is sent as every delivery is (webhooks.dispatch.deliver_once)
}
# What the domain may import besides itself: no AWS SDK, no HTTP, no storage library.
DOMAIN_FORBIDDEN = re.compile(r"^(boto3|botocore|pynamodb|httpx|aws_lambda_powertools|requests)\b")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "lazy"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "autopost" and len(parts) > 1 else None


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    folders = {p.relative_to(PACKAGE).parts[0] for p in MODULES if len(p.relative_to(PACKAGE).parts) > 1}
    assert loose == []
    assert folders == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up_or_sideways(path):
    own = path.relative_to(PACKAGE).parts[0]
    if own == "__init__.py":
        return
    wrong = []
    for module in imports_of(path):
        if own == "domain" and DOMAIN_FORBIDDEN.match(module):
            wrong.append(module)
        target = package_of(module)
        if target is None or target == own:
            continue
        if LAYERS[target] > LAYERS[own] or (LAYERS[target] == LAYERS[own] and (own, target) not in SIDEWAYS):
            wrong.append(module)
    assert wrong == [], f"{path.relative_to(PACKAGE)} imports {wrong}"


def test_the_rule_catches_an_import_that_runs_back_up(tmp_path):
    """The reader itself: an import from a higher layer, also one made lazily, is found."""
    module = tmp_path / "m.py"
    module.write_text(
        'from autopost.api.app import build_app\nx = lazy("autopost.publish_worker.worker")\n'
        "def f():\n    import boto3\n"
    )
    assert {"autopost.api.app", "autopost.publish_worker.worker", "boto3"} <= imports_of(module)
