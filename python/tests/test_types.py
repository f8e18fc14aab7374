"""The package's type hints are complete and consistent (mypy, configured in pyproject.toml:
every function annotated; grpcio and protobuf have no stubs, the generated .pyi types messages)."""
from __future__ import annotations

import subprocess
import sys

from conftest import PYTHON_DIR, require

require("mypy", "python3-mypy")


def test_mypy_finds_no_errors() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=PYTHON_DIR, capture_output=True,
                         text=True, timeout=170)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout
