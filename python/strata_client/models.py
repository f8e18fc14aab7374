"""Plain values the client returns: worker configuration, membership, commands, shards,
barrier outcomes, checkpoint records and data positions. They are immutable dataclasses built
from the generated protobuf messages, so user code never depends on the stubs.
"""
from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ._proto import coordinator_pb2 as pb

log = logging.getLogger("strata_client")

__all__ = [
    "WorkerState", "CheckpointType", "WorkerConfig", "Membership", "Command", "parse_command",
    "HeartbeatResult", "ShardInfo", "Assignment", "ProgressAck", "DataPosition", "RestoreResult",
    "ResumeResult",
    "BarrierResult", "CheckpointAck", "CheckpointRecord", "Recovery", "ResourceUsage",
]


class WorkerState(enum.IntEnum):
    """What a worker reports it is doing (proto `WorkerStatus.State`)."""

    UNKNOWN = 0
    INITIALIZING = 1
    IDLE = 2
    LOADING_DATA = 3
    TRAINING = 4
    CHECKPOINTING = 5
    RECOVERING = 6
    ERROR = 7


class CheckpointType(enum.IntEnum):
    """Proto `CheckpointType`."""

    FULL = 0
    INCREMENTAL = 1
    OPTIMIZER_ONLY = 2
    MODEL_ONLY = 3


@dataclass(frozen=True)
class WorkerConfig:
    """The coordinator's answer to a registration.

    Attributes:
        worker_id: this worker's id (the coordinator does not rename workers).
        rank: dense at registration, stable while the worker lives (survivors keep their rank
            when another worker dies, so ranks can have gaps until the dead one returns).
        world_size: live workers when the answer was made.
        heartbeat_interval_ms: how often to heartbeat (a third of the coordinator's timeout).
        config: the registration metadata, echoed.
        membership_version: grows on every join, leave or death.
    """

    worker_id: str
    rank: int
    world_size: int
    heartbeat_interval_ms: int
    config: Mapping[str, str]
    membership_version: int

    @staticmethod
    def from_proto(message: pb.WorkerConfig) -> "WorkerConfig":
        return WorkerConfig(
            worker_id=message.assigned_id,
            rank=message.rank,
            world_size=message.world_size,
            heartbeat_interval_ms=message.heartbeat_interval_ms,
            config=dict(message.config),
            membership_version=message.membership_version,
        )


@dataclass(frozen=True)
class Membership:
    """This worker's view of the cluster: its rank, the live worker count and the version."""

    rank: int
    world_size: int
    version: int


@dataclass(frozen=True)
class Command:
    """A pending command from a heartbeat response: `name` and its JSON arguments.

    Known names (proto/README.md): `membership_changed` (ask for shards again; rank and world size
    are in `Membership`), `checkpoint` (save at the next step boundary), `stop` (finish the step,
    save if you can, deregister, exit), `start_task` and `stop_task` (with `task_id` and more in
    `args`). Newer coordinators may send other names: ignore what you do not know.
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    raw: str = ""


def parse_command(raw: str) -> Command:
    """Parses `name` or `name:{json object}`. A malformed argument is logged and dropped (the
    command name still counts), because one bad command must not stop the heartbeat thread.
    """
    name, sep, rest = raw.partition(":")
    args: dict[str, Any] = {}
    if sep and rest:
        try:
            parsed = json.loads(rest)
        except ValueError:
            log.warning("command %r has arguments that are not JSON; ignoring them", name)
        else:
            if isinstance(parsed, dict):
                args = parsed
            else:
                log.warning("command %r has arguments that are not a JSON object; ignoring them", name)
    return Command(name=name.strip(), args=args, raw=raw)


@dataclass(frozen=True)
class HeartbeatResult:
    """The outcome of one heartbeat: whether it was recorded, the server's clock (ms since the
    epoch), the commands it delivered and the membership it reported."""

    acknowledged: bool
    server_timestamp_ms: int
    commands: tuple[Command, ...]
    membership: Membership


@dataclass(frozen=True)
class ShardInfo:
    """One shard of a dataset for one epoch: samples [start_index, end_index).

    `remaining_ranges` are the half-open sample ranges not yet reported consumed this epoch;
    `consumed_samples` counts those that were.
    """

    dataset_id: str
    shard_id: int
    total_shards: int
    start_index: int
    end_index: int
    epoch: int
    file_paths: tuple[str, ...] = ()
    remaining_ranges: tuple[tuple[int, int], ...] = ()
    consumed_samples: int = 0

    @property
    def num_samples(self) -> int:
        """Samples in the shard (end - start)."""
        return self.end_index - self.start_index

    @property
    def remaining_samples(self) -> int:
        """Samples not yet reported consumed this epoch."""
        return sum(end - start for start, end in self.remaining_ranges)

    def __repr__(self) -> str:
        return (f"ShardInfo(dataset_id={self.dataset_id!r}, shard_id={self.shard_id}, "
                f"range=[{self.start_index}, {self.end_index}), epoch={self.epoch})")

    @staticmethod
    def from_proto(message: pb.ShardAssignment) -> "ShardInfo":
        ranges = tuple((r.start, r.end) for r in message.remaining_ranges)
        if not ranges and message.consumed_samples == 0 and message.end_index > message.start_index:
            # An empty list with nothing consumed means the whole shard (proto comment).
            ranges = ((message.start_index, message.end_index),)
        return ShardInfo(
            dataset_id=message.dataset_id,
            shard_id=message.shard_id,
            total_shards=message.total_shards,
            start_index=message.start_index,
            end_index=message.end_index,
            epoch=message.epoch,
            file_paths=tuple(message.file_paths),
            remaining_ranges=ranges,
            consumed_samples=message.consumed_samples,
        )


@dataclass(frozen=True)
class Assignment:
    """All of one worker's shards for an epoch (every page), in reading order, with the membership
    version they were computed for."""

    dataset_id: str
    epoch: int
    membership_version: int
    total_shards: int
    shards: tuple[ShardInfo, ...]


@dataclass(frozen=True)
class ProgressAck:
    """The answer to a progress report: samples of the shard consumed so far this epoch, and
    whether the shard and the whole epoch are complete."""

    accepted: bool
    membership_version: int
    consumed_samples: int
    shard_complete: bool
    epoch_complete: bool


@dataclass(frozen=True)
class DataPosition:
    """The data position of one dataset epoch: which samples were consumed (proto
    `EpochPosition`). Keep it with a checkpoint (`to_bytes()`), and give it back to
    `DatasetRegistry.restore_position` when resuming from that checkpoint.
    """

    dataset_id: str
    epoch: int
    total_shards: int
    consumed_samples: int
    membership_version: int
    message: pb.EpochPosition = field(repr=False, compare=False)

    @staticmethod
    def from_proto(message: pb.EpochPosition) -> "DataPosition":
        return DataPosition(
            dataset_id=message.dataset_id,
            epoch=message.epoch,
            total_shards=message.total_shards,
            consumed_samples=message.consumed_samples,
            membership_version=message.membership_version,
            message=message,
        )

    @staticmethod
    def empty(dataset_id: str, epoch: int, total_shards: int) -> "DataPosition":
        """The position of an epoch nobody has read: restoring it serves the whole epoch again
        (what a job that crashed before its first checkpoint restores)."""
        return DataPosition.from_proto(pb.EpochPosition(
            dataset_id=dataset_id, epoch=epoch, total_shards=total_shards,
            complete_shards=bytes((total_shards + 7) // 8)))

    def to_bytes(self) -> bytes:
        """The position as protobuf bytes (compact: a bitmap of complete shards plus the ranges
        of partly consumed ones)."""
        return self.message.SerializeToString()

    @staticmethod
    def from_bytes(data: bytes) -> "DataPosition":
        """Reads a position written by `to_bytes()`."""
        return DataPosition.from_proto(pb.EpochPosition.FromString(data))

    def shard_complete(self, shard_id: int) -> bool:
        """Whether every sample of `shard_id` was consumed."""
        bits = self.message.complete_shards
        byte = shard_id // 8
        return byte < len(bits) and bool(bits[byte] & (1 << (shard_id % 8)))

    @property
    def complete_shard_count(self) -> int:
        """Shards consumed completely."""
        return sum(bin(b).count("1") for b in self.message.complete_shards)

    @property
    def epoch_complete(self) -> bool:
        """Whether every shard of the epoch was consumed."""
        return self.total_shards > 0 and self.complete_shard_count == self.total_shards

    @property
    def partial_shards(self) -> dict[int, tuple[tuple[int, int], ...]]:
        """Partly consumed shards and their consumed ranges."""
        return {p.shard_id: tuple((r.start, r.end) for r in p.consumed) for p in self.message.partial_shards}


@dataclass(frozen=True)
class RestoreResult:
    """The answer to `restore_position`: samples of the epoch consumed afterwards (those of the
    position), the new membership version, and later epochs whose progress was forgotten."""

    consumed_samples: int
    membership_version: int
    forgotten_epochs: tuple[int, ...]


@dataclass(frozen=True)
class ResumeResult:
    """The outcome of `DatasetRegistry.resume`: the workers that resumed together (by id,
    sorted), the one of them that put the positions back (the first), and, on that worker only,
    the coordinator's answer for each position (empty on the others)."""

    participants: tuple[str, ...]
    restorer: str
    restored: tuple[RestoreResult, ...]


@dataclass(frozen=True)
class BarrierResult:
    """A released barrier: how many took part, this worker's arrival position (from 1), the
    participants' ids in arrival order (only when asked for) and the membership version."""

    released: bool
    barrier_id: str
    participants: int
    arrival_order: int
    participant_ids: tuple[str, ...]
    membership_version: int


@dataclass(frozen=True)
class CheckpointAck:
    """The answer to `notify_checkpoint`. `complete` turns True once every rank of the step's
    membership reported its part."""

    success: bool
    checkpoint_id: str
    message: str
    global_step: int
    complete: bool
    ranks_reported: int
    ranks_expected: int


@dataclass(frozen=True)
class CheckpointRecord:
    """One rank's part of a checkpoint as the coordinator recorded it (it never reads the bytes)."""

    checkpoint_id: str
    step: int
    epoch: int
    storage_path: str
    size_bytes: int
    timestamp_ms: int
    type: CheckpointType
    metadata: Mapping[str, str]
    job_id: str
    rank: int
    world_size: int
    worker_id: str

    @staticmethod
    def from_proto(message: pb.CheckpointInfo) -> "CheckpointRecord":
        return CheckpointRecord(
            checkpoint_id=message.checkpoint_id,
            step=message.step,
            epoch=message.epoch,
            storage_path=message.storage_path,
            size_bytes=message.size_bytes,
            timestamp_ms=message.timestamp_ms,
            type=CheckpointType(message.type) if message.type in CheckpointType._value2member_map_
            else CheckpointType.FULL,
            metadata=dict(message.metadata),
            job_id=message.job_id,
            rank=message.rank,
            world_size=message.world_size,
            worker_id=message.worker_id,
        )


@dataclass(frozen=True)
class Recovery:
    """Where to resume: the latest complete checkpoint (this worker's rank part, else rank 0's),
    the step and epoch to resume at, and this worker's shards at that epoch for every dataset.

    `shard_assignments` holds at most 10,000 shards (the coordinator's cap, so the answer fits in
    a message); `shard_assignments_truncated` is True when this worker holds more. Then read
    them with `datasets.get_assignment(dataset_id, resume_epoch)`, which follows every page
    (`samples()` does too).
    """

    checkpoint: CheckpointRecord
    resume_step: int
    resume_epoch: int
    shard_assignments: tuple[ShardInfo, ...]
    membership_version: int
    shard_assignments_truncated: bool = False


@dataclass(frozen=True)
class ResourceUsage:
    """Resource usage of the worker's host. Byte counters are cumulative since the worker started;
    `cpu_percent` is 100 per fully used core. `gpus` holds dicts with the proto `GpuUsage` fields
    (`gpu_id`, `utilization_percent`, `memory_used_bytes`, `memory_total_bytes`,
    `temperature_celsius`)."""

    cpu_percent: float = 0.0
    memory_used_bytes: int = 0
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    network_rx_bytes: int = 0
    network_tx_bytes: int = 0
    gpus: tuple[Mapping[str, Any], ...] = ()

    def to_proto(self) -> pb.ResourceUsage:
        return pb.ResourceUsage(
            cpu_percent=float(self.cpu_percent),
            memory_used_bytes=max(0, int(self.memory_used_bytes)),
            disk_read_bytes=max(0, int(self.disk_read_bytes)),
            disk_write_bytes=max(0, int(self.disk_write_bytes)),
            network_rx_bytes=max(0, int(self.network_rx_bytes)),
            network_tx_bytes=max(0, int(self.network_tx_bytes)),
            gpu_usage=[pb.GpuUsage(**dict(g)) for g in self.gpus],
        )


def optional_recovery(message: pb.RecoveryResponse) -> Optional[Recovery]:
    """A Recovery, or None when the job has no complete checkpoint."""
    if not message.has_checkpoint:
        return None
    return Recovery(
        checkpoint=CheckpointRecord.from_proto(message.latest_checkpoint),
        resume_step=message.resume_step,
        resume_epoch=message.resume_epoch,
        shard_assignments=tuple(ShardInfo.from_proto(s) for s in message.shard_assignments),
        membership_version=message.membership_version,
        shard_assignments_truncated=message.shard_assignments_truncated,
    )
