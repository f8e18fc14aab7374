"""Exactly once across a full restart: a job consumes past its checkpoint, every process (and the
coordinator) is killed with kill -9, and the restarted job resumes from the checkpoint's data
position (`DatasetRegistry.resume`)."""
from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from fake_coordinator import FakeCoordinator, registered
from strata_client import DataPosition, InvalidArgument, TrainingOrchestrator
from strata_client._proto import coordinator_pb2 as pb
from strata_client.testing import CoordinatorProcess

HELPER = Path(__file__).resolve().parent / "helpers" / "resume_worker.py"
TOTAL = 400


class Workers:
    """Worker processes whose JSON events arrive on one queue as (worker id, event)."""

    def __init__(self, python: str, env: dict, target: str, ids: list[str], checkpoint: Path, *extra: str) -> None:
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.log: list[tuple[str, dict]] = []
        self.processes = {
            worker: subprocess.Popen(
                [python, str(HELPER), "--target", target, "--worker-id", worker, "--world", str(len(ids)),
                 "--samples", str(TOTAL), "--checkpoint", str(checkpoint), *extra],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for worker in ids
        }
        for worker, process in self.processes.items():
            threading.Thread(target=self._read, args=(worker, process), daemon=True).start()

    def _read(self, worker: str, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.events.put((worker, json.loads(line)))

    def next(self, timeout_s: float = 30) -> tuple[str, dict]:
        item = self.events.get(timeout=timeout_s)
        self.log.append(item)
        return item

    def kill(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(10)

    def wait(self, timeout_s: float = 60) -> None:
        for worker, process in self.processes.items():
            assert process.wait(timeout_s) == 0, f"{worker} failed:\n{process.stderr.read() if process.stderr else ''}"


def test_a_job_killed_whole_resumes_from_its_checkpoint_with_every_sample_once(
        tmp_path: Path, python: str, child_env: dict) -> None:
    checkpoint = tmp_path / "checkpoint.json"
    coordinator = CoordinatorProcess.start(tmp_path / "coordinator", "--heartbeat-timeout-ms", "1200")
    restarted = None
    first = second = None
    try:
        first = Workers(python, child_env, coordinator.grpc, ["r-0", "r-1"], checkpoint,
                        "--checkpoint-after", "8", "--delay-ms", "30")
        trained_before: list[int] = []  # by each worker before its part of the checkpoint
        reported_after: dict[str, list[int]] = {"r-0": [], "r-1": []}  # on record, after the checkpoint
        checkpointed: set[str] = set()
        while not (checkpointed == {"r-0", "r-1"} and all(len(r) >= 10 for r in reported_after.values())):
            worker, event = first.next()
            assert event["event"] != "done", "the job ended before it was killed"
            if event["event"] == "trained" and worker not in checkpointed:
                trained_before += event["samples"]
            elif event["event"] == "reported" and worker in checkpointed:
                reported_after[worker] += event["samples"]
            elif event["event"] == "checkpoint":
                checkpointed.add(worker)
        # Kill everything: both workers and the coordinator, with kill -9.
        first.kill()
        coordinator.stop(signal.SIGKILL)
        assert checkpoint.exists()
        assert len(trained_before) == 2 * 8 * 5

        restarted = CoordinatorProcess.start(coordinator.data_dir, "--heartbeat-timeout-ms", "1200")
        # The whole job restarts (one more worker this time) and resumes from the checkpoint.
        second = Workers(python, child_env, restarted.grpc, ["r-0", "r-1", "r-2"], checkpoint)
        second.wait()
        events = []
        while not second.events.empty():
            events.append(second.next(0))
        resumed = [e for _, e in events if e["event"] == "resumed"]
        assert len(resumed) == 3
        assert all(e["restorer"] == "r-0" and e["participants"] == ["r-0", "r-1", "r-2"] for e in resumed)
        assert all(e["consumed"] == len(trained_before) for e in resumed)
        trained_after = [i for _, e in events if e["event"] == "trained" for i in e["samples"]]
    finally:
        for workers in (first, second):
            if workers is not None:
                workers.kill()
        coordinator.stop()
        if restarted is not None:
            assert restarted.stop() == 0

    # Counting from the checkpoint, every sample was trained on exactly once...
    counts = Counter(trained_before + trained_after)
    assert sorted(counts) == list(range(TOTAL)), "samples were lost"
    assert max(counts.values()) == 1, f"served twice: {[i for i, n in counts.items() if n > 1][:10]}"
    # ...including those the killed run had consumed (and reported) after the checkpoint.
    rolled_back = reported_after["r-0"] + reported_after["r-1"]
    assert rolled_back and set(rolled_back) <= set(trained_after)


def test_resume_restores_on_one_worker_and_checks_its_arguments(fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = registered()
    released = {"strata-resume": ("w-1", "w-0"), "strata-resume:done": ()}
    fake.handlers["WaitBarrier"] = lambda request, context: pb.BarrierResponse(
        released=True, barrier_id=request.barrier_id, participants=2,
        participant_ids=released[request.barrier_id] if request.include_participant_ids else ())
    fake.handlers["RestoreShardProgress"] = lambda request, context: pb.RestoreProgressAck(
        restored=True, consumed_samples=request.position.consumed_samples, membership_version=9)
    position = DataPosition.empty("ds", 2, 10)
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0", heartbeats=False)
        with pytest.raises(InvalidArgument) as caught:
            orch.datasets.resume(position)  # type: ignore[arg-type]
        assert caught.value.field == "positions"
        with pytest.raises(InvalidArgument) as caught:
            orch.datasets.resume([position, position])
        assert caught.value.field == "positions"
        with pytest.raises(InvalidArgument) as caught:
            orch.datasets.resume([position], min_world_size=0)
        assert caught.value.field == "min_world_size"
        assert fake.calls["WaitBarrier"] == 0
        result = orch.datasets.resume([position])
        assert (result.participants, result.restorer) == (("w-0", "w-1"), "w-0")
        assert [r.membership_version for r in result.restored] == [9]
        assert [r.barrier_id for r in fake.requests["WaitBarrier"]] == ["strata-resume", "strata-resume:done"]
        assert fake.requests["RestoreShardProgress"][0].position.epoch == 2
        # Not the first by id: it only meets the others.
        released["strata-resume"] = ("w-0", "a-worker")
        result = orch.datasets.resume([position])
        assert result.restorer == "a-worker" and result.restored == ()
        assert fake.calls["RestoreShardProgress"] == 1
        orch.close(deregister=False)
