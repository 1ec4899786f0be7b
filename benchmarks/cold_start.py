"""Cold start: how long each handler's module takes to import, against a bare `import boto3`.

    .venv/bin/python benchmarks/cold_start.py [--runs 7] [--top 15]

Each figure is the median over fresh Python processes, measured inside the process around the
import alone (interpreter start-up is the same for both and left out). The processes run
interleaved in one go, so the machine's speed cancels out of the ratio. They see what a
Lambda environment holds: the layer's pinned requirements and the runtime's boto3, installed
once into `.cache/cold-start-site` (nothing of the development virtualenv: `python -S`), the
function's folder and the layer's source; the function name, region and variables of
`template.yaml`, with a sampled trace header (tracing on, as with `Tracing: Active`). `--top N` also prints the N
modules with the largest cumulative import time for each handler (`python -X importtime`).
Target: every handler at most 1.5× `import boto3`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "autopost"
SITE = ROOT / ".cache" / "cold-start-site"
TARGET = 1.5

LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "eu-central-1",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_ACCESS_KEY_ID": "cold-start",
    "AWS_SECRET_ACCESS_KEY": "cold-start",
    "CLIPS_TABLE": "autopost-clips",
    "PUBLICATIONS_TABLE": "autopost-publications",
    "CONNECTIONS_TABLE": "autopost-connections",
    "CONTROL_TABLE": "autopost-control",
    "CLIPS_BUCKET": "autopost-clips",
    "POWERTOOLS_SERVICE_NAME": "autopost",
    "POWERTOOLS_METRICS_NAMESPACE": "Autopost",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}

MEASURE = """
import importlib.util, sys, time
sys.path[:0] = {path!r}
began = time.perf_counter()
{body}
imported = time.perf_counter() - began
{first_use}
print(imported, time.perf_counter() - began)
"""

# What the first request or message sets up on top of the import (no network: AWS clients
# are made, not called): the services a route uses, the worker with one provider, ...
FIRST_USE = {
    None: "boto3.client('dynamodb')",
    "api": "module.app; context = sys.modules['autopost.api.context']; context.publishing(); context.clips()",
    "publish_worker": (
        "module.worker(); import autopost.providers as p, autopost.infra.settings as s; "
        "p.provider_for('vk', s.get_settings())"
    ),
    "clip_validator": "module.clip_events()",
    "stats_sync": "module.sync()",
    "publication_events": "module.publication_events()",
    "webhooks": "module.dispatcher()",
}


def handlers() -> dict[str, Path]:
    return {path.parent.name: path for path in sorted((ROOT / "functions").glob("*/handler.py"))}


def lambda_site() -> Path:
    """The layer's requirements and the runtime's boto3 (the version pyproject pins)."""
    requirements = (LAYER / "requirements.txt").read_text()
    boto3 = re.search(r'"(boto3==[^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert boto3 is not None, "pyproject.toml pins boto3"
    stamp = SITE / ".requirements"
    wanted = requirements + boto3.group(1)
    if not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(SITE, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--target",
                str(SITE),
                "-r",
                str(LAYER / "requirements.txt"),
                boto3.group(1),
            ],
            check=True,
            timeout=600,
            stderr=subprocess.DEVNULL,
        )
        stamp.write_text(wanted)
    return SITE


def environment(function: str | None) -> dict[str, str]:
    keep = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env = {**keep, **LAMBDA_ENVIRONMENT, "PYTHONDONTWRITEBYTECODE": "1"}
    if function is not None:
        env["AWS_LAMBDA_FUNCTION_NAME"] = f"autopost-{function}"
    return env


def code(handler: Path | None) -> str:
    if handler is None:
        return MEASURE.format(path=[str(SITE)], body="import boto3", first_use=FIRST_USE[None])
    body = (
        f"spec = importlib.util.spec_from_file_location('handler', {str(handler)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['handler'] = module\n"
        "spec.loader.exec_module(module)"
    )
    return MEASURE.format(
        path=[str(handler.parent), str(LAYER), str(SITE)], body=body, first_use=FIRST_USE[handler.parent.name]
    )


def once(function: str | None, handler: Path | None) -> tuple[float, float]:
    """Seconds to import, and to import and set up what the first request uses."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", code(handler)],
        env=environment(function),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"importing {function or 'boto3'} failed:\n{done.stderr}")
    imported, first_use = done.stdout.strip().splitlines()[-1].split()
    return float(imported), float(first_use)


def heaviest(function: str, handler: Path, top: int) -> list[tuple[int, str]]:
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", code(handler)],
        env=environment(function),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=0, help="also print the N heaviest imports per handler")
    args = parser.parse_args()
    lambda_site()
    subjects: dict[str, Path | None] = {"boto3": None, **handlers()}
    for function, handler in subjects.items():  # warm-up: the page cache, compiled bytecode
        once(None if handler is None else function, handler)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for _ in range(args.runs):
        for function, handler in subjects.items():
            times[function].append(once(None if handler is None else function, handler))
    boto3 = statistics.median(run[0] for run in times["boto3"])
    boto3_client = statistics.median(run[1] for run in times["boto3"])
    print(
        f"median of {args.runs} fresh processes; `import boto3` {boto3 * 1000:.0f} ms "
        f"(and one client made: {boto3_client * 1000:.0f} ms)"
    )
    print(
        f"| handler | import | ratio to `import boto3` (target ≤ {TARGET}×) "
        "| import + first request's setup | share of it at init |"
    )
    print("| --- | --- | --- | --- | --- |")
    worst = 0.0
    for function in handlers():
        median = statistics.median(run[0] for run in times[function])
        first = statistics.median(run[1] for run in times[function])
        ratio = median / boto3
        worst = max(worst, ratio)
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(
            f"| `{function}` | {median * 1000:.0f} ms | {ratio:.2f}× {verdict} | {first * 1000:.0f} ms "
            f"| {median / first:.0%} |"
        )
    if args.top:
        for function, handler in handlers().items():
            print(f"\n{function}: heaviest imports (cumulative µs)")
            for microseconds, name in heaviest(function, handler, args.top):
                print(f"  {microseconds:>9} {name}")
    if worst > TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
