"""schemathesis against the OpenAPI document the local stack serves: every operation,
every method the document names and the ones it does not, bodies of the wrong type,
shape and encoding. Not one answer may be a server error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devstack import tokens

SEED = "20261130"
EXAMPLES = "25"


def test_no_input_makes_a_server_error(local_stack, tmp_path):
    token = tokens.mint("fuzz-user", "pro")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{local_stack.info['api']}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            EXAMPLES,
            "--seed",
            SEED,
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {token}",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert " passed" in summary and "failures" not in summary.split("Test cases:")[-1], summary
