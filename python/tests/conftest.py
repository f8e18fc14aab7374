"""Shared fixtures: real coordinator processes on port 0, the fake coordinator, clean-up.

Every test needs Debian's /usr/bin/python3 with python3-grpcio, python3-protobuf, python3-psutil
and python3-pytest (the PyTorch test also python3-torch). A missing one fails the run with what to
install (see `require`); nothing is skipped.
"""
from __future__ import annotations

import importlib
import os
import sys
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO = PYTHON_DIR.parent
sys.path.insert(0, str(PYTHON_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: The test coordinators' heartbeat timeout: short, so deaths are seen quickly, with room for a
#: loaded 2-core machine (three heartbeats must go missing before a live worker is declared dead).
HEARTBEAT_TIMEOUT_MS = 1200

INSTALL_HINT = "install it with `bash scripts/install-test-deps.sh` (Debian package {package})"


def require(module: str, package: str) -> ModuleType:
    """Imports `module` or fails (at collection) naming the Debian package that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{sys.executable} cannot import {module} ({error}): " + INSTALL_HINT.format(package=package),
                    pytrace=False)
        raise  # unreachable: pytest.fail raises


require("grpc", "python3-grpcio")
require("google.protobuf", "python3-protobuf")
require("psutil", "python3-psutil")

from fake_coordinator import FakeCoordinator  # noqa: E402
from strata_client.testing import CoordinatorProcess  # noqa: E402


@pytest.fixture
def start_coordinator(tmp_path: Path) -> Iterator[Callable[..., CoordinatorProcess]]:
    """Starts coordinators (`start_coordinator("--heartbeat-timeout-ms", "1200")`) in temp data
    directories; stops every one at the end and checks it shut down cleanly (exit code 0)."""
    started: list[CoordinatorProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> CoordinatorProcess:
        coordinator = CoordinatorProcess.start(tmp_path / f"coordinator-{len(started)}", *args, env=env)
        started.append(coordinator)
        return coordinator

    yield start
    codes = [(c, c.stop()) for c in started]
    for coordinator, code in codes:
        assert code == 0 or coordinator.killed, f"coordinator exited with {code}; log:\n{coordinator.log()[-3000:]}"


@pytest.fixture
def coordinator(start_coordinator: Callable[..., CoordinatorProcess]) -> CoordinatorProcess:
    """A coordinator with a 1.2 s heartbeat timeout (workers heartbeat every 400 ms)."""
    return start_coordinator("--heartbeat-timeout-ms", str(HEARTBEAT_TIMEOUT_MS))


@pytest.fixture
def fake() -> Iterator[FakeCoordinator]:
    server = FakeCoordinator().start()
    yield server
    server.stop()


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (Debian's /usr/bin/python3 in CI), for subprocesses."""
    return sys.executable


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for Python subprocesses: strata_client importable, unbuffered output."""
    return {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "PYTHONUNBUFFERED": "1"}


def metric(coordinator: CoordinatorProcess, name: str) -> float:
    """One sample of the coordinator's Prometheus /metrics, by its full name with labels
    (`strata_heartbeats_total{transport="stream"}`)."""
    text = urllib.request.urlopen(f"http://{coordinator.http}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in /metrics")
