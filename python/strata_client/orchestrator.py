"""`TrainingOrchestrator`: one worker's connection to the Strata coordinator."""
from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Mapping, Optional, Sequence, Union

import grpc

from ._proto import coordinator_pb2 as pb
from .backoff import Backoff
from .connection import Connection
from .errors import InvalidArgument, StrataError
from .heartbeats import Heartbeater
from .models import (
    BarrierResult,
    CheckpointAck,
    CheckpointType,
    Command,
    HeartbeatResult,
    Membership,
    Recovery,
    ResourceUsage,
    WorkerConfig,
    WorkerState,
    optional_recovery,
    parse_command,
)
from .resources import ResourceProvider, default_resources
from .validation import (
    MAX_INT32,
    check_bool,
    check_id,
    check_int,
    check_map,
    check_optional_id,
    check_optional_seconds,
    check_seconds,
    check_text,
)

if TYPE_CHECKING:
    from .datasets import DatasetRegistry  # imported lazily at run time: datasets imports us

log = logging.getLogger("strata_client")

__all__ = ["TrainingOrchestrator"]

#: Extra time the client waits beyond a barrier's own timeout, so that the coordinator's
#: DEADLINE_EXCEEDED answer (which names the missing workers) arrives before our own deadline.
BARRIER_GRACE_S = 2.0
#: How long deregistration may take at shutdown before we give up (the coordinator then declares
#: the worker dead after its heartbeat timeout anyway).
DEREGISTER_TIMEOUT_S = 5.0

CommandListener = Callable[[Command], None]


def _state(value: Union[WorkerState, str, int], name: str = "state") -> WorkerState:
    if isinstance(value, WorkerState):
        return value
    if isinstance(value, str):
        try:
            return WorkerState[value.upper()]
        except KeyError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool) and value in WorkerState._value2member_map_:
        return WorkerState(value)
    names = ", ".join(s.name for s in WorkerState)
    raise InvalidArgument(f"{name}: must be a WorkerState ({names}), got {value!r}", field=name)


class TrainingOrchestrator:
    """One worker's client of the Strata coordinator.

    It registers the worker (rank and world size), keeps it alive with a background heartbeat
    thread that reports state, step, epoch and resources and surfaces membership changes and
    pending commands, runs barriers with timeouts (they never block heartbeats or other calls),
    records checkpoints and finds the latest complete one, and reaches the datasets through
    `datasets` (a `DatasetRegistry`). Use it as a context manager: leaving the block stops the
    heartbeats, deregisters the worker and closes the channels.

    Args:
        coordinator: the coordinator's gRPC address `host:port`, or several addresses of a highly
            available coordinator (calls follow the `strata-leader` hint of a non-leader, else
            try the next address).
        token: bearer token, sent as `authorization: Bearer <token>` on every call (the
            coordinator's `--auth-token`). Default: none.
        tls: connect with TLS. Default False (plain text: keep it on a private network).
        root_certificates: PEM bytes, or the path of a PEM file, trusted for the coordinator's
            certificate (default: the system's roots). Needs `tls=True`.
        tls_server_name: the name to check in the certificate when it differs from the address's
            host (e.g. `"localhost"` when connecting to 127.0.0.1). Needs `tls=True`.
        job_id: the job checkpoints belong to by default (empty: the coordinator's default job).
        call_timeout_s: deadline of each RPC attempt, in seconds. Default 10.
        retry_timeout_s: how long a call keeps retrying while the coordinator is unavailable
            (restarting, electing a leader), in seconds. Default 60.
        backoff: delays between those retries. Default `Backoff()` (0.1 s growing ×1.6 to 5 s, ±20 %).
    """

    def __init__(
        self,
        coordinator: Union[str, Sequence[str]],
        *,
        token: Optional[str] = None,
        tls: bool = False,
        root_certificates: Union[bytes, str, "os.PathLike[str]", None] = None,
        tls_server_name: Optional[str] = None,
        job_id: str = "",
        call_timeout_s: float = 10.0,
        retry_timeout_s: float = 60.0,
        backoff: Optional[Backoff] = None,
    ) -> None:
        if isinstance(root_certificates, (str, os.PathLike)):
            path = os.fspath(root_certificates)
            try:
                with open(path, "rb") as f:
                    root_certificates = f.read()
            except OSError as error:
                raise InvalidArgument(f"root_certificates: cannot read {path}: {error.strerror}",
                                      field="root_certificates") from None
        if tls_server_name is not None:
            check_text(tls_server_name, "tls_server_name", 255)
        self._job_id = check_optional_id(job_id, "job_id")
        self._conn = Connection(
            coordinator,
            token=token,
            tls=tls,
            root_certificates=root_certificates,
            tls_server_name=tls_server_name,
            call_timeout_s=call_timeout_s,
            retry_timeout_s=retry_timeout_s,
            backoff=backoff,
        )
        self._lock = threading.Lock()
        self._membership_changed = threading.Condition(self._lock)
        self._info: Optional[pb.WorkerInfo] = None
        self._config: Optional[WorkerConfig] = None
        self._membership = Membership(rank=-1, world_size=0, version=0)
        self._membership_events = 0
        self._status = pb.WorkerStatus(state=pb.WorkerStatus.IDLE)
        self._commands: Deque[Command] = collections.deque(maxlen=10_000)
        self._listeners: list[CommandListener] = []
        self._heartbeater: Optional[Heartbeater] = None
        self._resources: Optional[ResourceProvider] = None
        self._closed = False
        self._datasets: Any = None

    # ------------------------------------------------------------------ registration

    def register_worker(
        self,
        worker_id: str,
        hostname: Optional[str] = None,
        port: int = 0,
        gpu_count: int = 0,
        memory_bytes: Optional[int] = None,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        heartbeats: bool = True,
        heartbeat_interval_s: Optional[float] = None,
        resources: Union[bool, ResourceProvider] = True,
        stream_heartbeats: bool = True,
    ) -> WorkerConfig:
        """Joins the cluster and starts the heartbeat thread; returns rank and world size.

        Idempotent per `worker_id` (the same rank comes back). A worker whose process restarts
        with the same id gets its old rank back if it is still free.

        Args:
            worker_id: 1 to 128 characters of [A-Za-z0-9._:-], stable across restarts.
            hostname: shown on the dashboard. Default: this host's name.
            port: the worker's own service port, 0 if none.
            gpu_count: GPUs on this worker.
            memory_bytes: the host's memory. Default: read with psutil when installed, else 0.
            metadata: labels (at most 64), echoed in `WorkerConfig.config`.
            heartbeats: start the heartbeat thread (default True). Without it, call
                `heartbeat()` yourself at least every `heartbeat_interval_ms`.
            heartbeat_interval_s: seconds between heartbeats. Default: the coordinator's
                `heartbeat_interval_ms` (a third of its timeout, so two may be lost in a row).
            resources: report host CPU, memory, disk and network use with each heartbeat (True,
                needs psutil), not at all (False), or a function returning `ResourceUsage`.
            stream_heartbeats: heartbeat over one StreamHeartbeats stream (default; far cheaper for
                the coordinator), else with unary Heartbeat calls.
        """
        check_id(worker_id, "worker_id")
        hostname = socket.gethostname() if hostname is None else hostname
        check_text(hostname, "hostname", 255)
        check_int(port, "port", 0, 65535)
        check_int(gpu_count, "gpu_count", 0, 256)
        if memory_bytes is None:
            memory_bytes = _host_memory_bytes()
        check_int(memory_bytes, "memory_bytes")
        labels = check_map(metadata, "metadata")
        check_bool(heartbeats, "heartbeats")
        check_bool(stream_heartbeats, "stream_heartbeats")
        interval = check_optional_seconds(heartbeat_interval_s, "heartbeat_interval_s")
        if not (isinstance(resources, bool) or callable(resources)):
            raise InvalidArgument("resources: must be True, False or a function returning ResourceUsage",
                                  field="resources")
        with self._lock:
            if self._closed:
                raise StrataError(grpc.StatusCode.CANCELLED, "the orchestrator was closed")
            if self._info is not None and self._info.worker_id != worker_id:
                raise InvalidArgument(
                    f"worker_id: this orchestrator is registered as {self._info.worker_id!r}; "
                    "use one TrainingOrchestrator per worker", field="worker_id")
        info = pb.WorkerInfo(worker_id=worker_id, hostname=hostname, port=port, gpu_count=gpu_count,
                             memory_bytes=memory_bytes, metadata=labels)
        config = WorkerConfig.from_proto(self._conn.unary("RegisterWorker", info))
        with self._lock:
            self._info = info
            self._config = config
            self._set_membership(Membership(config.rank, config.world_size, config.membership_version))
        log.info("registered %s: rank %d of %d (membership version %d)", worker_id, config.rank,
                 config.world_size, config.membership_version)
        if heartbeats and self._heartbeater is None:
            if resources is True:
                self._resources = default_resources()
            elif callable(resources):
                self._resources = resources
            self._heartbeater = Heartbeater(
                self._conn,
                interval if interval is not None else max(0.05, config.heartbeat_interval_ms / 1000),
                self._heartbeat_request,
                self._on_heartbeat,
                self._reregister,
                use_stream=stream_heartbeats,
                name=f"strata-heartbeat-{worker_id}",
            )
            self._heartbeater.start()
        return config

    def _reregister(self) -> None:
        with self._lock:
            info = self._info
        if info is None or self._closed:
            return
        config = WorkerConfig.from_proto(self._conn.unary("RegisterWorker", info))
        with self._lock:
            self._config = config
            self._set_membership(Membership(config.rank, config.world_size, config.membership_version))
        log.warning("registered again as %s: rank %d of %d", info.worker_id, config.rank, config.world_size)
        self._deliver([Command("membership_changed", {"reregistered": True}, "")])

    @property
    def worker_id(self) -> str:
        """This worker's id (raises when not registered)."""
        return self._require_registered().worker_id

    @property
    def config(self) -> Optional[WorkerConfig]:
        """The latest registration answer, or None before `register_worker`."""
        with self._lock:
            return self._config

    @property
    def membership(self) -> Membership:
        """Rank, world size and membership version as of the latest heartbeat (or registration)."""
        with self._lock:
            return self._membership

    @property
    def rank(self) -> int:
        """This worker's rank as of the latest heartbeat."""
        return self.membership.rank

    @property
    def world_size(self) -> int:
        """Live workers as of the latest heartbeat."""
        return self.membership.world_size

    @property
    def job_id(self) -> str:
        return self._job_id

    @property
    def connection(self) -> Connection:
        """The underlying channels (for advanced use: raw stubs share them)."""
        return self._conn

    @property
    def heartbeat_thread(self) -> Optional[Heartbeater]:
        """The heartbeat thread (its `sent`, `acknowledged`, `reregistrations`, `last_error`)."""
        return self._heartbeater

    @property
    def datasets(self) -> DatasetRegistry:
        """The `DatasetRegistry` over this orchestrator's connection."""
        from .datasets import DatasetRegistry

        with self._lock:
            if self._datasets is None:
                self._datasets = DatasetRegistry(self)
            return self._datasets

    def _require_registered(self) -> pb.WorkerInfo:
        with self._lock:
            if self._info is None:
                raise StrataError(grpc.StatusCode.FAILED_PRECONDITION,
                                  "worker not registered: call register_worker() first")
            return self._info

    # ------------------------------------------------------------------ heartbeats

    def set_status(
        self,
        state: Union[WorkerState, str, int, None] = None,
        *,
        step: Optional[int] = None,
        epoch: Optional[int] = None,
        task: Optional[str] = None,
        send_now: bool = False,
    ) -> None:
        """Sets what the next heartbeats report; arguments left None keep their value.

        Args:
            state: a `WorkerState` (or its name, e.g. "training").
            step: the global training step, 0 or more.
            epoch: the current epoch, 0 or more.
            task: free text shown on the dashboard (a task id when running a task).
            send_now: heartbeat at once instead of at the end of the interval.
        """
        status = pb.WorkerStatus()
        if state is not None:
            resolved = _state(state)
            if resolved == WorkerState.UNKNOWN:
                raise InvalidArgument("state: UNKNOWN is not a state to report", field="state")
            status.state = pb.WorkerStatus.State.Value(resolved.name)
        if step is not None:
            status.current_step = check_int(step, "step")
        if epoch is not None:
            status.current_epoch = check_int(epoch, "epoch")
        if task is not None:
            status.current_task = check_text(task, "task")
        check_bool(send_now, "send_now")
        with self._lock:
            if state is not None:
                self._status.state = status.state
            if step is not None:
                self._status.current_step = status.current_step
            if epoch is not None:
                self._status.current_epoch = status.current_epoch
            if task is not None:
                self._status.current_task = status.current_task
        if send_now and self._heartbeater is not None:
            self._heartbeater.send_now()

    def _heartbeat_request(self) -> pb.HeartbeatRequest:
        with self._lock:
            info = self._info
            status = pb.WorkerStatus()
            status.CopyFrom(self._status)
        request = pb.HeartbeatRequest(worker_id=info.worker_id if info else "",
                                      timestamp_ms=int(time.time() * 1000), status=status)
        if self._resources is not None:
            try:
                usage = self._resources()
            except Exception:
                log.exception("reading resource usage failed; this heartbeat carries none")
                usage = None
            if usage is not None:
                request.resources.CopyFrom(usage.to_proto() if isinstance(usage, ResourceUsage) else usage)
        return request

    def heartbeat(self) -> HeartbeatResult:
        """Sends one unary heartbeat now with the status set by `set_status` and returns the
        commands it delivered (they are also queued for `poll_commands` and listeners)."""
        self._require_registered()
        response = self._conn.unary("Heartbeat", self._heartbeat_request())
        commands = self._on_heartbeat(response)
        return HeartbeatResult(
            acknowledged=response.acknowledged,
            server_timestamp_ms=response.server_timestamp_ms,
            commands=tuple(commands),
            membership=Membership(response.rank, response.world_size, response.membership_version),
        )

    def _on_heartbeat(self, response: pb.HeartbeatResponse) -> list[Command]:
        if not response.acknowledged:
            return []
        with self._lock:
            self._set_membership(Membership(response.rank, response.world_size, response.membership_version))
        commands = [parse_command(raw) for raw in response.pending_commands]
        self._deliver(commands)
        return commands

    def _set_membership(self, membership: Membership) -> None:
        # Called with self._lock held. Versions only grow; an older answer (a late response on a
        # reconnected stream) does not roll the view back.
        if membership.version < self._membership.version:
            return
        if membership.version > self._membership.version:
            self._membership_events += 1
        changed = membership != self._membership
        self._membership = membership
        if changed:
            self._membership_changed.notify_all()

    def _deliver(self, commands: list[Command]) -> None:
        if not commands:
            return
        with self._lock:
            self._commands.extend(commands)
            listeners = list(self._listeners)
            if any(c.name == "membership_changed" for c in commands):
                # Also counts repeats of the same version: the coordinator repeats the command when
                # it served us a plan older than the membership (joins are re-planned at most once
                # a second), so that we ask again.
                self._membership_events += 1
            self._membership_changed.notify_all()
        for command in commands:
            log.info("command from the coordinator: %s", command.raw or command.name)
            for listener in listeners:
                try:
                    listener(command)
                except Exception:
                    log.exception("command listener failed on %r", command.name)

    def poll_commands(self) -> list[Command]:
        """Returns and forgets the commands received since the last call, oldest first
        (`membership_changed`, `checkpoint`, `stop`, `start_task`, `stop_task`, ...)."""
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
            return commands

    def add_command_listener(self, listener: CommandListener) -> None:
        """Calls `listener(command)` for every command, in the heartbeat thread (keep it short;
        exceptions are logged and ignored)."""
        if not callable(listener):
            raise InvalidArgument("listener: must be callable", field="listener")
        with self._lock:
            self._listeners.append(listener)

    @property
    def membership_events(self) -> int:
        """How many membership changes this client has seen (new versions and
        `membership_changed` commands): when it grows, ask for shard assignments again."""
        with self._lock:
            return self._membership_events

    def _wait_membership_event(self, since_events: int, timeout_s: float) -> bool:
        """Waits up to timeout_s for membership_events to exceed since_events; returns whether it did."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._membership_events <= since_events:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._membership_changed.wait(remaining)
            return True

    def wait_for_membership_change(self, since_version: Optional[int] = None, timeout_s: float = 60.0) -> Membership:
        """Blocks until the membership version exceeds `since_version` (default: the current one)
        and returns the new membership. Raises `StrataError(DEADLINE_EXCEEDED)` after `timeout_s`.

        Membership changes arrive with heartbeats, so this needs the heartbeat thread.
        """
        timeout = check_seconds(timeout_s, "timeout_s")
        if since_version is not None:
            check_int(since_version, "since_version")
        deadline = time.monotonic() + timeout
        with self._lock:
            floor = self._membership.version if since_version is None else since_version
            while self._membership.version <= floor:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StrataError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                      f"membership stayed at version {self._membership.version} for {timeout_s} s")
                self._membership_changed.wait(remaining)
            return self._membership

    def wait_for_world_size(self, world_size: int, timeout_s: float = 60.0) -> Membership:
        """Blocks until at least `world_size` workers are live (as heartbeats report it) and
        returns the membership; `StrataError(DEADLINE_EXCEEDED)` after `timeout_s`. Heartbeats are
        sent faster meanwhile (every 0.1 s) so the wait ends soon after the last join."""
        check_int(world_size, "world_size", 1, MAX_INT32)
        timeout = check_seconds(timeout_s, "timeout_s")
        self._require_registered()
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._membership.world_size >= world_size:
                    return self._membership
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StrataError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  f"only {self.world_size} of {world_size} workers joined within {timeout_s} s")
            if self._heartbeater is not None:
                self._heartbeater.send_now()
                with self._lock:
                    self._membership_changed.wait(min(0.1, remaining))
            else:
                self.heartbeat()
                time.sleep(min(0.1, max(0.0, remaining)))

    # ------------------------------------------------------------------ barriers

    def barrier(
        self,
        barrier_id: str,
        *,
        step: int = 0,
        timeout_s: float = 300.0,
        include_participant_ids: bool = False,
    ) -> BarrierResult:
        """Waits until every live worker arrived at `barrier_id`, at most `timeout_s` seconds.

        Only this thread waits: heartbeats and other calls go on. Arriving twice counts once.
        Raises `StrataError` with `DEADLINE_EXCEEDED` when the timeout passes, and `ABORTED` when a
        member dies or leaves while others wait (the coordinator's default policy: the survivors
        should rebuild their group, then call the barrier again, which starts a new round with
        them). The same id after a release starts a new barrier.

        Args:
            barrier_id: 1 to 128 characters of [A-Za-z0-9._:-].
            step: the training step the barrier belongs to (informational).
            timeout_s: the longest wait for every member, in seconds (default 300, the
                coordinator's own default; at most one day).
            include_participant_ids: also return the ids of the workers released together (costs
                N² bytes on the wire for N workers: leave it off for large clusters).
        """
        check_id(barrier_id, "barrier_id")
        check_int(step, "step")
        timeout = check_seconds(timeout_s, "timeout_s", minimum=0.0)
        if timeout > 86_400:
            raise InvalidArgument("timeout_s: at most 86400 (one day)", field="timeout_s")
        check_bool(include_participant_ids, "include_participant_ids")
        info = self._require_registered()
        deadline = time.monotonic() + timeout + BARRIER_GRACE_S

        def request(remaining: Optional[float]) -> pb.BarrierRequest:
            left = (remaining if remaining is not None else timeout) - BARRIER_GRACE_S
            return pb.BarrierRequest(worker_id=info.worker_id, barrier_id=barrier_id, step=step,
                                     timeout_ms=max(1, int(left * 1000)),
                                     include_participant_ids=include_participant_ids)

        response = self._conn.unary("WaitBarrier", request, timeout_s=timeout + BARRIER_GRACE_S,
                                    deadline=deadline)
        return BarrierResult(
            released=response.released,
            barrier_id=response.barrier_id,
            participants=response.participants,
            arrival_order=response.arrival_order,
            participant_ids=tuple(response.participant_ids),
            membership_version=response.membership_version,
        )

    # ------------------------------------------------------------------ checkpoints

    def notify_checkpoint(
        self,
        checkpoint_id: str,
        *,
        step: int,
        epoch: int,
        storage_path: str,
        size_bytes: Optional[int] = None,
        type: Union[CheckpointType, int] = CheckpointType.FULL,
        metadata: Optional[Mapping[str, str]] = None,
        job_id: Optional[str] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
    ) -> CheckpointAck:
        """Records that this worker wrote its part of the checkpoint of `step`.

        Call it after the bytes are durable (written to a temporary name, synced and renamed):
        the coordinator only records the path. The step becomes complete, and
        `latest_checkpoint` returns it, once every rank of the step's membership reported.

        Args:
            checkpoint_id: 1 to 128 characters of [A-Za-z0-9._:-].
            step: the training step the checkpoint captures.
            epoch: the epoch it belongs to.
            storage_path: where the bytes are (a path or URI; recorded, never read).
            size_bytes: its size. Default: the size of `storage_path` when it is a local file, else 0.
            type: a `CheckpointType` (default FULL).
            metadata: labels (at most 64 entries).
            job_id: the job (default: the orchestrator's `job_id`).
            rank, world_size: this part is part `rank` of `world_size` (0 <= rank < world_size),
                e.g. the torch rank and world size of a data-parallel group, or `rank=0,
                world_size=1` when rank 0 saves the whole model. Give both or neither: with
                neither, the part is this worker's coordinator rank and the step needs a part from
                every rank live when its first part arrives. (On the wire a rank of 0 without a
                world size means "my coordinator rank", so the client refuses one without the other.)
        """
        info = self._require_registered()
        check_id(checkpoint_id, "checkpoint_id")
        check_int(step, "step")
        check_int(epoch, "epoch")
        check_text(storage_path, "storage_path")
        if size_bytes is None:
            size_bytes = os.path.getsize(storage_path) if os.path.isfile(storage_path) else 0
        check_int(size_bytes, "size_bytes")
        if isinstance(type, bool) or not isinstance(type, int) or type not in CheckpointType._value2member_map_:
            raise InvalidArgument(f"type: must be a CheckpointType, got {type!r}", field="type")
        labels = check_map(metadata, "metadata")
        job = self._job_id if job_id is None else check_optional_id(job_id, "job_id")
        if world_size is not None:
            check_int(world_size, "world_size", 1, 1_000_000)
            if rank is None:
                raise InvalidArgument("rank: give the rank of this part together with world_size", field="rank")
            check_int(rank, "rank", 0, world_size - 1)
        elif rank is not None:
            check_int(rank, "rank", 0, 1_000_000)
            raise InvalidArgument("world_size: give the number of parts together with rank (a rank alone, 0 "
                                  "included, would be read as this worker's coordinator rank)", field="world_size")
        response = self._conn.unary("NotifyCheckpoint", pb.CheckpointInfo(
            worker_id=info.worker_id, checkpoint_id=checkpoint_id, step=step, epoch=epoch,
            storage_path=storage_path, size_bytes=size_bytes, timestamp_ms=int(time.time() * 1000),
            type=pb.CheckpointType.Value(CheckpointType(type).name), metadata=labels, job_id=job, rank=rank or 0, world_size=world_size or 0,
        ))
        return CheckpointAck(
            success=response.success,
            checkpoint_id=response.checkpoint_id,
            message=response.message,
            global_step=response.global_step,
            complete=response.complete,
            ranks_reported=response.ranks_reported,
            ranks_expected=response.ranks_expected,
        )

    def latest_checkpoint(self, job_id: Optional[str] = None) -> Optional[Recovery]:
        """The latest complete checkpoint of the job and where to resume, or None when there is
        none. Default job: the orchestrator's `job_id`."""
        info = self._require_registered()
        job = self._job_id if job_id is None else check_optional_id(job_id, "job_id")
        response = self._conn.unary("GetLatestCheckpoint", pb.RecoveryRequest(worker_id=info.worker_id, job_id=job))
        return optional_recovery(response)

    # ------------------------------------------------------------------ shutdown

    def deregister(self) -> None:
        """Stops the heartbeats and leaves the cluster at once (the others see a membership change
        at their next heartbeat instead of after the heartbeat timeout). Idempotent."""
        heartbeater = self._heartbeater
        self._heartbeater = None
        if heartbeater is not None:
            heartbeater.stop()
        with self._lock:
            info = self._info
            self._info = None
        if info is None:
            return
        try:
            self._conn.unary("DeregisterWorker", pb.WorkerInfo(worker_id=info.worker_id),
                             retry_timeout_s=DEREGISTER_TIMEOUT_S)
            log.info("deregistered %s", info.worker_id)
        except StrataError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND: already declared dead
                raise

    def close(self, *, deregister: bool = True) -> None:
        """Deregisters (unless `deregister=False`: the coordinator then declares the worker dead
        after its heartbeat timeout), stops the heartbeats and closes the channels. Idempotent;
        a failed deregistration is logged, not raised."""
        if self._closed:
            return
        try:
            if deregister:
                self.deregister()
        except StrataError as error:
            log.warning("deregistration failed at shutdown: %s", error)
        finally:
            self._closed = True
            if self._heartbeater is not None:
                self._heartbeater.stop()
                self._heartbeater = None
            self._conn.close()

    def __enter__(self) -> "TrainingOrchestrator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        info = self._info
        who = f", worker_id={info.worker_id!r}" if info is not None else ""
        return f"TrainingOrchestrator(coordinator={self._conn.address!r}{who})"


def _host_memory_bytes() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        return 0
