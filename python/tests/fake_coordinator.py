"""A scriptable in-process gRPC Coordinator server, for what a real coordinator cannot show on
demand: counting RPCs (none for bad arguments), leader redirects, paging and pending commands.
"""
from __future__ import annotations

import collections
import threading
from concurrent import futures
from typing import Any, Callable, Optional

import grpc

from strata_client._proto import coordinator_pb2 as pb
from strata_client._proto import coordinator_pb2_grpc as pb_grpc

METHODS = [
    "RegisterWorker", "Heartbeat", "DeregisterWorker", "RegisterDataset", "GetDataShard",
    "NotifyCheckpoint", "GetLatestCheckpoint", "WaitBarrier", "GetShardAssignments",
    "ReportShardProgress", "GetShardProgress", "RestoreShardProgress",
]

Handler = Callable[[Any, grpc.ServicerContext], Any]


class FakeCoordinator(pb_grpc.CoordinatorServicer):
    """Counts every call per method; `handlers[method]` answers it (default: UNIMPLEMENTED).

    `stream_responses(request)` answers each StreamHeartbeats message (default: UNIMPLEMENTED).
    """

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.requests: dict[str, list[Any]] = collections.defaultdict(list)
        self.handlers: dict[str, Handler] = {}
        self.stream_responses: Optional[Callable[[pb.HeartbeatRequest], pb.HeartbeatResponse]] = None
        self.lock = threading.Lock()
        self.server: Optional[grpc.Server] = None
        self.address = ""

    def start(self) -> "FakeCoordinator":
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_CoordinatorServicer_to_server(self, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(grace=None)

    def total_calls(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def _dispatch(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        with self.lock:
            self.calls[method] += 1
            self.requests[method].append(request)
            handler = self.handlers.get(method)
        if handler is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not scripted")
        return handler(request, context)

    def StreamHeartbeats(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        with self.lock:
            self.calls["StreamHeartbeats"] += 1
            respond = self.stream_responses
        if respond is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "StreamHeartbeats is not scripted")
        for request in request_iterator:
            with self.lock:
                self.requests["StreamHeartbeats"].append(request)
            yield respond(request)


def _make(method: str) -> Callable[..., Any]:
    def handler(self: FakeCoordinator, request: Any, context: grpc.ServicerContext) -> Any:
        return self._dispatch(method, request, context)

    handler.__name__ = method
    return handler


for _method in METHODS:
    setattr(FakeCoordinator, _method, _make(_method))


def not_leader(leader: Optional[str]) -> Handler:
    """A handler answering like a coordinator that does not lead (proto/README.md)."""

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        if leader:
            context.set_trailing_metadata((("strata-leader", leader),))
            context.abort(grpc.StatusCode.UNAVAILABLE, f"not the leader; the leader is at {leader}")
        context.abort(grpc.StatusCode.UNAVAILABLE, "not the leader; no leader is known")

    return handler


def registered(worker_id: str = "w-0", rank: int = 0, world_size: int = 1, interval_ms: int = 100) -> Handler:
    """A RegisterWorker handler that accepts anyone."""

    def handler(request: pb.WorkerInfo, context: grpc.ServicerContext) -> pb.WorkerConfig:
        return pb.WorkerConfig(assigned_id=request.worker_id or worker_id, rank=rank, world_size=world_size,
                               heartbeat_interval_ms=interval_ms, membership_version=1)

    return handler
