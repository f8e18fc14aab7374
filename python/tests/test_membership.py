"""Registration, the heartbeat thread, membership changes and pending commands, against a real
coordinator process (and the fake one for scripted commands)."""
from __future__ import annotations

import json
import threading
import time

import grpc
import pytest

from conftest import HEARTBEAT_TIMEOUT_MS, metric
from fake_coordinator import FakeCoordinator, registered
from strata_client import Command, StrataError, TrainingOrchestrator, WorkerState
from strata_client._proto import coordinator_pb2 as pb
from strata_client._proto import coordinator_pb2_grpc as pb_grpc
from strata_client.testing import CoordinatorProcess, wait_until


def log_lines(coordinator: CoordinatorProcess) -> list[dict]:
    return [json.loads(line) for line in coordinator.log().splitlines() if line.startswith("{")]


def test_register_returns_rank_and_world_size(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as a, TrainingOrchestrator(coordinator.grpc) as b:
        first = a.register_worker("w-a", gpu_count=2, metadata={"zone": "a"})
        second = b.register_worker("w-b")
        assert (first.worker_id, first.rank, first.world_size) == ("w-a", 0, 1)
        assert (second.rank, second.world_size) == (1, 2)
        assert first.config == {"zone": "a"}
        assert first.heartbeat_interval_ms == HEARTBEAT_TIMEOUT_MS // 3
        assert second.membership_version > first.membership_version
        again = a.register_worker("w-a", gpu_count=2, metadata={"zone": "a"})
        assert again.rank == 0  # idempotent per worker id
        # w-a learns about w-b from its heartbeats.
        assert a.wait_for_world_size(2, timeout_s=10).world_size == 2
        assert (a.rank, b.rank) == (0, 1)


def test_heartbeats_keep_a_worker_alive_across_three_timeouts(coordinator: CoordinatorProcess) -> None:
    raw = pb_grpc.CoordinatorStub(grpc.insecure_channel(coordinator.grpc))
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("alive")
        # A worker that never heartbeats, as a control: the timeout is real.
        raw.RegisterWorker(pb.WorkerInfo(worker_id="silent"), timeout=5)
        orch.set_status(WorkerState.TRAINING, step=7, epoch=1, task="train", send_now=True)
        start = time.monotonic()
        changes: list[Command] = []
        orch.add_command_listener(changes.append)
        while time.monotonic() - start < 3 * HEARTBEAT_TIMEOUT_MS / 1000 + 0.6:  # three timeouts and some
            time.sleep(0.1)
        assert orch.world_size == 1, "the silent worker should have been declared dead"
        assert any(c.name == "membership_changed" for c in changes)
        # Still a live member: calls that require one succeed, and no re-registration happened.
        assert orch.barrier("alone", timeout_s=5).participants == 1
        assert orch.heartbeat_thread.reregistrations == 0
        assert orch.heartbeat_thread.streaming
        assert orch.heartbeat_thread.acknowledged >= 9
        assert metric(coordinator, 'strata_heartbeats_total{transport="stream"}') >= 9
    logs = log_lines(coordinator)
    dead = [line["workerId"] for line in logs if line.get("msg") == "worker declared dead"]
    assert dead == ["silent"]
    states = [(line["from"], line["to"]) for line in logs
              if line.get("msg") == "worker state changed" and line.get("workerId") == "alive"]
    assert ("idle", "training") in states or ("initializing", "training") in states


def test_a_worker_declared_dead_registers_again_and_is_told(coordinator: CoordinatorProcess) -> None:
    raw = pb_grpc.CoordinatorStub(grpc.insecure_channel(coordinator.grpc))
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("phoenix")
        seen: list[Command] = []
        orch.add_command_listener(seen.append)
        raw.DeregisterWorker(pb.WorkerInfo(worker_id="phoenix"), timeout=5)  # as if declared dead
        wait_until(lambda: orch.heartbeat_thread.reregistrations == 1, 10, message="re-registration")
        assert any(c.name == "membership_changed" and c.args.get("reregistered") for c in seen)
        assert orch.barrier("back", timeout_s=5).participants == 1


def test_deregisters_on_exit(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as stays:
        stays.register_worker("stays")
        with TrainingOrchestrator(coordinator.grpc) as leaves:
            leaves.register_worker("leaves")
            stays.wait_for_world_size(2, timeout_s=10)
            version = stays.membership.version
        changed = stays.wait_for_membership_change(version, timeout_s=10)
        assert changed.world_size == 1
    # It left (deregistered); it was not declared dead after missing heartbeats.
    logs = log_lines(coordinator)
    assert [line for line in logs if line.get("msg") == "worker declared dead"] == []
    assert [line["reason"] for line in logs if line.get("msg") == "membership changed"
            and line.get("workerId") == "leaves"] == ["joined", "left"]


def test_commands_and_membership_reach_the_worker(fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = registered(interval_ms=50)
    fake.handlers["DeregisterWorker"] = lambda request, context: pb.WorkerConfig(assigned_id=request.worker_id)
    script = iter([
        pb.HeartbeatResponse(acknowledged=True, membership_version=1, rank=0, world_size=1),
        pb.HeartbeatResponse(acknowledged=False),  # rate-limited: ignored
        pb.HeartbeatResponse(acknowledged=True, membership_version=2, rank=0, world_size=3, pending_commands=[
            "membership_changed", "checkpoint",
            'start_task:{"task_id":"task_1","name":"resnet","worker_ids":["w-0"],"config":{"total_steps":10}}',
            "something_new:{\"x\":1}"]),
    ])
    fake.stream_responses = lambda request: next(script, pb.HeartbeatResponse(acknowledged=True, membership_version=2,
                                                                           rank=0, world_size=3))
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0", resources=False)
        changed = orch.wait_for_membership_change(1, timeout_s=10)
        assert (changed.rank, changed.world_size, changed.version) == (0, 3, 2)
        wait_until(lambda: orch.heartbeat_thread.acknowledged >= 3, 10, message="three heartbeats")
        commands = orch.poll_commands()
        assert [c.name for c in commands] == ["membership_changed", "checkpoint", "start_task", "something_new"]
        assert commands[2].args["config"] == {"total_steps": 10}
        assert orch.poll_commands() == []
        orch.set_status("training", step=5, epoch=2, task="task_1", send_now=True)
        wait_until(lambda: any(r.status.current_step == 5 for r in fake.requests["StreamHeartbeats"]), 10,
                   message="the new status in a heartbeat")
        sent = [r for r in fake.requests["StreamHeartbeats"] if r.status.current_step == 5][0]
        assert (sent.worker_id, sent.status.state, sent.status.current_epoch, sent.status.current_task) == (
            "w-0", pb.WorkerStatus.TRAINING, 2, "task_1")
        assert not sent.HasField("resources")


def test_heartbeats_carry_resource_usage(fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = registered(interval_ms=50)
    fake.handlers["DeregisterWorker"] = lambda request, context: pb.WorkerConfig(assigned_id=request.worker_id)
    fake.stream_responses = lambda request: pb.HeartbeatResponse(acknowledged=True, membership_version=1, world_size=1)
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0")
        wait_until(lambda: len(fake.requests["StreamHeartbeats"]) >= 2, 10, message="two heartbeats")
    usage = fake.requests["StreamHeartbeats"][-1].resources
    assert usage.memory_used_bytes > 0
    assert usage.cpu_percent >= 0
    assert fake.requests["RegisterWorker"][0].memory_bytes > 0  # the host's memory, read with psutil
    assert fake.calls["DeregisterWorker"] == 1


def test_falls_back_to_unary_heartbeats_without_streams(fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = registered(interval_ms=50)
    fake.handlers["Heartbeat"] = lambda request, context: pb.HeartbeatResponse(acknowledged=True, membership_version=1)
    with TrainingOrchestrator(fake.address) as orch:
        orch.register_worker("w-0", resources=False)
        wait_until(lambda: fake.calls["Heartbeat"] >= 3, 10, message="unary heartbeats")
        assert not orch.heartbeat_thread.streaming
        orch.close(deregister=False)


def test_a_heartbeat_stream_that_stops_answering_is_opened_again(fake: FakeCoordinator) -> None:
    fake.handlers["RegisterWorker"] = registered(interval_ms=100)
    answered = threading.Event()
    release = threading.Event()
    streams_seen: list[int] = []

    def respond(request: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        streams_seen.append(fake.calls["StreamHeartbeats"])
        if fake.calls["StreamHeartbeats"] == 1:
            release.wait(30)  # the first stream never answers (a hung coordinator)
        else:
            answered.set()
        return pb.HeartbeatResponse(acknowledged=True, membership_version=1, rank=0, world_size=1)

    fake.stream_responses = respond
    try:
        with TrainingOrchestrator(fake.address) as orch:
            orch.register_worker("w-0", resources=False)
            started = time.monotonic()
            assert answered.wait(10), "the heartbeat stream was not opened again"
            # Given up after two intervals of silence (at least 1 s), not sooner.
            assert time.monotonic() - started >= 0.9
            wait_until(lambda: orch.heartbeat_thread.acknowledged >= 2, 10, message="heartbeats answered again")
            assert orch.heartbeat_thread.streaming and fake.calls["StreamHeartbeats"] == 2
            orch.close(deregister=False)
    finally:
        release.set()


def test_not_registered_errors_carry_the_grpc_code(coordinator: CoordinatorProcess) -> None:
    with TrainingOrchestrator(coordinator.grpc) as orch:
        orch.register_worker("w-x", heartbeats=False)
        with pytest.raises(StrataError) as caught:
            orch.datasets.get_shards("no-such-dataset", 0)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert caught.value.method == "GetShardAssignments"
        assert "no-such-dataset" in caught.value.details
