"""Argument checks done before any RPC, with the coordinator's limits (see its README).

Each check raises `InvalidArgument` naming the argument, so a bad call never reaches the network.
"""
from __future__ import annotations

import math
import re
from typing import Mapping, Optional

from .errors import InvalidArgument

#: Largest integer the coordinator accepts (it keeps numbers as doubles): 2^53 - 1.
MAX_SAFE_INTEGER = 2**53 - 1
#: Largest int32 field value.
MAX_INT32 = 2**31 - 1
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_MAP_ENTRIES = 64
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 1024
MAX_TEXT_CHARS = 4096


def check_id(value: object, name: str) -> str:
    """An id (worker, dataset, barrier, checkpoint, job): 1 to 128 characters of [A-Za-z0-9._:-]."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{name}: must be a string, got {type(value).__name__}", field=name)
    if not _ID.match(value):
        if value == "":
            raise InvalidArgument(f"{name}: must not be empty", field=name)
        if len(value) > 128:
            raise InvalidArgument(f"{name}: at most 128 characters, got {len(value)}", field=name)
        raise InvalidArgument(f"{name}: may only contain letters, digits and . _ : - (got {value!r})", field=name)
    return value


def check_optional_id(value: object, name: str) -> str:
    """An id that may be empty (the coordinator's default, e.g. the default job)."""
    if value == "" or value is None:
        return ""
    return check_id(value, name)


def check_int(value: object, name: str, minimum: int = 0, maximum: int = MAX_SAFE_INTEGER) -> int:
    """An integer in [minimum, maximum]; bools and floats are refused (1.5 steps is a bug)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}: must be an integer, got {type(value).__name__}", field=name)
    if value < minimum or value > maximum:
        raise InvalidArgument(f"{name}: must be between {minimum} and {maximum}, got {value}", field=name)
    return value


def check_optional_seconds(value: object, name: str) -> Optional[float]:
    """None, or a duration in seconds greater than 0 (see `check_seconds`)."""
    return None if value is None else check_seconds(value, name)


def check_seconds(value: object, name: str, *, minimum: float = 0.0) -> float:
    """A duration in seconds: a finite number greater than `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name}: must be a number of seconds, got {type(value).__name__}", field=name)
    if not math.isfinite(value) or value <= minimum:
        raise InvalidArgument(f"{name}: must be a finite number of seconds greater than {minimum:g}, got {value}",
                              field=name)
    return float(value)


def check_bool(value: object, name: str) -> bool:
    """A real bool (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}: must be True or False, got {type(value).__name__}", field=name)
    return value


def check_text(value: object, name: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Free text: at most `max_chars` characters, no control characters (tabs and newlines allowed)."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{name}: must be a string, got {type(value).__name__}", field=name)
    if len(value) > max_chars:
        raise InvalidArgument(f"{name}: at most {max_chars} characters, got {len(value)}", field=name)
    if _CONTROL.search(value):
        raise InvalidArgument(f"{name}: must not contain control characters", field=name)
    return value


def check_map(value: object, name: str) -> dict[str, str]:
    """A string map: at most 64 entries, keys of 1 to 128 and values of at most 1024 characters."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{name}: must be a dict of str to str, got {type(value).__name__}", field=name)
    if len(value) > MAX_MAP_ENTRIES:
        raise InvalidArgument(f"{name}: at most {MAX_MAP_ENTRIES} entries, got {len(value)}", field=name)
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidArgument(f"{name}: keys and values must be strings (entry {key!r})", field=name)
        if not 1 <= len(key) <= MAX_KEY_CHARS:
            raise InvalidArgument(f"{name}: keys must have 1 to {MAX_KEY_CHARS} characters ({key[:20]!r})",
                                  field=name)
        if len(item) > MAX_VALUE_CHARS:
            raise InvalidArgument(f"{name}[{key!r}]: at most {MAX_VALUE_CHARS} characters, got {len(item)}",
                                  field=name)
        if _CONTROL.search(key) or _CONTROL.search(item):
            raise InvalidArgument(f"{name}[{key!r}]: must not contain control characters", field=name)
        out[key] = item
    return out
