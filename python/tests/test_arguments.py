"""Bad arguments are rejected before any RPC, with InvalidArgument naming the argument; plus the
pure helpers (backoff, command parsing, address checks)."""
from __future__ import annotations

import grpc
import pytest

from fake_coordinator import FakeCoordinator, registered
from strata_client import Backoff, InvalidArgument, StrataError, TrainingOrchestrator, parse_command
from strata_client._proto import coordinator_pb2 as pb
from strata_client.models import DataPosition


@pytest.fixture
def orch(fake: FakeCoordinator):
    fake.handlers["RegisterWorker"] = registered()
    orchestrator = TrainingOrchestrator(fake.address, retry_timeout_s=0)
    orchestrator.register_worker("w-0", heartbeats=False)
    calls = fake.total_calls()
    assert calls == 1
    yield orchestrator
    orchestrator.close(deregister=False)


BAD_CALLS = [
    ("worker_id", lambda o: o.register_worker("bad id!")),
    ("worker_id", lambda o: o.register_worker("")),
    ("worker_id", lambda o: o.register_worker("x" * 129)),
    ("worker_id", lambda o: o.register_worker(7)),
    ("port", lambda o: o.register_worker("w-0", port=70000)),
    ("gpu_count", lambda o: o.register_worker("w-0", gpu_count=-1)),
    ("memory_bytes", lambda o: o.register_worker("w-0", memory_bytes=1.5)),
    ("metadata", lambda o: o.register_worker("w-0", metadata={"k": 3})),
    ("metadata", lambda o: o.register_worker("w-0", metadata={f"k{i}": "v" for i in range(65)})),
    ("hostname", lambda o: o.register_worker("w-0", hostname="a\x00b")),
    ("heartbeat_interval_s", lambda o: o.register_worker("w-0", heartbeat_interval_s=0)),
    ("resources", lambda o: o.register_worker("w-0", resources="yes")),
    ("state", lambda o: o.set_status("sleeping")),
    ("state", lambda o: o.set_status("unknown")),
    ("step", lambda o: o.set_status(step=-1)),
    ("epoch", lambda o: o.set_status(epoch=True)),
    ("barrier_id", lambda o: o.barrier("no spaces")),
    ("timeout_s", lambda o: o.barrier("b", timeout_s=0)),
    ("timeout_s", lambda o: o.barrier("b", timeout_s=float("nan"))),
    ("timeout_s", lambda o: o.barrier("b", timeout_s=100_000)),
    ("step", lambda o: o.barrier("b", step=-3)),
    ("include_participant_ids", lambda o: o.barrier("b", include_participant_ids=1)),
    ("checkpoint_id", lambda o: o.notify_checkpoint("", step=1, epoch=0, storage_path="/x")),
    ("step", lambda o: o.notify_checkpoint("c", step=2**53, epoch=0, storage_path="/x")),
    ("storage_path", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path=None)),
    ("type", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path="/x", type=9)),
    ("world_size", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path="/x", world_size=0)),
    ("rank", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path="/x", world_size=2)),
    ("rank", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path="/x", rank=2, world_size=2)),
    ("rank", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path="/x", rank=-1, world_size=2)),
    ("world_size", lambda o: o.notify_checkpoint("c", step=1, epoch=0, storage_path="/x", rank=0)),
    ("job_id", lambda o: o.latest_checkpoint(job_id="a/b")),
    ("world_size", lambda o: o.wait_for_world_size(0)),
    ("dataset_id", lambda o: o.datasets.register_dataset("d s", 10, 1)),
    ("total_samples", lambda o: o.datasets.register_dataset("ds", 0, 1)),
    ("shard_size", lambda o: o.datasets.register_dataset("ds", 10, 0)),
    ("seed", lambda o: o.datasets.register_dataset("ds", 10, 1, seed=2**64)),
    ("shuffle", lambda o: o.datasets.register_dataset("ds", 10, 1, shuffle="no")),
    ("epoch", lambda o: o.datasets.get_shards("ds", -1)),
    ("page_size", lambda o: o.datasets.get_shards("ds", 0, page_size=200_000)),
    ("consumed", lambda o: o.datasets.report_progress("ds", 0, 1, [])),
    ("consumed", lambda o: o.datasets.report_progress("ds", 0, 1, [(5, 5)])),
    ("consumed[0].start", lambda o: o.datasets.report_progress("ds", 0, 1, [(-1, 5)])),
    ("report_every", lambda o: o.datasets.samples("ds", 0, report_every=0)),
    ("wait_timeout_s", lambda o: o.datasets.samples("ds", 0, wait_timeout_s=-1)),
    ("position", lambda o: o.datasets.restore_position(b"bytes")),
    ("n", lambda o: o.datasets.samples("ds", 0).take(0)),
]


@pytest.mark.parametrize("field,call", BAD_CALLS, ids=[f"{i}-{f}" for i, (f, _) in enumerate(BAD_CALLS)])
def test_bad_arguments_are_rejected_before_any_rpc(orch, fake: FakeCoordinator, field: str, call) -> None:
    with pytest.raises(InvalidArgument) as caught:
        call(orch)
    assert caught.value.field == field
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field.split("[")[0].split(".")[0] in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert fake.total_calls() == 1, f"an RPC was sent: {dict(fake.calls)}"


@pytest.mark.parametrize("kwargs,field", [
    ({"coordinator": "http://127.0.0.1:50051"}, "coordinator"),
    ({"coordinator": "127.0.0.1"}, "coordinator"),
    ({"coordinator": "127.0.0.1:0"}, "coordinator"),
    ({"coordinator": []}, "coordinator"),
    ({"coordinator": "127.0.0.1:1", "token": ""}, "token"),
    ({"coordinator": "127.0.0.1:1", "token": "a b"}, "token"),
    ({"coordinator": "127.0.0.1:1", "tls_server_name": "x"}, "tls"),
    ({"coordinator": "127.0.0.1:1", "root_certificates": "/nonexistent.pem", "tls": True}, "root_certificates"),
    ({"coordinator": "127.0.0.1:1", "call_timeout_s": 0}, "call_timeout_s"),
    ({"coordinator": "127.0.0.1:1", "job_id": "bad job"}, "job_id"),
])
def test_bad_construction_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        TrainingOrchestrator(**kwargs)
    assert caught.value.field == field


def test_calls_before_registration_fail_without_rpc(fake: FakeCoordinator) -> None:
    with TrainingOrchestrator(fake.address) as orch:
        with pytest.raises(StrataError) as caught:
            orch.barrier("b")
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "register_worker" in caught.value.details
    assert fake.total_calls() == 0


def test_server_side_invalid_argument_carries_code_and_field(fake: FakeCoordinator) -> None:
    def reject(request, context):
        context.set_trailing_metadata((("strata-field", "hostname"),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "hostname: too long")

    fake.handlers["RegisterWorker"] = reject
    with TrainingOrchestrator(fake.address) as orch:
        with pytest.raises(InvalidArgument) as caught:
            orch.register_worker("w-1", heartbeats=False)
    assert caught.value.field == "hostname"
    assert caught.value.method == "RegisterWorker"
    assert str(caught.value) == "RegisterWorker: INVALID_ARGUMENT: hostname: too long"


def test_backoff_grows_is_capped_and_jittered() -> None:
    low = Backoff(initial_s=0.1, multiplier=2, max_s=1.0, jitter=0.2, random=lambda: 0.0)
    high = Backoff(initial_s=0.1, multiplier=2, max_s=1.0, jitter=0.2, random=lambda: 0.999999)
    assert [round(low.delay_s(a), 3) for a in range(6)] == [0.08, 0.16, 0.32, 0.64, 0.8, 0.8]
    assert [round(high.delay_s(a), 3) for a in range(6)] == [0.12, 0.24, 0.48, 0.96, 1.2, 1.2]
    spread = {round(Backoff().delay_s(3), 6) for _ in range(50)}
    assert len(spread) > 10  # real jitter: no two workers retry in lockstep
    assert all(0.1 * 1.6**3 * 0.8 <= d <= 0.1 * 1.6**3 * 1.2 for d in spread)
    assert Backoff().delay_s(10_000) <= 5.0 * 1.2
    with pytest.raises(InvalidArgument):
        Backoff(multiplier=0.5)
    with pytest.raises(InvalidArgument):
        Backoff(jitter=1.0)


def test_pending_commands_are_parsed() -> None:
    task = parse_command('start_task:{"task_id":"task_1a2b3c4d","name":"resnet","type":"train",'
                         '"dataset_id":"imagenet","worker_ids":["w-0","w-1"],"config":{"total_steps":1000}}')
    assert task.name == "start_task"
    assert task.args["task_id"] == "task_1a2b3c4d"
    assert task.args["config"] == {"total_steps": 1000}
    assert parse_command("membership_changed").name == "membership_changed"
    assert parse_command("membership_changed").args == {}
    assert parse_command("stop_task:{\"task_id\":\"t\"}").args == {"task_id": "t"}
    broken = parse_command("checkpoint:{not json")
    assert broken.name == "checkpoint" and broken.args == {}
    assert parse_command("future_thing:[1,2]").args == {}


def test_data_position_round_trips_through_bytes() -> None:
    message = pb.EpochPosition(dataset_id="ds", epoch=2, total_shards=10, complete_shards=bytes([0b00000101, 0b10]),
                               partial_shards=[pb.ShardConsumed(shard_id=3, consumed=[pb.SampleRange(start=30, end=34)])],
                               consumed_samples=24)
    position = DataPosition.from_bytes(DataPosition.from_proto(message).to_bytes())
    assert (position.dataset_id, position.epoch, position.total_shards, position.consumed_samples) == ("ds", 2, 10, 24)
    assert [position.shard_complete(i) for i in range(10)] == [True, False, True] + [False] * 6 + [True]
    assert position.complete_shard_count == 3 and not position.epoch_complete
    assert position.partial_shards == {3: ((30, 34),)}
