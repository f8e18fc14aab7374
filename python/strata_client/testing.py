"""Runs a real coordinator process for tests and examples (`node packages/coordinator/dist/bin.js`).

    with CoordinatorProcess.start(data_dir, "--heartbeat-timeout-ms", "1000") as coordinator:
        orchestrator = TrainingOrchestrator(coordinator.grpc)

The coordinator binds port 0 for gRPC and HTTP and prints one JSON line on stdout
(`{"msg":"listening","grpc":...,"http":...}`); we wait for it. Its JSON logs (stderr) are kept in
a file in the data directory, `coordinator.log`, for failure messages.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Callable, Optional, Union

__all__ = ["CoordinatorProcess", "coordinator_bin", "wait_until"]

REPO = Path(__file__).resolve().parent.parent.parent


def coordinator_bin() -> Path:
    """The coordinator's built CLI: `$STRATA_COORDINATOR_BIN`, else this repository's
    `packages/coordinator/dist/bin.js` (built by `pnpm build`)."""
    return Path(os.environ.get("STRATA_COORDINATOR_BIN", REPO / "packages" / "coordinator" / "dist" / "bin.js"))


class CoordinatorProcess:
    """A coordinator child process on 127.0.0.1 (ports chosen by the OS)."""

    def __init__(self, process: subprocess.Popen, grpc: str, http: str, data_dir: Path, log_path: Path,
                 log_file: IO[bytes]) -> None:
        self.process = process
        self.grpc = grpc
        self.http = http
        self.data_dir = data_dir
        self.log_path = log_path
        self._log_file = log_file
        #: Set once stop() was asked to kill it (its exit code is then not 0 on purpose).
        self.killed = False

    @staticmethod
    def start(data_dir: Union[str, os.PathLike], *args: str, env: Optional[dict[str, str]] = None,
              timeout_s: float = 20.0) -> "CoordinatorProcess":
        """Starts the coordinator with `--data-dir data_dir` plus `args` and waits (at most
        `timeout_s` seconds) for its listening line. Raises RuntimeError with its log otherwise."""
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH: install Node.js 20.19 or newer")
        binary = coordinator_bin()
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: build the coordinator first (pnpm build)")
        data = Path(data_dir)
        data.mkdir(parents=True, exist_ok=True)
        log_path = data / "coordinator.log"
        log_file = open(log_path, "ab")
        command = [node, str(binary), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                   "--data-dir", str(data), *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "STRATA_LOG_LEVEL": "info", **(env or {})})
        found: dict[str, str] = {}
        done = threading.Event()

        def read_stdout() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(line, dict) and line.get("msg") == "listening" and not found:
                    found.update(grpc=line["grpc"], http=line["http"])
                    done.set()
            done.set()

        threading.Thread(target=read_stdout, daemon=True, name="coordinator-stdout").start()
        done.wait(timeout_s)
        if not found:
            process.kill()
            process.wait()
            log_file.close()
            raise RuntimeError(f"the coordinator did not start within {timeout_s} s "
                               f"(exit code {process.returncode}); its log:\n{log_path.read_text()[-4000:]}")
        return CoordinatorProcess(process, found["grpc"], found["http"], data, log_path, log_file)

    def log(self) -> str:
        """Everything the coordinator logged so far (JSON lines)."""
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> Optional[int]:
        """Sends `sig` and waits for the exit; returns the exit code (negative: killed by a
        signal). Kills it if it has not exited after `timeout_s`. Idempotent."""
        if self.process.poll() is None:
            self.killed = self.killed or sig == signal.SIGKILL
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode

    def __enter__(self) -> "CoordinatorProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.02, message: str = "condition") -> None:
    """Polls `predicate()` until it is true; raises TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not reached within {timeout_s} s")
        time.sleep(interval_s)
