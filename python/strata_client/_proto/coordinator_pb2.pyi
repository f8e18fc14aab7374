# Generated from proto/coordinator.proto by python/scripts/generate_stubs.py. DO NOT EDIT.
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
FULL: CheckpointType
INCREMENTAL: CheckpointType
MODEL_ONLY: CheckpointType
OPTIMIZER_ONLY: CheckpointType

class BarrierRequest(_message.Message):
    __slots__ = ["barrier_id", "include_participant_ids", "step", "timeout_ms", "worker_id"]
    BARRIER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PARTICIPANT_IDS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    barrier_id: str
    include_participant_ids: bool
    step: int
    timeout_ms: int
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., barrier_id: _Optional[str] = ..., step: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., include_participant_ids: bool = ...) -> None: ...

class BarrierResponse(_message.Message):
    __slots__ = ["arrival_order", "barrier_id", "membership_version", "participant_ids", "participants", "released"]
    ARRIVAL_ORDER_FIELD_NUMBER: _ClassVar[int]
    BARRIER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_IDS_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    arrival_order: int
    barrier_id: str
    membership_version: int
    participant_ids: _containers.RepeatedScalarFieldContainer[str]
    participants: int
    released: bool
    def __init__(self, released: bool = ..., barrier_id: _Optional[str] = ..., participants: _Optional[int] = ..., arrival_order: _Optional[int] = ..., participant_ids: _Optional[_Iterable[str]] = ..., membership_version: _Optional[int] = ...) -> None: ...

class CheckpointAck(_message.Message):
    __slots__ = ["checkpoint_id", "complete", "global_step", "message", "ranks_expected", "ranks_reported", "success"]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RANKS_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    RANKS_REPORTED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    complete: bool
    global_step: int
    message: str
    ranks_expected: int
    ranks_reported: int
    success: bool
    def __init__(self, success: bool = ..., checkpoint_id: _Optional[str] = ..., message: _Optional[str] = ..., global_step: _Optional[int] = ..., complete: bool = ..., ranks_reported: _Optional[int] = ..., ranks_expected: _Optional[int] = ...) -> None: ...

class CheckpointInfo(_message.Message):
    __slots__ = ["checkpoint_id", "epoch", "job_id", "metadata", "rank", "size_bytes", "step", "storage_path", "timestamp_ms", "type", "worker_id", "world_size"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STORAGE_PATH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    epoch: int
    job_id: str
    metadata: _containers.ScalarMap[str, str]
    rank: int
    size_bytes: int
    step: int
    storage_path: str
    timestamp_ms: int
    type: CheckpointType
    worker_id: str
    world_size: int
    def __init__(self, worker_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ..., step: _Optional[int] = ..., epoch: _Optional[int] = ..., storage_path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., type: _Optional[_Union[CheckpointType, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., job_id: _Optional[str] = ..., rank: _Optional[int] = ..., world_size: _Optional[int] = ...) -> None: ...

class DatasetAck(_message.Message):
    __slots__ = ["dataset_id", "message", "success", "total_shards"]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SHARDS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    message: str
    success: bool
    total_shards: int
    def __init__(self, success: bool = ..., dataset_id: _Optional[str] = ..., total_shards: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class DatasetInfo(_message.Message):
    __slots__ = ["dataset_id", "format", "metadata", "path", "seed", "shard_size", "shuffle", "total_samples"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SHARD_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    format: str
    metadata: _containers.ScalarMap[str, str]
    path: str
    seed: int
    shard_size: int
    shuffle: bool
    total_samples: int
    def __init__(self, dataset_id: _Optional[str] = ..., path: _Optional[str] = ..., format: _Optional[str] = ..., total_samples: _Optional[int] = ..., shard_size: _Optional[int] = ..., shuffle: bool = ..., seed: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EpochPosition(_message.Message):
    __slots__ = ["complete_shards", "consumed_samples", "dataset_id", "epoch", "membership_version", "partial_shards", "total_shards"]
    COMPLETE_SHARDS_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_SHARDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SHARDS_FIELD_NUMBER: _ClassVar[int]
    complete_shards: bytes
    consumed_samples: int
    dataset_id: str
    epoch: int
    membership_version: int
    partial_shards: _containers.RepeatedCompositeFieldContainer[ShardConsumed]
    total_shards: int
    def __init__(self, dataset_id: _Optional[str] = ..., epoch: _Optional[int] = ..., total_shards: _Optional[int] = ..., complete_shards: _Optional[bytes] = ..., partial_shards: _Optional[_Iterable[_Union[ShardConsumed, _Mapping]]] = ..., consumed_samples: _Optional[int] = ..., membership_version: _Optional[int] = ...) -> None: ...

class GpuUsage(_message.Message):
    __slots__ = ["gpu_id", "memory_total_bytes", "memory_used_bytes", "temperature_celsius", "utilization_percent"]
    GPU_ID_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_CELSIUS_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    gpu_id: int
    memory_total_bytes: int
    memory_used_bytes: int
    temperature_celsius: float
    utilization_percent: float
    def __init__(self, gpu_id: _Optional[int] = ..., utilization_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., temperature_celsius: _Optional[float] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["resources", "status", "timestamp_ms", "worker_id"]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    resources: ResourceUsage
    status: WorkerStatus
    timestamp_ms: int
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., status: _Optional[_Union[WorkerStatus, _Mapping]] = ..., resources: _Optional[_Union[ResourceUsage, _Mapping]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ["acknowledged", "membership_version", "pending_commands", "rank", "server_timestamp_ms", "world_size"]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    PENDING_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    WORLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    membership_version: int
    pending_commands: _containers.RepeatedScalarFieldContainer[str]
    rank: int
    server_timestamp_ms: int
    world_size: int
    def __init__(self, acknowledged: bool = ..., server_timestamp_ms: _Optional[int] = ..., pending_commands: _Optional[_Iterable[str]] = ..., membership_version: _Optional[int] = ..., rank: _Optional[int] = ..., world_size: _Optional[int] = ...) -> None: ...

class RecoveryRequest(_message.Message):
    __slots__ = ["job_id", "worker_id"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class RecoveryResponse(_message.Message):
    __slots__ = ["has_checkpoint", "latest_checkpoint", "membership_version", "resume_epoch", "resume_step", "shard_assignments", "shard_assignments_truncated"]
    HAS_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    LATEST_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESUME_EPOCH_FIELD_NUMBER: _ClassVar[int]
    RESUME_STEP_FIELD_NUMBER: _ClassVar[int]
    SHARD_ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    SHARD_ASSIGNMENTS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    has_checkpoint: bool
    latest_checkpoint: CheckpointInfo
    membership_version: int
    resume_epoch: int
    resume_step: int
    shard_assignments: _containers.RepeatedCompositeFieldContainer[ShardAssignment]
    shard_assignments_truncated: bool
    def __init__(self, has_checkpoint: bool = ..., latest_checkpoint: _Optional[_Union[CheckpointInfo, _Mapping]] = ..., resume_step: _Optional[int] = ..., resume_epoch: _Optional[int] = ..., shard_assignments: _Optional[_Iterable[_Union[ShardAssignment, _Mapping]]] = ..., membership_version: _Optional[int] = ..., shard_assignments_truncated: bool = ...) -> None: ...

class ResourceUsage(_message.Message):
    __slots__ = ["cpu_percent", "disk_read_bytes", "disk_write_bytes", "gpu_usage", "memory_used_bytes", "network_rx_bytes", "network_tx_bytes"]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DISK_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPU_USAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    disk_read_bytes: int
    disk_write_bytes: int
    gpu_usage: _containers.RepeatedCompositeFieldContainer[GpuUsage]
    memory_used_bytes: int
    network_rx_bytes: int
    network_tx_bytes: int
    def __init__(self, cpu_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., gpu_usage: _Optional[_Iterable[_Union[GpuUsage, _Mapping]]] = ..., disk_read_bytes: _Optional[int] = ..., disk_write_bytes: _Optional[int] = ..., network_rx_bytes: _Optional[int] = ..., network_tx_bytes: _Optional[int] = ...) -> None: ...

class RestoreProgressAck(_message.Message):
    __slots__ = ["consumed_samples", "forgotten_epochs", "membership_version", "restored"]
    CONSUMED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    FORGOTTEN_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    consumed_samples: int
    forgotten_epochs: _containers.RepeatedScalarFieldContainer[int]
    membership_version: int
    restored: bool
    def __init__(self, restored: bool = ..., consumed_samples: _Optional[int] = ..., membership_version: _Optional[int] = ..., forgotten_epochs: _Optional[_Iterable[int]] = ...) -> None: ...

class RestoreProgressRequest(_message.Message):
    __slots__ = ["position", "worker_id"]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    position: EpochPosition
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., position: _Optional[_Union[EpochPosition, _Mapping]] = ...) -> None: ...

class SampleRange(_message.Message):
    __slots__ = ["end", "start"]
    END_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    end: int
    start: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class ShardAssignment(_message.Message):
    __slots__ = ["consumed_samples", "dataset_id", "end_index", "epoch", "file_paths", "remaining_ranges", "shard_id", "start_index", "total_shards"]
    CONSUMED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    END_INDEX_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    FILE_PATHS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_RANGES_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SHARDS_FIELD_NUMBER: _ClassVar[int]
    consumed_samples: int
    dataset_id: str
    end_index: int
    epoch: int
    file_paths: _containers.RepeatedScalarFieldContainer[str]
    remaining_ranges: _containers.RepeatedCompositeFieldContainer[SampleRange]
    shard_id: int
    start_index: int
    total_shards: int
    def __init__(self, dataset_id: _Optional[str] = ..., shard_id: _Optional[int] = ..., total_shards: _Optional[int] = ..., start_index: _Optional[int] = ..., end_index: _Optional[int] = ..., file_paths: _Optional[_Iterable[str]] = ..., epoch: _Optional[int] = ..., remaining_ranges: _Optional[_Iterable[_Union[SampleRange, _Mapping]]] = ..., consumed_samples: _Optional[int] = ...) -> None: ...

class ShardAssignmentList(_message.Message):
    __slots__ = ["assigned_shards", "dataset_id", "epoch", "membership_version", "next_page_token", "shards", "total_shards", "worker_id"]
    ASSIGNED_SHARDS_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SHARDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    assigned_shards: int
    dataset_id: str
    epoch: int
    membership_version: int
    next_page_token: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardAssignment]
    total_shards: int
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., epoch: _Optional[int] = ..., membership_version: _Optional[int] = ..., total_shards: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[ShardAssignment, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., assigned_shards: _Optional[int] = ...) -> None: ...

class ShardConsumed(_message.Message):
    __slots__ = ["consumed", "shard_id"]
    CONSUMED_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    consumed: _containers.RepeatedCompositeFieldContainer[SampleRange]
    shard_id: int
    def __init__(self, shard_id: _Optional[int] = ..., consumed: _Optional[_Iterable[_Union[SampleRange, _Mapping]]] = ...) -> None: ...

class ShardProgress(_message.Message):
    __slots__ = ["consumed", "dataset_id", "epoch", "membership_version", "shard_id", "worker_id"]
    CONSUMED_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    consumed: _containers.RepeatedCompositeFieldContainer[SampleRange]
    dataset_id: str
    epoch: int
    membership_version: int
    shard_id: int
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., epoch: _Optional[int] = ..., shard_id: _Optional[int] = ..., consumed: _Optional[_Iterable[_Union[SampleRange, _Mapping]]] = ..., membership_version: _Optional[int] = ...) -> None: ...

class ShardProgressAck(_message.Message):
    __slots__ = ["accepted", "consumed_samples", "epoch_complete", "membership_version", "shard_complete"]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    EPOCH_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHARD_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    consumed_samples: int
    epoch_complete: bool
    membership_version: int
    shard_complete: bool
    def __init__(self, accepted: bool = ..., membership_version: _Optional[int] = ..., consumed_samples: _Optional[int] = ..., shard_complete: bool = ..., epoch_complete: bool = ...) -> None: ...

class ShardRequest(_message.Message):
    __slots__ = ["dataset_id", "epoch", "page_size", "page_token", "worker_id"]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    epoch: int
    page_size: int
    page_token: str
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., epoch: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class WorkerConfig(_message.Message):
    __slots__ = ["assigned_id", "config", "heartbeat_interval_ms", "membership_version", "rank", "world_size"]
    class ConfigEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ASSIGNED_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_VERSION_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    WORLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    assigned_id: str
    config: _containers.ScalarMap[str, str]
    heartbeat_interval_ms: int
    membership_version: int
    rank: int
    world_size: int
    def __init__(self, assigned_id: _Optional[str] = ..., rank: _Optional[int] = ..., world_size: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., config: _Optional[_Mapping[str, str]] = ..., membership_version: _Optional[int] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ["gpu_count", "hostname", "memory_bytes", "metadata", "port", "worker_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    gpu_count: int
    hostname: str
    memory_bytes: int
    metadata: _containers.ScalarMap[str, str]
    port: int
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., hostname: _Optional[str] = ..., port: _Optional[int] = ..., gpu_count: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WorkerStatus(_message.Message):
    __slots__ = ["current_epoch", "current_step", "current_task", "state"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CHECKPOINTING: WorkerStatus.State
    CURRENT_EPOCH_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STEP_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TASK_FIELD_NUMBER: _ClassVar[int]
    ERROR: WorkerStatus.State
    IDLE: WorkerStatus.State
    INITIALIZING: WorkerStatus.State
    LOADING_DATA: WorkerStatus.State
    RECOVERING: WorkerStatus.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRAINING: WorkerStatus.State
    UNKNOWN: WorkerStatus.State
    current_epoch: int
    current_step: int
    current_task: str
    state: WorkerStatus.State
    def __init__(self, state: _Optional[_Union[WorkerStatus.State, str]] = ..., current_step: _Optional[int] = ..., current_epoch: _Optional[int] = ..., current_task: _Optional[str] = ...) -> None: ...

class CheckpointType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
