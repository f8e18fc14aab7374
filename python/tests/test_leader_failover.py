"""Leader following against a real highly available coordinator: etcd and three coordinators
(`--state etcd`), the client given every address, the leader killed with kill -9 mid-barrier."""
from __future__ import annotations

import json
import signal
import threading
import urllib.request
from pathlib import Path

import grpc

from etcd_process import EtcdProcess, role, wait_for_leader
from strata_client import BarrierResult, StrataError, TrainingOrchestrator
from strata_client._proto import coordinator_pb2 as pb
from strata_client._proto import coordinator_pb2_grpc as pb_grpc
from strata_client.testing import CoordinatorProcess, wait_until

TTL_S = 3
HEARTBEAT_TIMEOUT_MS = 5000


def open_arrivals(coordinator: CoordinatorProcess, barrier_id: str) -> list[str]:
    """Who has arrived at the open generation of a barrier, from the coordinator's HTTP API."""
    try:
        with urllib.request.urlopen(f"http://{coordinator.http}/api/barriers/{barrier_id}", timeout=2) as response:
            barrier = json.load(response)["barrier"]
    except OSError:
        return []
    return barrier["arrived_ids"] if barrier["status"] == "waiting" else []


def test_workers_follow_a_new_leader_after_kill_9_of_the_old_one(tmp_path: Path) -> None:
    etcd = EtcdProcess.start(tmp_path)
    coordinators: list[CoordinatorProcess] = []
    try:
        for i in range(3):
            coordinators.append(CoordinatorProcess.start(
                tmp_path / f"c{i}", "--state", "etcd", "--etcd-endpoints", etcd.endpoint,
                "--leader-lease-ttl-s", str(TTL_S), "--heartbeat-timeout-ms", str(HEARTBEAT_TIMEOUT_MS)))
        leader = wait_for_leader(coordinators)
        followers = [c for c in coordinators if c is not leader]
        # a knows one follower only: it reaches every leader through the `strata-leader` hints.
        # b knows every address, the leader first.
        with TrainingOrchestrator(followers[0].grpc, job_id="ha") as a, \
                TrainingOrchestrator([leader.grpc] + [c.grpc for c in followers], job_id="ha") as b:
            assert a.register_worker("a").rank == 0
            assert a.connection.address == leader.grpc
            assert a.connection.addresses == [followers[0].grpc, leader.grpc]
            assert b.register_worker("b").rank == 1
            a.wait_for_world_size(2, timeout_s=10)
            a.datasets.register_dataset("ds", total_samples=200, shard_size=10, shuffle=False)
            a_samples = a.datasets.samples("ds", 0, report_every=5)
            b_samples = b.datasets.samples("ds", 0, report_every=5)
            seen_a, seen_b = a_samples.take(15), b_samples.take(15)
            a_samples.flush()
            b_samples.flush()
            ack = a.notify_checkpoint("s10", step=10, epoch=0, storage_path="/ckpt/s10-0", size_bytes=1,
                                      rank=0, world_size=2)
            assert not ack.complete

            # a waits at a barrier; the leader dies under it.
            outcome: list[object] = []

            def wait() -> None:
                try:
                    outcome.append(a.barrier("mid-failover", timeout_s=60))
                except StrataError as error:
                    outcome.append(error)

            waiter = threading.Thread(target=wait)
            waiter.start()
            wait_until(lambda: open_arrivals(leader, "mid-failover") == ["a"], 10, message="a at the barrier")
            leader.stop(signal.SIGKILL)
            new_leader = wait_for_leader(followers, timeout_s=TTL_S + 10)

            # Every call goes on against the new leader: the barrier a is in (its call is retried
            # there), b's arrival, the checkpoint's second part, the heartbeats and the data.
            released = b.barrier("mid-failover", timeout_s=60)
            waiter.join(30)
            assert not waiter.is_alive()
            assert isinstance(outcome[0], BarrierResult), outcome
            assert outcome[0].participants == released.participants == 2
            ack = b.notify_checkpoint("s10", step=10, epoch=0, storage_path="/ckpt/s10-1", size_bytes=1,
                                      rank=1, world_size=2)
            assert ack.complete and a.latest_checkpoint().resume_step == 10
            assert a.connection.address == b.connection.address == new_leader.grpc
            # Heartbeats reach the new leader (the old one is dead), and nobody was declared dead.
            acked = {orch: orch.heartbeat_thread.acknowledged for orch in (a, b)}
            try:
                wait_until(lambda: all(o.heartbeat_thread.acknowledged > n for o, n in acked.items()), 15,
                           message="heartbeats to the new leader")
            except TimeoutError:
                raise AssertionError("; ".join(
                    f"{o.worker_id}: at {o.connection.address}, sent {o.heartbeat_thread.sent}, acked "
                    f"{o.heartbeat_thread.acknowledged} (was {n}), last error {o.heartbeat_thread.last_error}"
                    for o, n in acked.items())) from None
            assert a.heartbeat_thread.reregistrations == b.heartbeat_thread.reregistrations == 0
            assert (a.rank, b.rank, a.world_size) == (0, 1, 2)
            # The epoch goes on where the reports left off, each sample once.
            reader = threading.Thread(target=lambda: seen_b.extend(b_samples))
            reader.start()
            seen_a += list(a_samples)
            reader.join(30)
            assert sorted(seen_a + seen_b) == list(range(200))
            assert a.datasets.get_position("ds", 0).epoch_complete

        # The remaining follower names the new leader.
        follower = next(c for c in followers if c is not new_leader)
        assert role(follower) == "follower"
        channel = grpc.insecure_channel(follower.grpc)
        try:
            pb_grpc.CoordinatorStub(channel).Heartbeat(pb.HeartbeatRequest(worker_id="a"), timeout=5)
            raise AssertionError("a follower answered a heartbeat")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert ("strata-leader", new_leader.grpc) in tuple(error.trailing_metadata() or ())
        finally:
            channel.close()
    finally:
        for coordinator in coordinators:
            coordinator.stop(signal.SIGKILL)
        etcd.stop()
