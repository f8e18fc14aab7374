"""A single-member etcd for the high-availability tests (Debian's etcd-server), on free loopback
ports with its data in a temp folder; and a cluster of coordinators sharing it (`--state etcd`).
The Python twin of packages/coordinator/test/helpers/etcd-process.ts."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Optional

from strata_client.testing import CoordinatorProcess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdProcess:
    def __init__(self, process: subprocess.Popen, endpoint: str) -> None:
        self.process = process
        self.endpoint = endpoint

    @staticmethod
    def start(folder: Path, timeout_s: float = 15.0) -> "EtcdProcess":
        binary = shutil.which("etcd")
        assert binary, "etcd is not installed: install Debian's etcd-server (bash scripts/install-test-deps.sh)"
        client, peer = free_port(), free_port()
        log = open(folder / "etcd.log", "wb")
        process = subprocess.Popen(
            [binary, "--name", "test", "--data-dir", str(folder / "etcd"),
             "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"test=http://127.0.0.1:{peer}", "--log-level", "error", "--logger", "zap"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        endpoint = f"127.0.0.1:{client}"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://{endpoint}/health", timeout=1) as response:
                    if response.status == 200:
                        return EtcdProcess(process, endpoint)
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError(f"etcd did not become healthy: {(folder / 'etcd.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def role(coordinator: CoordinatorProcess) -> Optional[str]:
    """`leader` or `follower` as the coordinator's /api/status says; None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{coordinator.http}/api/status", timeout=1) as response:
            return json.load(response).get("role")
    except (OSError, ValueError):
        return None


def wait_for_leader(candidates: list[CoordinatorProcess], timeout_s: float = 20.0) -> CoordinatorProcess:
    """The one candidate that says it leads (fails on two)."""
    deadline = time.monotonic() + timeout_s
    while True:
        roles = [role(c) for c in candidates]
        leaders = [c for c, r in zip(candidates, roles) if r == "leader"]
        assert len(leaders) <= 1, f"two coordinators say they lead: {roles}"
        if leaders:
            return leaders[0]
        assert time.monotonic() < deadline, f"no leader within {timeout_s} s: {roles}"
        time.sleep(0.05)
