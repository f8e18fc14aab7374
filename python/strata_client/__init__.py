"""strata_client: a small Python client of the Strata coordinator (grpcio).

    from strata_client import TrainingOrchestrator

    with TrainingOrchestrator("127.0.0.1:50051") as orch:
        config = orch.register_worker("worker-0")          # rank, world size; heartbeats start
        orch.datasets.register_dataset("ds", total_samples=1000, shard_size=100)
        for index in orch.datasets.samples("ds", epoch=0):  # exactly once across workers
            ...
        orch.barrier("epoch-0-done", timeout_s=60)

See python/README.md for the whole API.
"""
from .backoff import Backoff
from .datasets import DatasetRegistry, EpochSamples
from .errors import InvalidArgument, StrataError
from .models import (
    Assignment,
    BarrierResult,
    CheckpointAck,
    CheckpointRecord,
    CheckpointType,
    Command,
    DataPosition,
    HeartbeatResult,
    Membership,
    ProgressAck,
    Recovery,
    ResourceUsage,
    RestoreResult,
    ResumeResult,
    ShardInfo,
    WorkerConfig,
    WorkerState,
    parse_command,
)
from .orchestrator import TrainingOrchestrator

__version__ = "0.1.0"

__all__ = [
    "Assignment",
    "Backoff",
    "BarrierResult",
    "CheckpointAck",
    "CheckpointRecord",
    "CheckpointType",
    "Command",
    "DataPosition",
    "DatasetRegistry",
    "EpochSamples",
    "HeartbeatResult",
    "InvalidArgument",
    "Membership",
    "ProgressAck",
    "Recovery",
    "ResourceUsage",
    "RestoreResult",
    "ResumeResult",
    "ShardInfo",
    "StrataError",
    "TrainingOrchestrator",
    "WorkerConfig",
    "WorkerState",
    "parse_command",
    "__version__",
]
