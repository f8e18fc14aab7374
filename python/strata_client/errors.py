"""Errors raised by the Strata client: one exception type carrying the gRPC status code."""
from __future__ import annotations

from typing import Optional

import grpc

__all__ = ["StrataError", "InvalidArgument", "LEADER_METADATA_KEY", "FIELD_METADATA_KEY"]

#: Trailing metadata of a coordinator that does not lead: the leader's gRPC address (host:port).
LEADER_METADATA_KEY = "strata-leader"
#: Trailing metadata of an INVALID_ARGUMENT answer: the proto field name that was rejected.
FIELD_METADATA_KEY = "strata-field"


class StrataError(Exception):
    """A failed Strata call.

    Attributes:
        code: the gRPC status code (`grpc.StatusCode`), also for errors raised before any RPC
            (bad arguments are `INVALID_ARGUMENT`, waits that ran out are `DEADLINE_EXCEEDED`).
        details: the coordinator's message (or ours), without the code prefix.
        method: the RPC name (`"RegisterWorker"`), or None when no RPC was involved.
        field: the offending field for `INVALID_ARGUMENT` (a proto field name such as
            `"worker_id"`, or the Python argument name for errors raised before any RPC).
        leader: for `UNAVAILABLE` from a coordinator that does not lead, the leader's address.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        *,
        method: Optional[str] = None,
        field: Optional[str] = None,
        leader: Optional[str] = None,
    ) -> None:
        self.code = code
        self.details = details
        self.method = method
        self.field = field
        self.leader = leader
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {details}")

    @staticmethod
    def from_rpc_error(error: grpc.RpcError, method: str) -> "StrataError":
        """Converts a grpcio error into a StrataError (InvalidArgument for INVALID_ARGUMENT)."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = (error.details() if hasattr(error, "details") else None) or str(error)
        trailing = _trailing(error)
        field = trailing.get(FIELD_METADATA_KEY)
        leader = trailing.get(LEADER_METADATA_KEY)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidArgument(details, field=field, method=method)
        return StrataError(code, details, method=method, field=field, leader=leader)


class InvalidArgument(StrataError, ValueError):
    """A bad argument: raised before any RPC when the client can tell, else by the coordinator.

    It is also a `ValueError`, so code that validates its own input can catch either.
    """

    def __init__(self, details: str, *, field: Optional[str] = None, method: Optional[str] = None) -> None:
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, details, method=method, field=field)


def _trailing(error: grpc.RpcError) -> dict[str, str]:
    """The error's trailing metadata as a dict (string values only; empty when there is none)."""
    try:
        pairs = error.trailing_metadata() or ()
    except Exception:  # a non-call RpcError (e.g. from a closed channel) has no metadata
        return {}
    out: dict[str, str] = {}
    for key, value in pairs:
        if isinstance(value, bytes):
            continue
        out[key] = value
    return out


def leader_hint(error: grpc.RpcError) -> Optional[str]:
    """The `strata-leader` address in an error's trailing metadata, if any."""
    return _trailing(error).get(LEADER_METADATA_KEY) or None
