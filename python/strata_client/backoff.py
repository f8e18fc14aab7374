"""Capped exponential backoff with jitter, for reconnecting to the coordinator."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from .validation import check_seconds
from .errors import InvalidArgument

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: `initial_s * multiplier**attempt`, capped at `max_s`,
    then spread by ±`jitter` (a fraction) so that many workers that lost the coordinator at the
    same moment do not come back in lockstep.

    Defaults (0.1 s, ×1.6, 5 s, ±20 %) are gRPC's own reconnection constants, except the cap, which
    is lower than gRPC's 120 s because a training job would rather find a new leader quickly.
    """

    initial_s: float = 0.1
    multiplier: float = 1.6
    max_s: float = 5.0
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_seconds(self.initial_s, "initial_s")
        check_seconds(self.max_s, "max_s")
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, (int, float)) or self.multiplier < 1:
            raise InvalidArgument(f"multiplier: must be a number >= 1, got {self.multiplier!r}", field="multiplier")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float)) or not 0 <= self.jitter < 1:
            raise InvalidArgument(f"jitter: must be a fraction in [0, 1), got {self.jitter!r}", field="jitter")

    def delay_s(self, attempt: int) -> float:
        """The delay before retry number `attempt` (0 for the first retry), in seconds."""
        base = min(self.max_s, self.initial_s * self.multiplier ** min(attempt, 64))
        return base * (1 - self.jitter + 2 * self.jitter * self.random())
