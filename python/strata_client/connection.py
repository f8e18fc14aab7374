"""Channels to one or more coordinator addresses: auth metadata, TLS, retries and leader following.

A coordinator that does not lead answers every RPC with `UNAVAILABLE` and the trailing metadata
`strata-leader: <host:port>` (proto/README.md). We then switch to that address at once; without a
hint (a coordinator that is down or restarting, no leader known) we move to the next address and
wait a capped, jittered, exponentially growing delay before the next attempt.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Callable, Optional, Sequence, Union

import grpc

from ._proto import coordinator_pb2_grpc as pb_grpc
from .backoff import Backoff
from .errors import InvalidArgument, StrataError, leader_hint
from .validation import check_seconds

log = logging.getLogger("strata_client")

_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$")
#: Codes after which a call is tried again (on the same or another address). Every Strata RPC is
#: safe to repeat: registration, reports, checkpoint parts and barrier arrivals are idempotent.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})
#: Leader hints followed without a pause before backing off (hints can be stale mid-election).
MAX_IMMEDIATE_REDIRECTS = 3
#: Messages up to this size are accepted (a page of shard assignments can be large).
MAX_RECEIVE_BYTES = 64 * 1024 * 1024


def check_address(value: object, name: str = "coordinator") -> str:
    """A gRPC address `host:port` or `[ipv6]:port`."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{name}: must be a 'host:port' string, got {type(value).__name__}", field=name)
    if "://" in value:
        raise InvalidArgument(f"{name}: give host:port without a scheme (got {value!r}); pass tls=True for TLS",
                              field=name)
    match = _ADDRESS.match(value)
    if match is None or not 0 < int(match.group(2)) <= 65535:
        raise InvalidArgument(f"{name}: must be host:port with a port in 1..65535, got {value!r}", field=name)
    return value


Request = Union[Any, Callable[[Optional[float]], Any]]


class Connection:
    """Channels to the coordinator addresses, shared by every thread of one client.

    `unary()` sends one RPC, retrying `UNAVAILABLE` within a time budget while following the
    leader; `stream_stub()` hands the current stub to long-lived streams (heartbeats), which
    report their failures back with `note_unavailable()`.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        token: Optional[str] = None,
        tls: bool = False,
        root_certificates: Optional[bytes] = None,
        tls_server_name: Optional[str] = None,
        call_timeout_s: float = 10.0,
        retry_timeout_s: float = 60.0,
        backoff: Optional[Backoff] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(addresses, str):
            addresses = [addresses]
        if not isinstance(addresses, Sequence) or len(addresses) == 0:
            raise InvalidArgument("coordinator: give at least one host:port address", field="coordinator")
        self._addresses = [check_address(a) for a in addresses]
        if token is not None and (not isinstance(token, str) or token == "" or re.search(r"\s", token)):
            raise InvalidArgument("token: must be a non-empty string without whitespace", field="token")
        if not isinstance(tls, bool):
            raise InvalidArgument("tls: must be True or False", field="tls")
        if root_certificates is not None and not isinstance(root_certificates, bytes):
            raise InvalidArgument("root_certificates: must be PEM bytes", field="root_certificates")
        if (root_certificates is not None or tls_server_name is not None) and not tls:
            raise InvalidArgument("root_certificates and tls_server_name need tls=True", field="tls")
        self._call_timeout_s = check_seconds(call_timeout_s, "call_timeout_s")
        self._retry_timeout_s = check_seconds(retry_timeout_s, "retry_timeout_s", minimum=-1e-9)
        self._backoff = backoff if backoff is not None else Backoff()
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token is not None else ()
        )
        self._tls = tls
        self._root_certificates = root_certificates
        self._tls_server_name = tls_server_name
        self._sleep = sleep
        self._lock = threading.Lock()
        self._index = 0
        self._channels: dict[str, tuple[grpc.Channel, pb_grpc.CoordinatorStub]] = {}
        self._closed = False

    @property
    def address(self) -> str:
        """The address calls go to now."""
        with self._lock:
            return self._addresses[self._index]

    @property
    def addresses(self) -> list[str]:
        """Every address known (the given ones plus leaders learnt from hints)."""
        with self._lock:
            return list(self._addresses)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata (the bearer token when one was given)."""
        return self._metadata

    @property
    def call_timeout_s(self) -> float:
        return self._call_timeout_s

    @property
    def retry_timeout_s(self) -> float:
        return self._retry_timeout_s

    @property
    def backoff(self) -> Backoff:
        return self._backoff

    def stub(self) -> tuple[str, pb_grpc.CoordinatorStub]:
        """The current address and its stub (creating the channel on first use)."""
        with self._lock:
            if self._closed:
                raise StrataError(grpc.StatusCode.CANCELLED, "the client was closed")
            address = self._addresses[self._index]
            entry = self._channels.get(address)
            if entry is None:
                channel = self._open_channel(address)
                entry = (channel, pb_grpc.CoordinatorStub(channel))
                self._channels[address] = entry
            return address, entry[1]

    def _open_channel(self, address: str) -> grpc.Channel:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            # The coordinator lets clients ping idle connections at most every 10 s.
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            # When the coordinator goes away, gRPC decides when the channel connects again: after
            # a re-resolution of the address (at most every 30 s by default) and its own backoff
            # (1 s growing to 120 s); calls in between fail at once. We use our shorter backoff for
            # both, so a restarted coordinator (which gives workers one heartbeat timeout to come
            # back) hears from us in time. Measured with grpcio 1.51: back within 0.3 s of the
            # restart instead of 7 to 10 s.
            ("grpc.initial_reconnect_backoff_ms", int(self._backoff.initial_s * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(self._backoff.max_s * 1000)),
            ("grpc.dns_min_time_between_resolutions_ms", int(self._backoff.initial_s * 1000)),
        ]
        if not self._tls:
            return grpc.insecure_channel(address, options=options)
        if self._tls_server_name is not None:
            options.append(("grpc.ssl_target_name_override", self._tls_server_name))
        credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
        return grpc.secure_channel(address, credentials, options=options)

    def note_unavailable(self, error: grpc.RpcError, address: str) -> bool:
        """Moves on after `UNAVAILABLE` from `address`: to the leader it names, else to the next
        address. Returns True when it switched to a leader hint (retry at once), False when the
        caller should back off first.
        """
        hint = leader_hint(error)
        with self._lock:
            if self._addresses[self._index] != address:
                return True  # another thread already moved on
            if hint:
                try:
                    check_address(hint, "strata-leader")
                except InvalidArgument:
                    log.warning("ignoring malformed strata-leader metadata %r from %s", hint, address)
                    hint = None
            if hint and hint != address:
                if hint not in self._addresses:
                    self._addresses.append(hint)
                self._index = self._addresses.index(hint)
                log.info("coordinator %s does not lead; following the leader at %s", address, hint)
                return True
            self._index = (self._index + 1) % len(self._addresses)
            return False

    def unary(
        self,
        method: str,
        request: Request,
        *,
        timeout_s: Optional[float] = None,
        retry_timeout_s: Optional[float] = None,
        deadline: Optional[float] = None,
    ) -> Any:
        """Calls `method` and returns its response, retrying `UNAVAILABLE` (following the leader)
        for up to `retry_timeout_s` seconds (default: the client's `retry_timeout_s`).

        `timeout_s` bounds each attempt (default `call_timeout_s`); `deadline` (a
        `time.monotonic()` value) bounds the whole call including retries. `request` may be a
        function of the seconds left before `deadline` (None without one), for requests that carry
        their own timeout. Raises `StrataError` with the last gRPC code.
        """
        per_attempt = self._call_timeout_s if timeout_s is None else timeout_s
        budget = self._retry_timeout_s if retry_timeout_s is None else retry_timeout_s
        give_up_at = time.monotonic() + budget
        if deadline is not None:
            give_up_at = min(give_up_at, deadline)
        attempt = 0
        redirects = 0
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise StrataError(grpc.StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed before an answer",
                                  method=method)
            message = request(remaining) if callable(request) else request
            address, stub = self.stub()
            attempt_timeout = per_attempt if remaining is None else min(per_attempt, remaining)
            try:
                return getattr(stub, method)(message, timeout=attempt_timeout, metadata=self._metadata)
            except grpc.RpcError as error:
                code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
                if code not in RETRYABLE:
                    raise StrataError.from_rpc_error(error, method) from None
                redirected = self.note_unavailable(error, address)
                if redirected and redirects < MAX_IMMEDIATE_REDIRECTS:
                    # A fresh leader hint is tried at once, a few times in a row (hints can be
                    # stale during an election; after that we back off like for any failure).
                    redirects += 1
                    delay = 0.0
                else:
                    delay = self._backoff.delay_s(attempt)
                    attempt += 1
                if time.monotonic() + delay >= give_up_at:
                    raise StrataError.from_rpc_error(error, method) from None
                log.debug("%s to %s failed with %s (%s); retrying in %.2f s", method, address, code.name,
                          error.details() if hasattr(error, "details") else "", delay)
                if delay > 0:
                    self._sleep(delay)

    def close(self) -> None:
        """Closes every channel; later calls raise `StrataError(CANCELLED)`. Idempotent."""
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
            self._channels.clear()
        for channel, _ in channels:
            channel.close()
