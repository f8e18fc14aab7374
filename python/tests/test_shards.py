"""Shard assignment, exactly-once progress (two clients, one killed mid-epoch), paging, and data
positions."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from fake_coordinator import FakeCoordinator, registered
from strata_client import DataPosition, StrataError, TrainingOrchestrator
from strata_client._proto import coordinator_pb2 as pb
from strata_client.testing import CoordinatorProcess, wait_until

HELPER = Path(__file__).resolve().parent / "helpers" / "sample_worker.py"


def test_shards_cover_an_epoch_exactly_once_when_a_client_is_killed_mid_epoch(
        coordinator: CoordinatorProcess, python: str, child_env: dict) -> None:
    total = 2000
    with TrainingOrchestrator(coordinator.grpc) as b:
        b.register_worker("survivor")
        assert b.datasets.register_dataset("ds", total_samples=total, shard_size=50, shuffle=True, seed=7) == 40
        victim = subprocess.Popen(
            [python, str(HELPER), "--target", coordinator.grpc, "--worker-id", "victim", "--dataset", "ds",
             "--world", "2", "--delay-ms", "3", "--report-every", "10"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env)
        try:
            b.wait_for_world_size(2, timeout_s=30)
            seen_by_b: list[int] = []
            errors: list[BaseException] = []

            def read() -> None:
                try:
                    samples = b.datasets.samples("ds", 0, report_every=10, wait_timeout_s=60)
                    for index in samples:
                        seen_by_b.append(index)
                        time.sleep(0.001)
                    read.refetches = samples.refetches  # type: ignore[attr-defined]
                except BaseException as error:  # surfaced below
                    errors.append(error)

            reader = threading.Thread(target=read)
            reader.start()
            reports = []
            assert victim.stdout is not None
            for line in victim.stdout:
                event = json.loads(line)
                if event["event"] == "reported":
                    reports.append(event)
                    if len(reports) == 8:  # two into its second shard (6 reports per shard)
                        break
            victim.send_signal(signal.SIGKILL)  # kill -9, mid-epoch
            victim.wait(10)
            reader.join(60)
            assert not reader.is_alive(), "the survivor did not finish the epoch"
            assert errors == []
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait()
        consumed_by_victim = [i for r in reports for start, end in r["ranges"] for i in range(start, end)]
        assert 0 < len(consumed_by_victim) < total / 2
        assert len(seen_by_b) == len(set(seen_by_b)), "the survivor was served a sample twice"
        assert set(seen_by_b).isdisjoint(consumed_by_victim), "a sample the victim reported was served again"
        assert sorted(seen_by_b + consumed_by_victim) == list(range(total)), "samples were lost"
        # The survivor took over the rest of a shard the victim had started (pins move on death).
        victim_shards = {r["shard"] for r in reports}
        assert any(50 * s <= i < 50 * (s + 1) for s in victim_shards for i in seen_by_b)
        assert read.refetches >= 1  # type: ignore[attr-defined]
        position = b.datasets.get_position("ds", 0)
        assert position.epoch_complete and position.consumed_samples == total


def test_batches_and_flush_report_exactly_what_was_handed_out(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("w-0", heartbeats=False)
        orch.datasets.register_dataset("ds", total_samples=95, shard_size=10, shuffle=False)
        samples = orch.datasets.samples("ds", 0, report_every=1000)
        first = samples.take(25)
        assert first == list(range(10)) + list(range(10, 20)) + list(range(20, 25))  # shards in order, no shuffle
        # Shards 0 and 1 were finished and 2 was claimed as soon as the batch was consumed; the batch
        # handed out last is not reported until we come back or flush.
        second = samples.take(5)
        assert second == list(range(25, 30))
        assert orch.datasets.get_position("ds", 0).consumed_samples == 25
        samples.flush()
        position = orch.datasets.get_position("ds", 0)
        assert position.consumed_samples == 30
        assert position.complete_shard_count == 3
        # A new iterator (a restarted process) goes on where the reports left off.
        rest = list(orch.datasets.samples("ds", 0))
        assert rest == list(range(30, 95))
        assert orch.datasets.get_position("ds", 0).epoch_complete
        with pytest.raises(StrataError) as caught:
            orch.datasets.report_progress("ds", 0, 99, [(0, 1)])
        assert caught.value.code == grpc.StatusCode.OUT_OF_RANGE


def test_data_position_save_and_restore(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("w-0")
        orch.datasets.register_dataset("ds", total_samples=100, shard_size=10, shuffle=False)
        samples = orch.datasets.samples("ds", 0)
        assert samples.take(34) == list(range(34))
        samples.flush()
        saved = DataPosition.from_bytes(orch.datasets.get_position("ds", 0).to_bytes())  # as in a checkpoint
        assert saved.consumed_samples == 34 and saved.partial_shards == {3: ((30, 34),)}
        assert samples.take(30) == list(range(34, 64))
        samples.flush()
        list(orch.datasets.samples("ds", 1))  # progress of a later epoch is forgotten by a restore
        version = orch.membership.version
        result = orch.datasets.restore_position(saved)
        assert result.consumed_samples == 34 and result.forgotten_epochs == (1,)
        assert result.membership_version > version
        # Every live worker is told membership_changed; the iterator asks again and resumes at 34.
        orch.wait_for_membership_change(version, timeout_s=10)
        resumed = samples.take(100)
        # The shard it was reading comes first (it is still this worker's), then the rest.
        assert resumed[:10] == list(range(60, 70))
        assert sorted(resumed) == list(range(34, 100))
        assert orch.datasets.get_position("ds", 1).consumed_samples == 0


def test_assignments_are_paged_until_the_token_is_empty(fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = registered()
    shards = [pb.ShardAssignment(dataset_id="ds", shard_id=i, total_shards=7, start_index=10 * i,
                                 end_index=10 * i + 10, epoch=0) for i in range(7)]
    versions = iter([5, 6, 6, 6, 6])  # membership changes after the first page: start over

    def page(request: pb.ShardRequest, context: grpc.ServicerContext) -> pb.ShardAssignmentList:
        version = next(versions)
        if request.page_token and version == 6 and request.page_token.endswith("@5"):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "page token from membership version 5")
        start = int(request.page_token.split("@")[0]) if request.page_token else 0
        end = min(start + request.page_size, len(shards))
        token = f"{end}@{version}" if end < len(shards) else ""
        return pb.ShardAssignmentList(worker_id=request.worker_id, dataset_id="ds", epoch=0,
                                      membership_version=version, total_shards=7, shards=shards[start:end],
                                      next_page_token=token, assigned_shards=7)

    fake.handlers["GetShardAssignments"] = page
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0", heartbeats=False)
        assignment = orch.datasets.get_assignment("ds", 0, page_size=3)
        orch.close(deregister=False)
    assert [s.shard_id for s in assignment.shards] == list(range(7))
    assert assignment.membership_version == 6
    tokens = [r.page_token for r in fake.requests["GetShardAssignments"]]
    assert tokens == ["", "3@5", "", "3@6", "6@6"]  # the stale token failed, then three fresh pages
    assert all(r.page_size == 3 for r in fake.requests["GetShardAssignments"])


def test_samples_follow_a_restarted_coordinator(start_coordinator, tmp_path: Path) -> None:
    first = start_coordinator("--heartbeat-timeout-ms", "3000")
    with TrainingOrchestrator(first.grpc, retry_timeout_s=30) as orch:
        orch.register_worker("w-0")
        orch.datasets.register_dataset("ds", total_samples=40, shard_size=10, shuffle=False)
        samples = orch.datasets.samples("ds", 0, report_every=1)
        assert samples.take(15) == list(range(15))
        # kill -9 the coordinator; a new one on the same data directory and port takes over.
        first.stop(signal.SIGKILL)
        port = first.grpc.rsplit(":", 1)[1]
        restarted = CoordinatorProcess.start(first.data_dir, "--heartbeat-timeout-ms", "3000",
                                             "--grpc-addr", f"127.0.0.1:{port}")
        try:
            acked = orch.heartbeat_thread.acknowledged
            wait_until(lambda: orch.heartbeat_thread.acknowledged >= acked + 2, 20,
                       message="heartbeats to the restarted coordinator")
            assert orch.heartbeat_thread.reregistrations == 0  # it remembered us
            assert samples.take(100) == list(range(15, 40))
            assert samples.take(1) == []  # coming back reports the last batch; the epoch is over
            assert orch.datasets.get_position("ds", 0).epoch_complete
        finally:
            orch.close()
            assert restarted.stop() == 0


def test_samples_ride_out_being_declared_dead(coordinator: CoordinatorProcess) -> None:
    from strata_client._proto import coordinator_pb2_grpc as pb_grpc

    raw = pb_grpc.CoordinatorStub(grpc.insecure_channel(coordinator.grpc))
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("lazarus")
        orch.datasets.register_dataset("ds", total_samples=200, shard_size=10, shuffle=False)
        samples = orch.datasets.samples("ds", 0, report_every=5)
        seen = samples.take(25)
        samples.flush()
        seen += samples.take(7)  # handed out, not reported when the coordinator forgets us
        raw.DeregisterWorker(pb.WorkerInfo(worker_id="lazarus"), timeout=5)  # as if declared dead
        for index in samples:
            seen.append(index)
        assert orch.heartbeat_thread.reregistrations == 1
        # Nothing reported was served twice; the 7 unreported samples may have been (at least once).
        assert sorted(set(seen)) == list(range(200))
        assert len(seen) - len(set(seen)) <= 7
        assert samples.lost_samples <= 7
        assert orch.datasets.get_position("ds", 0).epoch_complete
