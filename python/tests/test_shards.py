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
        assert samples.claims == 3  # shards 0, 1 and 2, each before its first sample was handed out
        # Coming back consumes the first batch: shards 0 and 1 are finished and reported at once;
        # shard 2's first 5 wait for report_every, and the batch handed out last is not reported
        # until we come back or flush.
        second = samples.take(5)
        assert second == list(range(25, 30))
        assert orch.datasets.get_position("ds", 0).consumed_samples == 20
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


def test_a_shard_is_claimed_before_its_first_sample_so_a_joining_worker_never_gets_it(
        coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as a, TrainingOrchestrator(coordinator.grpc) as b:
        a.register_worker("a")
        a.datasets.register_dataset("ds", total_samples=80, shard_size=10, shuffle=False)
        samples = a.datasets.samples("ds", 0, report_every=1000)
        # Shard 0 and the first sample of shard 1 are handed out; nothing of shard 1 is consumed
        # (let alone reported), but shard 1 is claimed. Without the claim, the plan for two
        # workers gives shard 1 to the joining worker (it does with another dataset below).
        assert samples.take(11) == list(range(11))
        assert samples.claims == 2
        a.datasets.register_dataset("unclaimed", total_samples=80, shard_size=10, shuffle=False)
        b.register_worker("b")
        a.wait_for_world_size(2, timeout_s=10)
        # The coordinator re-plans after a join at most once a second; wait for b's first shards.
        deadline = time.monotonic() + 10
        while not (b_shards := [s.shard_id for s in b.datasets.get_shards("ds", 0)]):
            assert time.monotonic() < deadline, "b was never given shards"
            time.sleep(0.1)
        assert 1 in [s.shard_id for s in b.datasets.get_shards("unclaimed", 0)]  # the plan without claims
        assert 1 not in b_shards and 0 not in b_shards
        seen_by_b: list[int] = []
        reader = threading.Thread(target=lambda: seen_by_b.extend(b.datasets.samples("ds", 0, wait_timeout_s=30)))
        reader.start()
        seen_by_a = list(range(11)) + list(samples)
        reader.join(60)
        assert not reader.is_alive()
        assert samples.lost_samples == 0
        assert set(range(10, 20)) <= set(seen_by_a)  # a finished the shard it had claimed
        assert sorted(seen_by_a + seen_by_b) == list(range(80)), "a sample was lost or read twice"


class ScriptedShards:
    """GetShardAssignments and ReportShardProgress for a fake coordinator: 10-sample shards, the
    plan of each membership version, and the consumed ranges reported (claims consume nothing)."""

    def __init__(self, plans: dict[int, list[int]], total_shards: int) -> None:
        self.plans = plans
        self.total_shards = total_shards
        self.version = min(plans)
        self.consumed: dict[int, set[int]] = {i: set() for i in range(total_shards)}
        self.reports: list[tuple[int, list[tuple[int, int]], int]] = []

    def shard(self, i: int) -> pb.ShardAssignment:
        left = sorted(set(range(10 * i, 10 * i + 10)) - self.consumed[i])
        ranges = [pb.SampleRange(start=j, end=j + 1) for j in left]
        return pb.ShardAssignment(dataset_id="ds", shard_id=i, total_shards=self.total_shards, start_index=10 * i,
                                  end_index=10 * i + 10, epoch=0, remaining_ranges=ranges,
                                  consumed_samples=len(self.consumed[i]))

    def assignments(self, request: pb.ShardRequest, context: grpc.ServicerContext) -> pb.ShardAssignmentList:
        shards = [self.shard(i) for i in self.plans[self.version] if len(self.consumed[i]) < 10]
        return pb.ShardAssignmentList(worker_id=request.worker_id, dataset_id="ds", epoch=0,
                                      membership_version=self.version, total_shards=self.total_shards,
                                      assigned_shards=len(shards), shards=shards)

    def record(self, request: pb.ShardProgress) -> pb.ShardProgressAck:
        self.reports.append((request.shard_id, [(r.start, r.end) for r in request.consumed],
                             request.membership_version))
        for r in request.consumed:
            self.consumed[request.shard_id].update(range(r.start, r.end))
        return pb.ShardProgressAck(accepted=True, membership_version=self.version)


def test_a_shard_that_moved_before_its_claim_is_dropped_unread(fake: FakeCoordinator) -> None:
    script = ScriptedShards({1: [0, 1], 2: [1]}, total_shards=2)  # version 2: shard 0 moved away

    def progress(request: pb.ShardProgress, context: grpc.ServicerContext) -> pb.ShardProgressAck:
        if request.shard_id == 0:
            script.version = 2
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "shard 0 belongs to worker w-1")
        return script.record(request)

    fake.handlers["RegisterWorker"] = registered()
    fake.handlers["GetShardAssignments"] = script.assignments
    fake.handlers["ReportShardProgress"] = progress
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0", heartbeats=False)
        samples = orch.datasets.samples("ds", 0, wait_for_epoch=False)
        assert samples.take(4) == [10, 11, 12, 13]  # nothing of shard 0 was handed out
        claims = [(r.shard_id, [(c.start, c.end) for c in r.consumed], r.membership_version)
                  for r in fake.requests["ReportShardProgress"]]
        assert claims == [(0, [(0, 0)], 1), (1, [(10, 10)], 2)]  # shard 0 refused, then shard 1 claimed
        assert samples.take(100) == list(range(14, 20))
        assert samples.take(1) == []
        assert samples.lost_samples == 0 and samples.claims == 1
        assert script.consumed[1] == set(range(10, 20)) and script.consumed[0] == set()
        orch.close(deregister=False)


def test_samples_read_without_claims_from_a_coordinator_that_refuses_them(fake: FakeCoordinator) -> None:
    script = ScriptedShards({1: [0]}, total_shards=1)

    def progress(request: pb.ShardProgress, context: grpc.ServicerContext) -> pb.ShardProgressAck:
        if any(r.start == r.end for r in request.consumed):  # as an older coordinator answers a claim
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "consumed[0]: end must be greater than start")
        return script.record(request)

    fake.handlers["RegisterWorker"] = registered()
    fake.handlers["GetShardAssignments"] = script.assignments
    fake.handlers["ReportShardProgress"] = progress
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0", heartbeats=False)
        samples = orch.datasets.samples("ds", 0, wait_for_epoch=False)
        assert list(samples) == list(range(10))
        assert samples.claims == 0 and samples.samples_reported == 10
        assert fake.calls["ReportShardProgress"] == 2  # the refused claim, then the whole shard
        orch.close(deregister=False)


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


def test_a_large_assignment_is_read_page_by_page_from_a_real_coordinator(coordinator: CoordinatorProcess,
                                                                        tmp_path: Path) -> None:
    shards = 25_000  # the coordinator's default page is 10,000 shards: three pages
    with TrainingOrchestrator(coordinator.grpc, job_id="big") as orch:
        orch.register_worker("w-0")
        assert orch.datasets.register_dataset("big", total_samples=shards, shard_size=1, shuffle=True) == shards
        pages: list[tuple[str, int, str]] = []
        unary = orch.connection.unary

        def counting(method: str, request, **kwargs):  # type: ignore[no-untyped-def]
            response = unary(method, request, **kwargs)
            if method == "GetShardAssignments":
                pages.append((request.page_token, len(response.shards), response.next_page_token))
            return response

        orch.connection.unary = counting  # type: ignore[method-assign]
        assignment = orch.datasets.get_assignment("big", 0)
        assert [(bool(token), n, bool(next_token)) for token, n, next_token in pages] == [
            (False, 10_000, True), (True, 10_000, True), (True, 5_000, False)]
        assert len(assignment.shards) == shards
        assert sorted(s.shard_id for s in assignment.shards) == list(range(shards))
        assert [s.shard_id for s in assignment.shards] != list(range(shards))  # the shuffled reading order
        # The iterator reads through the same pages; its first samples follow the reading order.
        samples = orch.datasets.samples("big", 0, report_every=1)
        assert samples.take(3) == [assignment.shards[i].start_index for i in range(3)]
        samples.flush()
        # Recovery lists at most 10,000 shards and says so; paging gives the rest (minus the
        # three shards consumed above).
        orch.notify_checkpoint("c", step=1, epoch=0, storage_path=str(tmp_path / "c"), size_bytes=1,
                               rank=0, world_size=1)
        recovery = orch.latest_checkpoint()
        assert recovery is not None and recovery.shard_assignments_truncated
        assert len(recovery.shard_assignments) == 10_000
        assert len(orch.datasets.get_shards("big", 0)) == shards - 3


def test_samples_cross_page_boundaries(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("w-0")
        orch.datasets.register_dataset("ds", total_samples=50, shard_size=5, shuffle=True, seed=3)
        requests = []
        unary = orch.connection.unary

        def counting(method: str, request, **kwargs):  # type: ignore[no-untyped-def]
            if method == "GetShardAssignments":
                requests.append(request.page_size)
            return unary(method, request, **kwargs)

        orch.connection.unary = counting  # type: ignore[method-assign]
        seen = list(orch.datasets.samples("ds", 0, page_size=4))
        assert sorted(seen) == list(range(50))
        assert len(requests) >= 3 and set(requests) == {4}  # 10 shards in pages of 4
        assert orch.datasets.get_position("ds", 0).epoch_complete


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
