"""The background heartbeat thread: one long-lived StreamHeartbeats stream per worker.

It sends the worker's current state, step, epoch, task and resource usage every interval (or at
once when asked), hands every response to the orchestrator (membership and pending commands), and
keeps going through failures: `NOT_FOUND` (declared dead: register again, then reopen),
`UNAVAILABLE` (follow the leader or try the next address after a backoff), `UNIMPLEMENTED`
(a coordinator without streams: unary Heartbeat calls instead), and a stream that stops answering
(no response for two intervals: it is cancelled and opened again, on the next address when there
are several, as for `UNAVAILABLE`). It never blocks other calls: the
orchestrator's barriers and reports run on the same channel in their own threads.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator, Optional

import grpc

from ._proto import coordinator_pb2 as pb
from ._proto import coordinator_pb2_grpc as pb_grpc
from .connection import Connection
from .errors import StrataError

log = logging.getLogger("strata_client")

#: A stream with a request unanswered for this many heartbeat intervals (at least
#: `MIN_SILENCE_S`) is given up and opened again: a coordinator that stopped answering (hung,
#: or a connection that went quiet without being reset) must not keep the worker without
#: heartbeats until it is declared dead.
SILENT_INTERVALS = 2
MIN_SILENCE_S = 1.0


class _Silence(grpc.RpcError):
    """A stream given up for silence (see `SILENT_INTERVALS`)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "no answer"


class Heartbeater:
    """Runs heartbeats in a daemon thread until `stop()`.

    Args:
        connection: the client's channels.
        interval_s: seconds between heartbeats (the coordinator's `heartbeat_interval_ms`, a third
            of its timeout, unless the caller chose another).
        build_request: makes the next HeartbeatRequest (called in a gRPC thread).
        on_response: receives every acknowledged response (called in the heartbeat thread; an
            exception it raises is logged and the thread goes on).
        reregister: called after `NOT_FOUND` (the coordinator declared us dead or forgot us);
            raises StrataError when registration fails (retried after a backoff).
        use_stream: False to use unary Heartbeat calls from the start.
    """

    def __init__(
        self,
        connection: Connection,
        interval_s: float,
        build_request: Callable[[], pb.HeartbeatRequest],
        on_response: Callable[[pb.HeartbeatResponse], object],
        reregister: Callable[[], None],
        *,
        use_stream: bool = True,
        name: str = "strata-heartbeat",
    ) -> None:
        self._conn = connection
        self._interval_s = interval_s
        self._build_request = build_request
        self._on_response = on_response
        self._reregister = reregister
        self._stream_mode = use_stream
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._call: Optional[grpc.Future] = None
        self._call_lock = threading.Lock()
        self._awaiting_since: Optional[float] = None  # monotonic time of the oldest unanswered request
        self._silent = False  # the current stream was cancelled for not answering
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.sent = 0
        self.acknowledged = 0
        self.reregistrations = 0
        self.last_error: Optional[StrataError] = None

    @property
    def streaming(self) -> bool:
        """Whether heartbeats go over StreamHeartbeats (False after falling back to unary calls)."""
        return self._stream_mode

    def start(self) -> None:
        self._thread.start()

    def send_now(self) -> None:
        """Sends the next heartbeat at once instead of at the end of the interval."""
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ends the stream and waits up to `timeout_s` for the thread. Idempotent."""
        self._stop.set()
        self._wake.set()
        with self._call_lock:
            call = self._call
        if call is not None:
            call.cancel()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        attempt = 0
        redirects = 0
        while not self._stop.is_set():
            try:
                address, stub = self._conn.stub()
            except StrataError:
                return  # the connection was closed
            answered_before = self.acknowledged
            try:
                if self._stream_mode:
                    self._stream(stub)
                else:
                    self._unary(stub)
                # The coordinator only ends a stream cleanly after we did; if it ever does so on
                # its own, reopen after a short pause rather than in a tight loop.
                attempt = 0
                self._stop.wait(self._conn.backoff.delay_s(0))
                continue
            except grpc.RpcError as error:
                if self._stop.is_set():
                    return
                if self.acknowledged > answered_before:
                    attempt = 0  # the stream worked before it failed: back off from the start
                code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
                method = "StreamHeartbeats" if self._stream_mode else "Heartbeat"
                self.last_error = StrataError.from_rpc_error(error, method)
                if self._silent:
                    self._silent = False
                    self.last_error = StrataError(grpc.StatusCode.UNAVAILABLE,
                                                  f"no answer from {address} for {self._silence_s():.1f} s",
                                                  method=method)
                    log.warning("heartbeat stream to %s stopped answering; opening it again", address)
                    self._conn.note_unavailable(error, address)
                    # The silence was the wait: a backoff on top (up to its cap after a failover's
                    # many failures) could outlast the new leader's grace and get us declared dead.
                    continue
                elif code == grpc.StatusCode.NOT_FOUND:
                    log.warning("the coordinator no longer knows this worker (%s); registering again",
                                self.last_error.details)
                    try:
                        self._reregister()
                        self.reregistrations += 1
                        attempt = 0
                        continue
                    except StrataError as failure:
                        self.last_error = failure
                        log.warning("registering again failed: %s", failure)
                elif code == grpc.StatusCode.UNIMPLEMENTED and self._stream_mode:
                    log.info("the coordinator has no StreamHeartbeats; using unary Heartbeat calls")
                    self._stream_mode = False
                    continue
                elif code == grpc.StatusCode.UNAVAILABLE:
                    log.debug("heartbeats to %s failed: %s", address, self.last_error)
                    if self._conn.note_unavailable(error, address) and redirects < 3:
                        redirects += 1
                        continue
                elif code == grpc.StatusCode.CANCELLED and self._stop.is_set():
                    return
                else:
                    log.warning("heartbeats failed: %s", self.last_error)
            except StrataError as failure:  # raised by the response handler's callbacks
                self.last_error = failure
                log.warning("heartbeat handling failed: %s", failure)
            redirects = 0
            delay = self._conn.backoff.delay_s(attempt)
            attempt += 1
            self._stop.wait(delay)

    def _silence_s(self) -> float:
        return max(MIN_SILENCE_S, SILENT_INTERVALS * self._interval_s)

    def _requests(self, done: threading.Event) -> Iterator[pb.HeartbeatRequest]:
        """This stream's requests, one per interval, until the stream is `done` (a generator of an
        ended stream may still be waiting in gRPC's thread: it must not send for the next one)."""
        while not self._stop.is_set() and not done.is_set():
            request = self._build_request()
            self.sent += 1
            if self._awaiting_since is None:
                self._awaiting_since = time.monotonic()
            yield request
            self._wake.wait(self._interval_s)
            self._wake.clear()

    def _stream(self, stub: pb_grpc.CoordinatorStub) -> None:
        """One stream, until it fails, the thread stops, or a request goes unanswered for the
        silence limit. Responses are read on a thread of their own and this one watches: seen
        here, a cancelled call whose transport had stalled never woke its reader, so waiting on
        the reader could hold the heartbeats for good."""
        # The first request goes out as the stream opens: from then on an answer is due (a stream
        # that never gets going counts as silent too).
        self._awaiting_since = time.monotonic()
        self._silent = False
        done = threading.Event()
        ended = threading.Event()
        failure: list[BaseException] = []
        call = stub.StreamHeartbeats(self._requests(done), metadata=self._conn.metadata)
        with self._call_lock:
            self._call = call

        def read() -> None:
            try:
                for response in call:
                    if done.is_set():
                        return  # given up on: a newer stream is in charge
                    self._handle(response)
            except BaseException as error:  # handed to the heartbeat thread, which decides
                failure.append(error)
            finally:
                ended.set()

        threading.Thread(target=read, name=f"{self._thread.name}-reader", daemon=True).start()
        period = min(0.5, self._silence_s() / 4)
        try:
            while not ended.wait(period):
                if self._stop.is_set():
                    call.cancel()
                    return
                since = self._awaiting_since
                if since is not None and time.monotonic() - since >= self._silence_s():
                    self._silent = True
                    call.cancel()
                    ended.wait(1.0)  # usually ends at once with CANCELLED; if not, go on without it
                    raise _Silence()
        finally:
            done.set()
            with self._call_lock:
                self._call = None
        if failure:
            raise failure[0]

    def _unary(self, stub: pb_grpc.CoordinatorStub) -> None:
        while not self._stop.is_set():
            request = self._build_request()
            self.sent += 1
            response = stub.Heartbeat(request, timeout=self._conn.call_timeout_s, metadata=self._conn.metadata)
            self._handle(response)
            self._wake.wait(self._interval_s)
            self._wake.clear()

    def _handle(self, response: pb.HeartbeatResponse) -> None:
        self._awaiting_since = None  # one response per request: the stream answers
        if not response.acknowledged:
            return  # rate-limited: not recorded, nothing to read
        self.acknowledged += 1
        self.last_error = None
        try:
            self._on_response(response)
        except Exception:  # a user's command listener must not stop the heartbeats
            log.exception("handling a heartbeat response failed")
