"""Bearer token and TLS, leader following over several addresses, and the committed stubs."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from fake_coordinator import FakeCoordinator, not_leader
from strata_client import Backoff, StrataError, TrainingOrchestrator
from strata_client.testing import CoordinatorProcess, wait_until

PYTHON_DIR = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-of-32-characters-xx"


def test_auth_token_is_required_when_set(start_coordinator) -> None:
    coordinator = start_coordinator("--heartbeat-timeout-ms", "1200", "--auth-token", TOKEN)
    with TrainingOrchestrator(coordinator.grpc) as anonymous:
        with pytest.raises(StrataError) as caught:
            anonymous.register_worker("intruder")
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    with TrainingOrchestrator(coordinator.grpc, token="wrong-token-of-enough-length") as wrong:
        with pytest.raises(StrataError) as caught:
            wrong.register_worker("intruder")
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    with TrainingOrchestrator(coordinator.grpc, token=TOKEN) as orch:
        assert orch.register_worker("member").rank == 0
        acked = orch.heartbeat_thread.acknowledged
        wait_until(lambda: orch.heartbeat_thread.acknowledged >= acked + 2, 10, message="authenticated heartbeats")
        assert orch.barrier("with-token", timeout_s=5).participants == 1


def test_tls_with_a_token(start_coordinator, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is missing: install the Debian package openssl"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    coordinator = start_coordinator("--heartbeat-timeout-ms", "1200", "--auth-token", TOKEN,
                                    "--tls-cert", str(cert), "--tls-key", str(key))
    with TrainingOrchestrator(coordinator.grpc, token=TOKEN, tls=True, root_certificates=str(cert)) as orch:
        assert orch.register_worker("secure").world_size == 1
        acked = orch.heartbeat_thread.acknowledged
        wait_until(lambda: orch.heartbeat_thread.acknowledged >= acked + 2, 10, message="heartbeats over TLS")
    with TrainingOrchestrator(coordinator.grpc, token=TOKEN, retry_timeout_s=0) as plain:
        with pytest.raises(StrataError) as caught:
            plain.register_worker("plain")  # plain text to a TLS port
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE


def test_follows_the_leader_hint_of_a_coordinator_that_does_not_lead(
        coordinator: CoordinatorProcess, fake: FakeCoordinator) -> None:
    for method in ("RegisterWorker", "Heartbeat", "DeregisterWorker", "WaitBarrier"):
        fake.handlers[method] = not_leader(coordinator.grpc)
    with TrainingOrchestrator(fake.address) as orch:
        assert orch.register_worker("follower").rank == 0
        assert orch.connection.address == coordinator.grpc
        assert orch.connection.addresses == [fake.address, coordinator.grpc]
        acked = orch.heartbeat_thread.acknowledged
        wait_until(lambda: orch.heartbeat_thread.acknowledged >= acked + 2, 10, message="heartbeats to the leader")
    assert fake.calls["RegisterWorker"] == 1


def test_tries_the_next_address_with_backoff_when_no_leader_is_named(
        coordinator: CoordinatorProcess, fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = not_leader(None)  # mid-election: no leader known
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]  # nothing listens there once the socket closes
    sleeps: list[float] = []
    orch = TrainingOrchestrator([f"127.0.0.1:{closed_port}", fake.address, coordinator.grpc],
                                backoff=Backoff(initial_s=0.01, max_s=0.05, random=lambda: 0.5))
    orch._conn._sleep = lambda s: sleeps.append(s)  # record the backoff instead of waiting it
    with orch:
        assert orch.register_worker("persistent", heartbeats=False).rank == 0
        assert orch.connection.address == coordinator.grpc
    assert sleeps == pytest.approx([0.01, 0.016])  # one growing delay per failed address
    assert fake.calls["RegisterWorker"] == 1


def test_gives_up_after_the_retry_budget_with_the_grpc_code() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with TrainingOrchestrator(f"127.0.0.1:{closed_port}", retry_timeout_s=0.3,
                              backoff=Backoff(initial_s=0.05, max_s=0.1)) as orch:
        with pytest.raises(StrataError) as caught:
            orch.register_worker("nobody-home", heartbeats=False)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.method == "RegisterWorker"


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    script = PYTHON_DIR / "scripts" / "generate_stubs.py"
    current = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert current.returncode == 0, current.stdout + current.stderr
    # The check can fail: a contract with one more field is reported stale.
    changed = tmp_path / "coordinator.proto"
    text = (PYTHON_DIR.parent / "proto" / "coordinator.proto").read_text()
    changed.write_text(text.replace("message SampleRange {\n", "message SampleRange {\n  int64 extra = 99;\n", 1))
    stale = subprocess.run([sys.executable, str(script), "--check", "--proto", str(changed)], capture_output=True,
                           text=True)
    assert stale.returncode == 1
    assert "stale" in stale.stderr and "generate" in stale.stderr
