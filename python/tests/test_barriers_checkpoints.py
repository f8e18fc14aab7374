"""Barriers (a dead member, a timeout, never blocking other calls) and checkpoint records."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from conftest import metric
from strata_client import CheckpointType, StrataError, TrainingOrchestrator
from strata_client.testing import CoordinatorProcess, wait_until

IDLE_WORKER = """
import sys, time
from strata_client import TrainingOrchestrator
orch = TrainingOrchestrator(sys.argv[1])
orch.register_worker(sys.argv[2])
print("registered", flush=True)
time.sleep(600)
"""


def start_idle_worker(python: str, env: dict, target: str, worker_id: str) -> subprocess.Popen:
    child = subprocess.Popen([python, "-c", IDLE_WORKER, target, worker_id], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None and child.stdout.readline().strip() == "registered"
    return child


def test_barrier_with_a_dead_member_aborts_and_a_retry_releases_the_survivors(
        coordinator: CoordinatorProcess, python: str, child_env: dict) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("survivor")
        doomed = start_idle_worker(python, child_env, coordinator.grpc, "doomed")
        try:
            orch.wait_for_world_size(2, timeout_s=10)
            outcome: list[object] = []
            waiter = threading.Thread(target=lambda: outcome.append(_catch(lambda: orch.barrier("sync", timeout_s=30))))
            waiter.start()
            wait_until(lambda: metric(coordinator, "strata_barrier_waiters") == 1, 10, message="the survivor waiting")
            doomed.send_signal(signal.SIGKILL)
            waiter.join(20)
            assert not waiter.is_alive()
        finally:
            doomed.kill()
            doomed.wait()
        error = outcome[0]
        assert isinstance(error, StrataError), error
        assert error.code == grpc.StatusCode.ABORTED
        assert "doomed" in error.details
        # The survivor was waiting for longer than a heartbeat timeout and is still a member.
        assert orch.heartbeat_thread.reregistrations == 0
        again = orch.barrier("sync", timeout_s=10, include_participant_ids=True)
        assert (again.released, again.participants, again.participant_ids) == (True, 1, ("survivor",))


def _catch(call):
    try:
        return call()
    except StrataError as error:
        return error


def test_barrier_timeout_does_not_block_heartbeats_or_other_calls(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch, TrainingOrchestrator(coordinator.grpc) as absent:
        orch.register_worker("waiting")
        absent.register_worker("absent")  # alive (heartbeating) but never arrives
        orch.wait_for_world_size(2, timeout_s=10)
        outcome: list[object] = []
        started = time.monotonic()
        waiter = threading.Thread(target=lambda: outcome.append(_catch(lambda: orch.barrier("late", timeout_s=2.5))))
        waiter.start()
        acked = orch.heartbeat_thread.acknowledged
        wait_until(lambda: orch.heartbeat_thread.acknowledged >= acked + 3, 10, message="heartbeats during a barrier")
        assert orch.latest_checkpoint() is None  # another call on the same client, answered meanwhile
        assert waiter.is_alive()
        waiter.join(20)
        error = outcome[0]
        assert isinstance(error, StrataError) and error.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started >= 2.5
        assert orch.heartbeat_thread.reregistrations == 0 and absent.heartbeat_thread.reregistrations == 0


def save_atomically(path: Path, data: bytes) -> None:
    """What a worker does before NotifyCheckpoint: temp file, fsync, rename, fsync the folder."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_checkpoint_notify_and_recovery(coordinator: CoordinatorProcess, tmp_path: Path) -> None:
    with TrainingOrchestrator(coordinator.grpc, job_id="resnet") as a, TrainingOrchestrator(coordinator.grpc) as b:
        a.register_worker("rank-a")
        b.register_worker("rank-b")
        a.wait_for_world_size(2, timeout_s=10)
        assert a.latest_checkpoint() is None
        part_a = tmp_path / "step-10-rank-0.ckpt"
        save_atomically(part_a, b"a" * 1234)
        ack = a.notify_checkpoint("ckpt-10", step=10, epoch=1, storage_path=str(part_a),
                                  metadata={"loss": "0.5"})
        assert (ack.success, ack.complete, ack.ranks_reported, ack.ranks_expected) == (True, False, 1, 2)
        assert a.latest_checkpoint() is None  # incomplete steps are never offered for recovery
        part_b = tmp_path / "step-10-rank-1.ckpt"
        save_atomically(part_b, b"b" * 99)
        ack = b.notify_checkpoint("ckpt-10", step=10, epoch=1, storage_path=str(part_b), job_id="resnet",
                                  type=CheckpointType.FULL)
        assert (ack.complete, ack.ranks_reported, ack.global_step) == (True, 2, 10)
        # Step 20 gets only one part (as if rank-b died before writing): recovery stays at 10.
        a.notify_checkpoint("ckpt-20", step=20, epoch=2, storage_path=str(tmp_path / "step-20"), size_bytes=1)
        recovery = a.latest_checkpoint()
        assert recovery is not None
        assert (recovery.resume_step, recovery.resume_epoch) == (10, 1)
        assert recovery.checkpoint.storage_path == str(part_a)  # this worker's own part
        assert recovery.checkpoint.size_bytes == 1234  # read from the file
        assert recovery.checkpoint.metadata == {"loss": "0.5"}
        assert recovery.checkpoint.job_id == "resnet"
        assert b.latest_checkpoint(job_id="resnet").checkpoint.storage_path == str(part_b)
        assert b.latest_checkpoint() is None  # b's default job is the coordinator's default one
    # A restarted worker (same id, new process) finds the same checkpoint.
    with TrainingOrchestrator(coordinator.grpc, job_id="resnet") as again:
        again.register_worker("rank-a")
        assert again.latest_checkpoint().resume_step == 10


def test_checkpoint_parts_numbered_by_the_job_not_by_coordinator_rank(coordinator: CoordinatorProcess,
                                                                     tmp_path: Path) -> None:
    with TrainingOrchestrator(coordinator.grpc, job_id="ddp") as a, \
            TrainingOrchestrator(coordinator.grpc, job_id="ddp") as b:
        assert a.register_worker("a").rank == 0
        assert b.register_worker("b").rank == 1
        a.wait_for_world_size(2, timeout_s=10)
        # The job numbers its parts its own way (a process group ordered differently): b, the
        # coordinator's rank 1, writes part 0 of 2, a part 1. Rank 0 is taken as given.
        ack = b.notify_checkpoint("s10", step=10, epoch=0, storage_path=str(tmp_path / "p0"), size_bytes=1,
                                  rank=0, world_size=2)
        assert (ack.complete, ack.ranks_reported, ack.ranks_expected) == (False, 1, 2)
        ack = b.notify_checkpoint("s10", step=10, epoch=0, storage_path=str(tmp_path / "p0"), size_bytes=1,
                                  rank=0, world_size=2)
        assert (ack.complete, ack.ranks_reported) == (False, 1)  # the same part again counts once
        ack = a.notify_checkpoint("s10", step=10, epoch=0, storage_path=str(tmp_path / "p1"), size_bytes=1,
                                  rank=1, world_size=2)
        assert (ack.complete, ack.ranks_reported, ack.ranks_expected) == (True, 2, 2)
        # A whole checkpoint written by one process (rank 0 of a data-parallel group saves the
        # model): part 0 of 1, complete at once, whatever the writer's coordinator rank.
        ack = b.notify_checkpoint("s20", step=20, epoch=1, storage_path=str(tmp_path / "whole"), size_bytes=1,
                                  rank=0, world_size=1)
        assert (ack.complete, ack.ranks_reported, ack.ranks_expected) == (True, 1, 1)
        recovery = a.latest_checkpoint()
        assert recovery is not None and recovery.resume_step == 20
        assert recovery.checkpoint.storage_path == str(tmp_path / "whole")
        assert (recovery.checkpoint.rank, recovery.checkpoint.worker_id) == (0, "b")


def test_notify_checkpoint_for_an_unknown_worker_fails_with_its_code(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("w-0", heartbeats=False)
        orch.deregister()
        with pytest.raises(StrataError) as caught:
            orch.notify_checkpoint("c", step=1, epoch=0, storage_path="/x")
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION  # not registered (client side)
