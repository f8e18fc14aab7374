"""The heartbeat thread gives up a stream whose reader never wakes, even after `cancel()`.

Seen in the leader-failover test: a stream opened while a follower's servers were being replaced by
the leader's stalled, and grpcio did not end the reading loop when the call was cancelled; the
thread that waited on it held the heartbeats until the worker was declared dead. Here a stub whose
first call blocks forever stands in for that stall.
"""
from __future__ import annotations

import threading
import time
from typing import Iterator, Optional

from strata_client._proto import coordinator_pb2 as pb
from strata_client.connection import Connection
from strata_client.heartbeats import Heartbeater
from strata_client.testing import wait_until

INTERVAL_S = 0.3  # silence limit: max(1 s, 2 intervals) = 1 s


class StuckCall:
    """A stream call whose iteration never returns, cancelled or not."""

    def __init__(self, release: threading.Event) -> None:
        self.cancelled = threading.Event()
        self._release = release

    def cancel(self) -> bool:
        self.cancelled.set()
        return True

    def __iter__(self) -> Iterator[pb.HeartbeatResponse]:
        self._release.wait()
        return iter(())


class AnsweringCall:
    """A stream call that answers every request."""

    def __init__(self, requests: Iterator[pb.HeartbeatRequest]) -> None:
        self._requests = requests

    def cancel(self) -> bool:
        return True

    def __iter__(self) -> Iterator[pb.HeartbeatResponse]:
        for _ in self._requests:
            yield pb.HeartbeatResponse(acknowledged=True)


class FakeStub:
    def __init__(self, release: threading.Event) -> None:
        self.addresses: list[str] = []
        self.stuck: Optional[StuckCall] = None
        self._release = release

    def StreamHeartbeats(self, requests: Iterator[pb.HeartbeatRequest], metadata: object = None) -> object:
        if self.stuck is None:
            self.stuck = StuckCall(self._release)
            return self.stuck
        return AnsweringCall(requests)


def test_a_stream_that_never_wakes_is_given_up_and_the_next_address_answers() -> None:
    release = threading.Event()
    connection = Connection(["127.0.0.1:1", "127.0.0.1:2"])
    stub = FakeStub(release)

    def current() -> tuple[str, FakeStub]:
        stub.addresses.append(connection.address)
        return connection.address, stub

    connection.stub = current  # type: ignore[method-assign, assignment]
    beats = Heartbeater(connection, INTERVAL_S, pb.HeartbeatRequest, lambda response: None, lambda: None)
    started = time.monotonic()
    beats.start()
    try:
        wait_until(lambda: beats.acknowledged >= 2, 10, message="heartbeats answered on the next stream")
        answered_after = time.monotonic() - started
        assert stub.stuck is not None and stub.stuck.cancelled.is_set()
        # Given up after the silence limit, then at once on the next address: no backoff on top.
        assert 0.9 <= answered_after < 3.0, answered_after
        assert stub.addresses[:2] == ["127.0.0.1:1", "127.0.0.1:2"]
        assert beats.last_error is None
    finally:
        beats.stop()
        release.set()
        connection.close()
