"""`DatasetRegistry` (datasets, shard assignments, data positions) and `EpochSamples`, the
iterator over this worker's samples of one epoch that makes an epoch exactly once.
"""
from __future__ import annotations

import collections
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Iterator, Mapping, Optional, Sequence

import grpc

from ._proto import coordinator_pb2 as pb
from .errors import InvalidArgument, StrataError
from .models import Assignment, DataPosition, ProgressAck, RestoreResult, ResumeResult, ShardInfo
from .validation import check_bool, check_id, check_int, check_map, check_seconds, check_text

if TYPE_CHECKING:
    from .orchestrator import TrainingOrchestrator

log = logging.getLogger("strata_client")

__all__ = ["DatasetRegistry", "EpochSamples"]

#: Most shards the coordinator returns per page (larger page sizes are capped to it).
MAX_PAGE_SIZE = 100_000
#: Times a paged read starts over when membership changes between its pages.
MAX_PAGING_RESTARTS = 10
#: Most ranges one progress report may carry (the coordinator's list limit is 1,024).
MAX_RANGES_PER_REPORT = 512
#: How long an iterator waits for the heartbeat thread to register the worker again after the
#: coordinator declared it dead, in seconds.
REREGISTER_WAIT_S = 30.0
#: Times `resume` enters a barrier again after a member died while it was open.
MAX_BARRIER_ABORTS = 100


class DatasetRegistry:
    """The coordinator's datasets as seen by one worker (`orchestrator.datasets`).

    Unlike the original's local-only registry, every call goes to the coordinator, so all workers
    share one registration and one exactly-once progress record per epoch.
    """

    def __init__(self, orchestrator: "TrainingOrchestrator") -> None:
        self._orch = orchestrator

    def register_dataset(
        self,
        dataset_id: str,
        total_samples: int,
        shard_size: int,
        *,
        path: str = "",
        format: str = "",
        shuffle: bool = True,
        seed: int = 42,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> int:
        """Registers a dataset of `total_samples` samples cut into shards of `shard_size` (the
        last may be shorter) and returns the number of shards. Registering the same spec again
        is a no-op (every worker may call it); a different spec under the same id raises
        `StrataError(ALREADY_EXISTS)` naming the fields that differ.

        Args:
            dataset_id: 1 to 128 characters of [A-Za-z0-9._:-].
            total_samples: 1 or more.
            shard_size: samples per shard, 1 or more (at most 1,000,000 shards).
            path: where the data lives (opaque to the coordinator; returned in `ShardInfo.file_paths`).
            format: a format name such as "parquet" (informational).
            shuffle: shuffle the order of shards per epoch (seeded, the same in every process).
            seed: the shuffle seed (a signed 64-bit integer).
            metadata: labels (at most 64 entries).
        """
        check_id(dataset_id, "dataset_id")
        check_int(total_samples, "total_samples", 1)
        check_int(shard_size, "shard_size", 1)
        check_text(path, "path")
        check_text(format, "format", 128)
        check_bool(shuffle, "shuffle")
        check_int(seed, "seed", -(2**63), 2**63 - 1)
        labels = check_map(metadata, "metadata")
        response = self._orch.connection.unary("RegisterDataset", pb.DatasetInfo(
            dataset_id=dataset_id, path=path, format=format, total_samples=total_samples,
            shard_size=shard_size, shuffle=shuffle, seed=seed, metadata=labels))
        return int(response.total_shards)

    def get_assignment(self, dataset_id: str, epoch: int, *, page_size: int = 0) -> Assignment:
        """All of this worker's shards for `epoch`, in reading order, with the membership version
        they were computed for. Shards fully consumed this epoch are left out; partly consumed
        ones list their remaining ranges.

        Reads every page (`page_size` shards each; 0 = the coordinator's default of 10,000) and
        starts over from the first page when membership changes between pages.
        """
        info = self._orch._require_registered()
        check_id(dataset_id, "dataset_id")
        check_int(epoch, "epoch")
        check_int(page_size, "page_size", 0, MAX_PAGE_SIZE)
        for _ in range(MAX_PAGING_RESTARTS):
            shards: list[ShardInfo] = []
            token = ""
            version: Optional[int] = None
            total_shards = 0
            restart = False
            while True:
                request = pb.ShardRequest(worker_id=info.worker_id, dataset_id=dataset_id, epoch=epoch,
                                          page_size=page_size, page_token=token)
                try:
                    page = self._orch.connection.unary("GetShardAssignments", request)
                except StrataError as error:
                    if token and error.code == grpc.StatusCode.FAILED_PRECONDITION:
                        restart = True  # the token belongs to an older membership
                        break
                    raise
                if version is not None and page.membership_version != version:
                    restart = True
                    break
                version = page.membership_version
                total_shards = page.total_shards
                shards.extend(ShardInfo.from_proto(s) for s in page.shards)
                token = page.next_page_token
                if not token:
                    break
            if not restart:
                return Assignment(dataset_id=dataset_id, epoch=epoch, membership_version=version or 0,
                                  total_shards=total_shards, shards=tuple(shards))
            log.info("membership changed while reading the shards of %s epoch %d; starting over", dataset_id, epoch)
        raise StrataError(grpc.StatusCode.ABORTED,
                          f"membership kept changing while reading the shards of {dataset_id} epoch {epoch}",
                          method="GetShardAssignments")

    def get_shards(self, dataset_id: str, epoch: int, *, page_size: int = 0) -> list[ShardInfo]:
        """This worker's shards for `epoch` (every page), in reading order. See `get_assignment`."""
        return list(self.get_assignment(dataset_id, epoch, page_size=page_size).shards)

    def report_progress(
        self,
        dataset_id: str,
        epoch: int,
        shard_id: int,
        consumed: Sequence[tuple[int, int]],
        *,
        membership_version: int = 0,
    ) -> ProgressAck:
        """Reports consumed sample ranges `[start, end)` of one shard (a low-level call:
        `samples()` does it for you). Overlaps with earlier reports merge. The rest of the shard
        stays with this worker for the epoch. `membership_version` is the version of the
        assignment you read from (0 = not checked); a stale one for a shard that moved raises
        `StrataError(FAILED_PRECONDITION)`.
        """
        info = self._orch._require_registered()
        check_id(dataset_id, "dataset_id")
        check_int(epoch, "epoch")
        check_int(shard_id, "shard_id")
        check_int(membership_version, "membership_version")
        if not isinstance(consumed, Sequence) or len(consumed) == 0:
            raise InvalidArgument("consumed: give at least one (start, end) range", field="consumed")
        if len(consumed) > 1024:
            raise InvalidArgument(f"consumed: at most 1024 ranges, got {len(consumed)}", field="consumed")
        ranges = []
        items: list[Any] = list(consumed)  # checked one by one: callers may pass anything
        for i, item in enumerate(items):
            if not isinstance(item, Sequence) or len(item) != 2:
                raise InvalidArgument(f"consumed[{i}]: must be a (start, end) pair", field="consumed")
            start = check_int(item[0], f"consumed[{i}].start")
            end = check_int(item[1], f"consumed[{i}].end")
            if end <= start:
                raise InvalidArgument(f"consumed[{i}]: end must be greater than start", field="consumed")
            ranges.append(pb.SampleRange(start=start, end=end))
        response = self._orch.connection.unary("ReportShardProgress", pb.ShardProgress(
            worker_id=info.worker_id, dataset_id=dataset_id, epoch=epoch, shard_id=shard_id,
            consumed=ranges, membership_version=membership_version))
        return ProgressAck(
            accepted=response.accepted,
            membership_version=response.membership_version,
            consumed_samples=response.consumed_samples,
            shard_complete=response.shard_complete,
            epoch_complete=response.epoch_complete,
        )

    def claim_shard(
        self,
        dataset_id: str,
        epoch: int,
        shard_id: int,
        *,
        at: int,
        membership_version: int = 0,
    ) -> ProgressAck:
        """Claims one shard of this worker's assignment for `epoch` without consuming anything (a
        zero-length `ReportShardProgress` range `[at, at)`; a low-level call: `samples()` claims
        each shard before it hands out the shard's first sample). From then on the shard stays
        with this worker for the epoch while it lives, so a worker joining meanwhile is never given
        it. `at` is a sample index inside the shard, usually its first unread one.
        `membership_version` is the version of the assignment you read (0 = not checked); when the
        shard has moved to another worker the coordinator answers `StrataError(FAILED_PRECONDITION)`:
        read the assignment again.
        """
        info = self._orch._require_registered()
        check_id(dataset_id, "dataset_id")
        check_int(epoch, "epoch")
        check_int(shard_id, "shard_id")
        check_int(at, "at")
        check_int(membership_version, "membership_version")
        response = self._orch.connection.unary("ReportShardProgress", pb.ShardProgress(
            worker_id=info.worker_id, dataset_id=dataset_id, epoch=epoch, shard_id=shard_id,
            consumed=[pb.SampleRange(start=at, end=at)], membership_version=membership_version))
        return ProgressAck(
            accepted=response.accepted,
            membership_version=response.membership_version,
            consumed_samples=response.consumed_samples,
            shard_complete=response.shard_complete,
            epoch_complete=response.epoch_complete,
        )

    def get_position(self, dataset_id: str, epoch: int) -> DataPosition:
        """The data position of `epoch`: which samples were reported consumed, by any worker.

        Keep it with a checkpoint, read after every rank reported its progress up to the
        checkpoint's step (for example: each rank calls `EpochSamples.flush()`, then a barrier,
        then one rank reads the position).
        """
        info = self._orch._require_registered()
        check_id(dataset_id, "dataset_id")
        check_int(epoch, "epoch")
        response = self._orch.connection.unary("GetShardProgress", pb.ShardRequest(
            worker_id=info.worker_id, dataset_id=dataset_id, epoch=epoch))
        return DataPosition.from_proto(response)

    def restore_position(self, position: DataPosition) -> RestoreResult:
        """Puts the dataset's progress back to `position` (read earlier with `get_position`):
        samples consumed after it are served again, samples inside it are not, and progress of
        later epochs is forgotten. Every live worker is told `membership_changed` and asks for its
        shards again. Call it once per resume (one rank, then a barrier), before any rank reads
        the epoch.
        """
        info = self._orch._require_registered()
        if not isinstance(position, DataPosition):
            raise InvalidArgument(f"position: must be a DataPosition, got {type(position).__name__}",
                                  field="position")
        response = self._orch.connection.unary("RestoreShardProgress", pb.RestoreProgressRequest(
            worker_id=info.worker_id, position=position.message))
        return RestoreResult(
            consumed_samples=response.consumed_samples,
            membership_version=response.membership_version,
            forgotten_epochs=tuple(response.forgotten_epochs),
        )

    def resume(
        self,
        positions: Sequence[DataPosition],
        *,
        min_world_size: int = 1,
        timeout_s: float = 300.0,
        barrier_id: str = "strata-resume",
    ) -> ResumeResult:
        """Puts the data positions of a checkpoint back when a whole job restarts from it, so that
        every sample is consumed exactly once counting from the checkpoint: samples consumed after
        it (by the processes that died) are served again, samples inside it are not.

        Every worker of the restarting job calls it, with the positions kept in the checkpoint it
        loaded (`get_position(...).to_bytes()` when saving; `DataPosition.empty(...)` for an epoch
        that starts over when there is no checkpoint yet), before it reads any of their epochs. It
        waits until `min_world_size` workers are live (so that a worker starting a little later
        is not left out: a barrier releases as soon as every worker live *then* arrived), meets
        them at `barrier_id`; the first of them by worker id puts each position back
        (`restore_position`); then all meet at `barrier_id + ":done"`. A barrier aborted because a
        member died is entered again with the survivors. Not for one worker re-joining a running
        job: that would roll back the others' progress.

        Args:
            positions: one `DataPosition` per dataset (at most one per dataset).
            min_world_size: workers to wait for before the first barrier, 1 or more. Default 1.
            timeout_s: the longest wait for `min_world_size` and for each barrier, in seconds.
            barrier_id: the barriers' id (1 to 120 characters of [A-Za-z0-9._:-]).
        """
        self._orch._require_registered()
        if isinstance(positions, DataPosition) or not isinstance(positions, Sequence):
            raise InvalidArgument("positions: must be a list of DataPosition", field="positions")
        datasets: set[str] = set()
        for i, position in enumerate(positions):
            if not isinstance(position, DataPosition):
                raise InvalidArgument(f"positions[{i}]: must be a DataPosition, got {type(position).__name__}",
                                      field="positions")
            if position.dataset_id in datasets:
                raise InvalidArgument(f"positions[{i}]: a second position of dataset {position.dataset_id!r}",
                                      field="positions")
            datasets.add(position.dataset_id)
        check_int(min_world_size, "min_world_size", 1, 1_000_000)
        check_seconds(timeout_s, "timeout_s")
        check_id(barrier_id, "barrier_id")
        if len(barrier_id) > 120:
            raise InvalidArgument(f"barrier_id: at most 120 characters, got {len(barrier_id)}", field="barrier_id")
        self._orch.wait_for_world_size(min_world_size, timeout_s=timeout_s)
        participants = tuple(sorted(self._barrier(barrier_id, timeout_s, include_participant_ids=True)))
        restorer = participants[0]
        restored: list[RestoreResult] = []
        if restorer == self._orch.worker_id:
            for position in positions:
                result = self.restore_position(position)
                log.info("data position of %s epoch %d restored: %d samples consumed", position.dataset_id,
                         position.epoch, result.consumed_samples)
                restored.append(result)
        self._barrier(barrier_id + ":done", timeout_s)
        return ResumeResult(participants=participants, restorer=restorer, restored=tuple(restored))

    def _barrier(self, barrier_id: str, timeout_s: float, include_participant_ids: bool = False) -> tuple[str, ...]:
        """A barrier entered again when a member dies while it is open (ABORTED)."""
        for attempt in range(MAX_BARRIER_ABORTS + 1):
            try:
                return self._orch.barrier(barrier_id, timeout_s=timeout_s,
                                          include_participant_ids=include_participant_ids).participant_ids
            except StrataError as error:
                if error.code != grpc.StatusCode.ABORTED or attempt == MAX_BARRIER_ABORTS:
                    raise
                log.info("a member left during barrier %s (%s); entering it again", barrier_id, error.details)
        raise AssertionError("unreachable")

    def samples(
        self,
        dataset_id: str,
        epoch: int,
        *,
        report_every: int = 64,
        wait_for_epoch: bool = True,
        wait_timeout_s: float = 300.0,
        page_size: int = 0,
        on_report: Optional[Callable[[int, tuple[tuple[int, int], ...], ProgressAck], None]] = None,
    ) -> "EpochSamples":
        """This worker's samples of `epoch` as an iterator of sample indices (see `EpochSamples`).

        Args:
            report_every: report consumed samples to the coordinator once this many are pending
                (and always when a shard ends, and on `flush()`). Smaller loses less work to a
                crash, larger costs fewer RPCs. Default 64. (Each shard is also claimed, with a
                zero-length report, before its first sample is handed out.)
            wait_for_epoch: when this worker's shards are done but the epoch is not, wait and take
                over the shards of workers that die (default True). Set it False when the caller
                synchronises ranks itself (data-parallel training: a rank waiting here would stall
                the others' collectives).
            wait_timeout_s: longest such wait, in seconds (default 300); then
                `StrataError(DEADLINE_EXCEEDED)`.
            page_size: shards per `GetShardAssignments` page (0 = the coordinator's default).
            on_report: called with (shard_id, ranges, ack) after each accepted report.
        """
        self._orch._require_registered()
        check_id(dataset_id, "dataset_id")
        check_int(epoch, "epoch")
        check_int(report_every, "report_every", 1, 1_000_000)
        check_bool(wait_for_epoch, "wait_for_epoch")
        check_seconds(wait_timeout_s, "wait_timeout_s")
        check_int(page_size, "page_size", 0, MAX_PAGE_SIZE)
        if on_report is not None and not callable(on_report):
            raise InvalidArgument("on_report: must be callable", field="on_report")
        return EpochSamples(self, dataset_id, epoch, report_every=report_every, wait_for_epoch=wait_for_epoch,
                            wait_timeout_s=wait_timeout_s, page_size=page_size, on_report=on_report)


class _Shard:
    """A shard being read: its remaining ranges, consumed from the front."""

    __slots__ = ("shard_id", "ranges")

    def __init__(self, shard_id: int, ranges: Sequence[tuple[int, int]]) -> None:
        self.shard_id = shard_id
        self.ranges: Deque[list[int]] = collections.deque([start, end] for start, end in ranges if end > start)

    def take(self, n: int) -> list[tuple[int, int]]:
        """Up to n samples from the front, as ranges."""
        out: list[tuple[int, int]] = []
        while n > 0 and self.ranges:
            first = self.ranges[0]
            end = min(first[1], first[0] + n)
            out.append((first[0], end))
            n -= end - first[0]
            first[0] = end
            if first[0] >= first[1]:
                self.ranges.popleft()
        return out

    @property
    def empty(self) -> bool:
        return not self.ranges


class EpochSamples(Iterator[int]):
    """This worker's samples of one epoch, with exactly-once progress (`DatasetRegistry.samples`).

    Iterate it for sample indices (`for index in samples:`), or call `take(n)` for batches. Shards
    come in the coordinator's reading order (shuffled per epoch when the dataset shuffles);
    samples of a shard in index order.

    **Claims**: before it hands out the first sample of a shard, the iterator claims the shard
    (`claim_shard`, a zero-length `ReportShardProgress`): the shard then stays with this worker
    for the epoch, so a worker joining meanwhile is never given a shard this one is reading. A
    shard that moved before the claim (the assignment was stale) is dropped and the assignment read
    again; no sample of it was handed out.

    **When a sample counts as consumed**: when you come back for more (the next `next()` or
    `take()`), or call `flush()`. Consumed samples are reported with `ReportShardProgress` in
    batches (`report_every`), and at once when a shard ends. Reported
    samples are never served again this epoch, to any worker; samples handed out but not reported
    when a worker dies are served again (to the worker that takes over its shard). So call
    `flush()` before you save a checkpoint, and after your last batch if you leave the loop early.

    **Membership changes**: when a heartbeat reports a new membership version, the iterator
    reports what is pending and asks for its shards again, so it takes over the rest of shards
    whose worker died. With `wait_for_epoch`, it also waits for the epoch's other shards instead
    of ending while another worker still holds some, and ends when every shard is consumed.
    """

    def __init__(
        self,
        registry: DatasetRegistry,
        dataset_id: str,
        epoch: int,
        *,
        report_every: int,
        wait_for_epoch: bool,
        wait_timeout_s: float,
        page_size: int,
        on_report: Optional[Callable[[int, tuple[tuple[int, int], ...], ProgressAck], None]],
    ) -> None:
        self._registry = registry
        self._orch = registry._orch
        self.dataset_id = dataset_id
        self.epoch = epoch
        self._report_every = report_every
        self._wait_for_epoch = wait_for_epoch
        self._wait_timeout_s = wait_timeout_s
        self._page_size = page_size
        self._on_report = on_report
        self._queue: Deque[_Shard] = collections.deque()
        self._current: Optional[_Shard] = None
        self._handed: list[tuple[int, int, int]] = []  # (shard, start, end) handed out, not consumed
        self._pending: dict[int, list[tuple[int, int]]] = {}  # consumed, not reported
        self._pending_count = 0
        self._claims = True  # False after an old coordinator refused a zero-length claim
        self._version = -1  # membership version of the assignment; -1 = not read yet
        self._events = -1  # the orchestrator's membership_events when we last read it
        self._done = False
        self.samples_reported = 0
        self.reports = 0
        self.claims = 0
        self.refetches = 0
        self.lost_samples = 0  # handed-out samples whose shard moved away before they were reported

    # -- public -----------------------------------------------------------------

    def __iter__(self) -> "EpochSamples":
        return self

    def __next__(self) -> int:
        batch = self.take(1)
        if not batch:
            raise StopIteration
        return batch[0]

    def take(self, n: int) -> list[int]:
        """Marks everything handed out so far consumed and hands out up to `n` more sample
        indices (fewer at the end of a shard list; an empty list when the epoch is over for this
        worker)."""
        check_int(n, "n", 1, 10_000_000)
        if self._done:
            return []
        self._commit_handed()
        if self._version < 0 or self._orch.membership_events > self._events:
            self._refresh()
        out: list[int] = []
        while len(out) < n:
            if self._current is None or self._current.empty:
                if self._version < 0:
                    # A claim found the assignment stale. Read it again only with nothing handed
                    # out in this call: the coordinator would list those samples as unread.
                    if out:
                        break
                    self._refresh()
                    continue
                if self._queue:
                    shard = self._queue.popleft()
                    if self._claim(shard):
                        self._current = shard
                    continue
                if out:
                    break  # hand out a short batch; the next call looks for more shards
                if not self._find_more():
                    self._finish()
                    return []
                continue
            shard = self._current
            for start, end in shard.take(n - len(out)):
                self._handed.append((shard.shard_id, start, end))
                out.extend(range(start, end))
        return out

    def flush(self) -> None:
        """Marks everything handed out consumed and reports all of it now (returns once the
        coordinator has recorded it durably)."""
        self._commit_handed()
        self._report_all()

    def close(self) -> None:
        """Reports the samples consumed so far (not the last ones handed out: call `flush()` first
        if you processed them) and ends the iteration. Idempotent."""
        if not self._done:
            self._report_all()
            self._done = True

    def __enter__(self) -> "EpochSamples":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._done = True
            try:
                self._report_all()
            except StrataError as error:
                log.warning("reporting progress while leaving on an error failed: %s", error)

    # -- internals --------------------------------------------------------------

    def _claim(self, shard: _Shard) -> bool:
        """Claims `shard` before its first sample is handed out; False when it moved to another
        worker (the assignment is then read again before anything else is handed out)."""
        if not self._claims or shard.empty:
            return not shard.empty
        try:
            self._registry.claim_shard(self.dataset_id, self.epoch, shard.shard_id, at=shard.ranges[0][0],
                                       membership_version=max(0, self._version))
        except StrataError as error:
            if error.code == grpc.StatusCode.FAILED_PRECONDITION:
                # The shard moved (a join re-planned it) or we are not a live member right now
                # (declared dead): read the assignment again, which also waits for re-registration.
                log.info("shard %d of %s epoch %d could not be claimed (%s); reading the assignment again",
                         shard.shard_id, self.dataset_id, self.epoch, error.details)
                self._version = -1
                return False
            if error.code == grpc.StatusCode.INVALID_ARGUMENT:
                # A coordinator older than zero-length claims: read without them (a join may then
                # move a shard being read; its unreported samples would be read twice).
                log.warning("the coordinator refuses shard claims (%s); reading without them", error.details)
                self._claims = False
                return True
            raise
        self.claims += 1
        return True

    def _commit_handed(self) -> None:
        if not self._handed:
            return
        for shard_id, start, end in self._handed:
            ranges = self._pending.setdefault(shard_id, [])
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
            self._pending_count += end - start
        self._handed = []
        current = self._current.shard_id if self._current is not None and not self._current.empty else None
        if self._pending_count >= self._report_every or any(
                len(r) > MAX_RANGES_PER_REPORT for r in self._pending.values()):
            self._report_all()
            return
        for shard_id in [s for s in self._pending if s != current]:
            self._report(shard_id)  # a shard we are done with is reported at once

    def _report_all(self) -> None:
        for shard_id in list(self._pending):
            self._report(shard_id)

    def _report(self, shard_id: int) -> None:
        ranges = self._pending.pop(shard_id, None)
        if not ranges:
            return
        count = sum(end - start for start, end in ranges)
        self._pending_count -= count
        try:
            ack = self._registry.report_progress(self.dataset_id, self.epoch, shard_id, ranges,
                                                 membership_version=max(0, self._version))
        except StrataError as error:
            if error.code != grpc.StatusCode.FAILED_PRECONDITION:
                self._pending[shard_id] = ranges + self._pending.get(shard_id, [])
                self._pending_count += count
                raise
            # The shard moved to another worker although we claimed it: we were declared dead
            # meanwhile (or a restore dropped the claims). That worker reads these samples again.
            # Stop reading the shard.
            self.lost_samples += count
            log.warning("shard %d of %s epoch %d moved to another worker before %d consumed samples were "
                        "reported; they will be read again there (%s)", shard_id, self.dataset_id,
                        self.epoch, count, error.details)
            if self._current is not None and self._current.shard_id == shard_id:
                self._current = None
            self._queue = collections.deque(s for s in self._queue if s.shard_id != shard_id)
            self._version = -1  # read the assignment again
            return
        self.samples_reported += count
        self.reports += 1
        if self._on_report is not None:
            self._on_report(shard_id, tuple(ranges), ack)

    def _refresh(self) -> None:
        """Reads the assignment again (after reporting everything pending, so that the remaining
        ranges it returns are exactly what was not handed out)."""
        self._report_all()
        self._events = self._orch.membership_events
        assignment = self._read_assignment()
        current_id = self._current.shard_id if self._current is not None and not self._current.empty else None
        shards = [_Shard(s.shard_id, s.remaining_ranges) for s in assignment.shards]
        first = [s for s in shards if s.shard_id == current_id]
        rest = [s for s in shards if s.shard_id != current_id and not s.empty]
        # Finish the shard we were reading (it is claimed, so it stayed ours) before the others.
        self._queue = collections.deque(first + rest)
        self._current = None
        if self._version >= 0:
            self.refetches += 1
        self._version = assignment.membership_version

    def _read_assignment(self) -> Assignment:
        """GetShardAssignments, riding out a short spell as a non-member: after a pause longer than
        the heartbeat timeout the coordinator declares us dead (FAILED_PRECONDITION "not a live
        member") until the heartbeat thread has registered us again."""
        deadline = time.monotonic() + REREGISTER_WAIT_S
        while True:
            try:
                return self._registry.get_assignment(self.dataset_id, self.epoch, page_size=self._page_size)
            except StrataError as error:
                heartbeating = self._orch.heartbeat_thread is not None
                if (error.code != grpc.StatusCode.FAILED_PRECONDITION or not heartbeating
                        or time.monotonic() >= deadline):
                    raise
                events = self._orch.membership_events
                log.info("not a live member for the coordinator (%s); waiting to be registered again", error.details)
                self._orch._wait_membership_event(events, min(1.0, max(0.0, deadline - time.monotonic())))
                self._events = self._orch.membership_events

    def _find_more(self) -> bool:
        """Called when our list is empty: reads the assignment again; with `wait_for_epoch`, waits
        for shards of other workers until the epoch is complete. Returns whether there is more."""
        self._report_all()
        self._refresh()
        if self._queue:
            return True
        if not self._wait_for_epoch:
            return False
        deadline = time.monotonic() + self._wait_timeout_s
        while True:
            if self._registry.get_position(self.dataset_id, self.epoch).epoch_complete:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StrataError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  f"{self.dataset_id} epoch {self.epoch}: other workers still hold shards after "
                                  f"{self._wait_timeout_s} s")
            # Shards move to us after a membership change (a holder died); heartbeats tell us. We
            # also look again every second in case heartbeats are off.
            self._orch._wait_membership_event(self._events, min(1.0, remaining))
            self._refresh()
            if self._queue:
                return True

    def _finish(self) -> None:
        self._report_all()
        self._done = True
