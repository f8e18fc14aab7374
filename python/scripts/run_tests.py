#!/usr/bin/env python3
"""Runs the Python suite with pytest and writes python/jest-results.json, the counts file every
package writes (scripts/jest-results-reporter.cjs), so .ci/run's "N passed, N failed" line counts
these tests too.

    /usr/bin/python3 python/scripts/run_tests.py [pytest arguments...]

Uses only the standard library until pytest is found: a Python without pytest, grpcio, protobuf,
psutil, torch, mypy or pytest-timeout fails the run (and is counted as a failed suite) with the Debian
package to install. Exits non-zero when anything failed or nothing ran.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
RESULTS = PYTHON_DIR / "jest-results.json"
REQUIRED = [
    ("pytest", "python3-pytest"),
    ("pytest_timeout", "python3-pytest-timeout"),
    ("grpc", "python3-grpcio"),
    ("google.protobuf", "python3-protobuf"),
    ("psutil", "python3-psutil"),
    ("torch", "python3-torch"),
    ("mypy", "python3-mypy"),
]
#: Longest a single test may run before it fails (a hang must not stall CI), in seconds.
TEST_TIMEOUT_S = 180


def write(passed: int, failed: int, skipped: int, failed_suites: int, runtime_error_suites: int) -> None:
    RESULTS.write_text(json.dumps({
        "passed": passed,
        "failed": failed,
        "skipped": skipped,
        "failedSuites": failed_suites,
        "runtimeErrorSuites": runtime_error_suites,
    }, indent=2) + "\n")


class Counter:
    """A pytest plugin that counts outcomes the way the jest reporter does."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failed_suites: set[str] = set()
        self.error_suites: set[str] = set()

    def pytest_collectreport(self, report) -> None:  # noqa: ANN001 (pytest hook)
        if report.failed:
            self.failed_suites.add(report.nodeid or "<collection>")
            self.error_suites.add(report.nodeid or "<collection>")

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 (pytest hook)
        suite = report.nodeid.split("::")[0]
        if report.when == "call":
            if report.passed:
                self.passed += 1
            elif report.failed:
                self.failed += 1
                self.failed_suites.add(suite)
            elif report.skipped:
                self.skipped += 1
        elif report.failed:  # setup or teardown failed: the test failed
            self.failed += 1
            self.failed_suites.add(suite)
        elif report.when == "setup" and report.skipped:
            self.skipped += 1


def main() -> int:
    RESULTS.unlink(missing_ok=True)
    missing = []
    for module, package in REQUIRED:
        try:
            importlib.import_module(module)
        except ImportError as error:
            missing.append(f"{module} ({package}): {error}")
    if missing:
        print(f"{sys.executable} cannot import:\n  " + "\n  ".join(missing) +
              "\ninstall them with `bash scripts/install-test-deps.sh` (Debian packages above; only "
              "Debian's /usr/bin/python3 sees them, not a pyenv or venv Python)", file=sys.stderr)
        write(0, 1, 0, 1, 1)
        return 1
    import pytest

    counter = Counter()
    code = pytest.main(["-p", "no:cacheprovider", f"--timeout={TEST_TIMEOUT_S}", "-ra", str(PYTHON_DIR / "tests"),
                        *sys.argv[1:]], plugins=[counter])
    failed = counter.failed
    if code == pytest.ExitCode.NO_TESTS_COLLECTED or (code != pytest.ExitCode.OK and failed == 0
                                                       and not counter.failed_suites):
        counter.failed_suites.add(f"<pytest exit {int(code)}>")  # nothing ran, or pytest itself failed
    write(counter.passed, failed, counter.skipped, len(counter.failed_suites), len(counter.error_suites))
    ok = code == pytest.ExitCode.OK and failed == 0 and not counter.failed_suites
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
