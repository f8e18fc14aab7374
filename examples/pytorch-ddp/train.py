#!/usr/bin/env python3
"""One process of a data-parallel PyTorch job (DDP over gloo, CPU) run on Strata.

Strata provides what torchrun and a shared filesystem usually do by hand:

- membership and ranks: every process registers with the coordinator and heartbeats; the
  members of each process group are the workers released together by a Strata barrier;
- data: each rank reads the shards Strata assigns it and reports consumed samples, so an epoch
  is covered exactly once (`strata_client.EpochSamples`);
- checkpoints: rank 0 saves model, optimizer and the data position with `torch.save` (temporary
  file, fsync, rename) and records it with NotifyCheckpoint as the whole checkpoint of its step
  (part 0 of 1: every rank holds the same model);
- recovery: when a process dies (gloo reports the broken connection, a Strata barrier is
  aborted), the survivors destroy the process group, meet at a new Strata barrier, build a new
  group with the new world size, load the job's latest checkpoint and put its data position
  back (`orch.datasets.resume`), so every sample of the epoch is trained on exactly once counting
  from that checkpoint.

It writes, under --run-dir: `checkpoints/step-<step>-g<generation>.pt` (rank 0), `samples/<worker>.jsonl` (the sample indices
of every optimizer step it took, for checking exactly-once) and `generations.jsonl` (each process
group's members and the step it resumed from). It prints one JSON line per event on stdout.

Run it through launch.py (which starts the processes, and optionally the coordinator and a kill -9).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Optional

import grpc
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from strata_client import (  # noqa: E402 (after the path set-up)
    DataPosition,
    StrataError,
    TrainingOrchestrator,
    WorkerState,
)

DATASET = "synthetic-regression"


class GroupFailed(Exception):
    """The process group lost a member (or could not form): rebuild it."""


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def make_data(samples: int, features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic regression problem, the same in every process: y = sin(x·a) + 0.5·(x·b) + noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=g)
    a = torch.randn(features, generator=g) / math.sqrt(features)
    b = torch.randn(features, generator=g) / math.sqrt(features)
    y = torch.sin(2 * (x @ a)) + 0.5 * (x @ b) + 0.05 * torch.randn(samples, generator=g)
    return x, y.unsqueeze(1)


def make_model(features: int, hidden: int) -> torch.nn.Module:
    torch.manual_seed(0)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    return torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))


def save_atomically(state: dict, path: Path) -> None:
    """torch.save to a temporary file, fsync, rename, fsync the folder: a crash leaves either the
    old checkpoint or the whole new one, never a torn file."""
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Job:
    def __init__(self, args: argparse.Namespace, orch: TrainingOrchestrator, total_shards: int) -> None:
        self.args = args
        self.orch = orch
        self.total_shards = total_shards
        self.run_dir = Path(args.run_dir)
        self.x, self.y = make_data(args.samples, args.features, args.seed)
        self.generation = 0
        self.sample_log = open(self.run_dir / "samples" / f"{args.worker_id}.jsonl", "a", buffering=1)

    # ------------------------------------------------------------- process group

    def form_group(self) -> tuple[int, int]:
        """Meets the other live workers at this generation's Strata barrier and builds a gloo
        process group of exactly the workers released together; returns (torch rank, world size).
        Torch ranks follow Strata ranks (which have gaps after a death)."""
        barrier_id = f"pg-{self.generation}"
        while True:
            try:
                released = self.orch.barrier(barrier_id, timeout_s=self.args.barrier_timeout_s,
                                             include_participant_ids=True)
                break
            except StrataError as error:
                if error.code != grpc.StatusCode.ABORTED:
                    raise
                # A member died while we waited (it is now declared dead): meet again without it.
                emit(event="barrier_aborted", barrier=barrier_id, worker=self.args.worker_id, reason=error.details)
        members = sorted(released.participant_ids)
        store_dir = self.run_dir / "stores"
        store = dist.FileStore(str(store_dir / f"{barrier_id}-v{released.membership_version}"), len(members))
        store.set_timeout(timedelta(seconds=self.args.collective_timeout_s))
        store.set(f"strata-rank/{self.args.worker_id}", str(self.orch.rank))
        strata_ranks = {m: int(store.get(f"strata-rank/{m}")) for m in members}
        order = sorted(members, key=lambda m: strata_ranks[m])
        rank, world = order.index(self.args.worker_id), len(order)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world,
                                timeout=timedelta(seconds=self.args.collective_timeout_s))
        self.rank, self.world = rank, world
        self.members = order
        return rank, world

    # ------------------------------------------------------------- resume

    def resume(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, int]:
        """Loads the job's latest checkpoint (or starts from scratch) and puts its data position
        back; returns (step, epoch) to continue from."""
        recovery = self.orch.latest_checkpoint()
        step, epoch, resumed_gen = 0, 0, None
        position = DataPosition.empty(DATASET, 0, self.total_shards)
        if recovery is not None:
            state = torch.load(recovery.checkpoint.storage_path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            step, epoch, resumed_gen = state["step"], state["epoch"], state["gen"]
            position = DataPosition.from_bytes(state["position"])
        if self.rank == 0:
            with open(self.run_dir / "generations.jsonl", "a") as f:
                f.write(json.dumps({"gen": self.generation, "resume_step": step, "resume_epoch": epoch,
                                    "resume_gen": resumed_gen, "world": self.world, "members": self.members,
                                    "consumed_at_resume": position.consumed_samples}) + "\n")
        emit(event="resumed", worker=self.args.worker_id, gen=self.generation, rank=self.rank, world=self.world,
             step=step, epoch=epoch, from_checkpoint=recovery is not None,
             consumed_at_resume=position.consumed_samples)
        # Every rank meets the others; one of them puts the position back before any rank reads
        # the epoch: samples consumed after the checkpoint are served again, those before it never.
        try:
            self.orch.datasets.resume([position], timeout_s=self.args.barrier_timeout_s,
                                      barrier_id=f"resume-g{self.generation}")
        except StrataError as error:
            if error.code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise GroupFailed(f"resume: {error.details}") from error
            raise
        return step, epoch

    def barrier(self, barrier_id: str) -> None:
        try:
            self.orch.barrier(barrier_id, timeout_s=self.args.barrier_timeout_s)
        except StrataError as error:
            if error.code in (grpc.StatusCode.ABORTED, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise GroupFailed(f"barrier {barrier_id}: {error.details}") from error
            raise

    # ------------------------------------------------------------- training

    def train_generation(self) -> None:
        args = self.args
        model = make_model(args.features, args.hidden)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        step, start_epoch = self.resume(model, optimizer)
        ddp = DistributedDataParallel(model)
        for epoch in range(start_epoch, args.epochs):
            self.orch.set_status(WorkerState.TRAINING, step=step, epoch=epoch, task="ddp-example")
            samples = self.orch.datasets.samples(DATASET, epoch, report_every=args.batch_size * 4,
                                                 wait_for_epoch=False)
            epoch_loss, epoch_samples = 0.0, 0
            while True:
                batch = samples.take(args.batch_size)  # reports the previous batch as consumed
                totals = torch.tensor([float(len(batch)), 0.0])
                try:
                    dist.all_reduce(totals)
                except RuntimeError as error:
                    raise GroupFailed(str(error)) from error
                global_count = int(totals[0])
                if global_count == 0:
                    break  # every rank's shards of this epoch are done
                index = torch.tensor(batch, dtype=torch.long)
                x, y = self.x[index], self.y[index]
                squared = ((ddp(x) - y) ** 2).sum()
                # DDP averages gradients over ranks; scale so the step uses the mean over the
                # global batch even when ranks hold different numbers of samples (or none).
                loss = squared * self.world / global_count
                optimizer.zero_grad()
                try:
                    loss.backward()  # the gradient all-reduce happens here
                    summed = torch.tensor([squared.item()])
                    dist.all_reduce(summed)
                except RuntimeError as error:
                    raise GroupFailed(str(error)) from error
                optimizer.step()
                step += 1
                self.sample_log.write(json.dumps({"gen": self.generation, "step": step, "epoch": epoch,
                                                  "samples": batch}) + "\n")
                mean = summed.item() / global_count
                epoch_loss += summed.item()
                epoch_samples += global_count
                self.orch.set_status(step=step)
                if self.rank == 0 and step % args.log_every == 0:
                    emit(event="step", step=step, epoch=epoch, loss=round(mean, 5), world=self.world,
                         gen=self.generation)
                if args.step_delay_ms:
                    time.sleep(args.step_delay_ms / 1000)
                if step % args.checkpoint_every == 0:
                    self.checkpoint(samples, model, optimizer, step, epoch)
            samples.flush()
            if self.rank == 0:
                emit(event="epoch", epoch=epoch, loss=round(epoch_loss / max(1, epoch_samples), 5),
                     samples=epoch_samples, step=step, world=self.world, gen=self.generation)
            self.barrier(f"epoch-{epoch}-done-g{self.generation}")  # barriers between epochs
        if step % args.checkpoint_every != 0:
            self.checkpoint(None, model, optimizer, step, args.epochs)  # the final model
        self.barrier(f"finished-g{self.generation}")

    def checkpoint(self, samples, model, optimizer, step: int, epoch: int) -> None:
        """Every rank reports what it trained on; rank 0 then reads the data position, saves it
        with the model and optimizer, and records the checkpoint once the file is durable."""
        self.orch.set_status(WorkerState.CHECKPOINTING)
        if samples is not None:
            samples.flush()
        self.barrier(f"ckpt-{step}-g{self.generation}")  # everyone's progress up to `step` is in
        if self.rank == 0:
            path = self.run_dir / "checkpoints" / f"step-{step}-g{self.generation}.pt"
            position = (self.orch.datasets.get_position(DATASET, epoch) if epoch < self.args.epochs
                        else DataPosition.empty(DATASET, epoch, self.total_shards))
            save_atomically({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                             "epoch": epoch, "gen": self.generation, "position": position.to_bytes()}, path)
            # Every rank holds the same model, so rank 0's file is the whole checkpoint: part 0 of 1,
            # complete once recorded, whatever rank 0's Strata rank is. A group that breaks before
            # this call leaves no trace of the step; the next group takes it again.
            ack = self.orch.notify_checkpoint(f"step-{step}", step=step, epoch=epoch, storage_path=str(path),
                                              rank=0, world_size=1)
            emit(event="checkpoint", step=step, epoch=epoch, path=str(path), complete=ack.complete)
        self.orch.set_status(WorkerState.TRAINING)

    def run(self) -> None:
        while True:
            self.form_group()
            try:
                self.train_generation()
                emit(event="finished", worker=self.args.worker_id, rank=self.rank, world=self.world,
                     gen=self.generation)
                dist.destroy_process_group()
                return
            except GroupFailed as failure:
                emit(event="group_failed", worker=self.args.worker_id, gen=self.generation,
                     reason=str(failure).splitlines()[0][:200])
                self.orch.set_status(WorkerState.RECOVERING, send_now=True)
                dist.destroy_process_group()
                self.generation += 1


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", required=True, help="host:port of the Strata coordinator")
    parser.add_argument("--worker-id", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--run-dir", required=True, help="shared folder for checkpoints, stores and logs")
    parser.add_argument("--job-id", default="ddp-example")
    parser.add_argument("--min-workers", type=int, default=1, help="workers to wait for before the first step")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2048, help="dataset size")
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--checkpoint-every", type=int, default=10, help="steps")
    parser.add_argument("--log-every", type=int, default=5, help="steps")
    parser.add_argument("--step-delay-ms", type=float, default=0.0, help="slow each step down (demos)")
    parser.add_argument("--barrier-timeout-s", type=float, default=120.0)
    parser.add_argument("--collective-timeout-s", type=float, default=30.0)
    parser.add_argument("--token", default=os.environ.get("STRATA_AUTH_TOKEN"))
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    run_dir = Path(args.run_dir)
    for sub in ("checkpoints", "samples", "stores"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    with TrainingOrchestrator(args.coordinator, token=args.token, job_id=args.job_id) as orch:
        config = orch.register_worker(args.worker_id, metadata={"example": "pytorch-ddp"})
        total_shards = orch.datasets.register_dataset(DATASET, total_samples=args.samples,
                                                      shard_size=args.shard_size, shuffle=True, seed=args.seed)
        emit(event="registered", worker=args.worker_id, strata_rank=config.rank, world=config.world_size)
        orch.set_status(WorkerState.LOADING_DATA)
        orch.wait_for_world_size(args.min_workers, timeout_s=args.barrier_timeout_s)
        Job(args, orch, total_shards).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
