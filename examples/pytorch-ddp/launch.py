#!/usr/bin/env python3
"""Launches the data-parallel PyTorch example: N train.py processes on this machine, a Strata
coordinator for them unless --coordinator names one, and optionally a kill -9 of one process
mid-run. Prints the job's progress and, at the end, checks that every sample of every epoch was
trained on exactly once counting from the checkpoints the job resumed from.

    /usr/bin/python3 examples/pytorch-ddp/launch.py --workers 3 --kill-rank 0 --kill-at-step 25

Exit code 0 when every surviving process finished and the check passed.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "python"))
from strata_client.testing import CoordinatorProcess  # noqa: E402 (after the path set-up)


def effective_samples(run_dir: Path) -> dict[int, list[int]]:
    """The samples the final model was trained on, per epoch: the last process group's steps,
    plus, for each group it resumed from (following the checkpoints back), that group's steps up
    to the checkpoint. Steps of groups outside that lineage, and steps after the checkpoint a
    later group resumed from, were rolled back."""
    generations = {g["gen"]: g for g in map(json.loads, (run_dir / "generations.jsonl").read_text().splitlines())}
    steps: dict[int, dict[int, list[dict]]] = {}
    for log in (run_dir / "samples").glob("*.jsonl"):
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            steps.setdefault(entry["gen"], {}).setdefault(entry["step"], []).append(entry)
    counted: dict[int, list[int]] = {}
    gen: Optional[int] = max(generations)
    until: Optional[int] = None  # last step of `gen` that counts (None: all of them)
    while gen is not None:
        for step, entries in steps.get(gen, {}).items():
            if until is None or step <= until:
                for entry in entries:
                    counted.setdefault(entry["epoch"], []).extend(entry["samples"])
        until = generations[gen]["resume_step"]
        gen = generations[gen]["resume_gen"]
    return counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="processes to start (2 to 4 on a small machine)")
    parser.add_argument("--coordinator", help="host:port of a running coordinator (default: start one)")
    parser.add_argument("--heartbeat-timeout-ms", type=int, default=2000,
                        help="for the coordinator we start: how soon a killed process is declared dead")
    victim = parser.add_mutually_exclusive_group()
    victim.add_argument("--kill-worker", help="worker id to kill -9 (ddp-0 ... ddp-N-1)")
    victim.add_argument("--kill-rank", type=int, help="kill -9 the process with this rank in the first process group")
    parser.add_argument("--kill-at-step", type=int, default=25, help="kill it once the job reaches this step")
    parser.add_argument("--run-dir", help="checkpoints, logs and stores (default: a new temp folder)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the workers")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="give up (and stop everything) after this")
    args, train_args = parser.parse_known_args()
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")

    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="strata-ddp-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    coordinator: Optional[CoordinatorProcess] = None
    address = args.coordinator
    if address is None:
        coordinator = CoordinatorProcess.start(run_dir / "coordinator", "--heartbeat-timeout-ms",
                                               str(args.heartbeat_timeout_ms))
        address = coordinator.grpc
    print(f"coordinator {address}; run folder {run_dir}", flush=True)

    job_id = f"ddp-{int(time.time())}"
    processes: dict[str, subprocess.Popen] = {}
    for i in range(args.workers):
        worker_id = f"ddp-{i}"
        processes[worker_id] = subprocess.Popen(
            [args.python, str(HERE / "train.py"), "--coordinator", address, "--worker-id", worker_id,
             "--run-dir", str(run_dir), "--job-id", job_id, "--min-workers", str(args.workers), *train_args],
            stdout=subprocess.PIPE, stderr=open(run_dir / f"{worker_id}.log", "w"), text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    killed: list[str] = []
    ranks: dict[int, str] = {}  # torch rank in the first process group -> worker id
    lock = threading.Lock()

    def follow(worker_id: str, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            show(worker_id, event)
            step = event.get("step")
            with lock:
                if event.get("event") == "resumed" and event.get("gen") == 0:
                    ranks[event["rank"]] = worker_id
                target = args.kill_worker if args.kill_rank is None else ranks.get(args.kill_rank)
                if (target and not killed and isinstance(step, int) and step >= args.kill_at_step
                        and event.get("event") == "step"):
                    victim = processes.get(target)
                    if victim is not None and victim.poll() is None:
                        victim.send_signal(signal.SIGKILL)
                        killed.append(target)
                        rank = [r for r, w in ranks.items() if w == target]
                        print(f"--- kill -9 {target} (rank {rank[0] if rank else '?'}, pid {victim.pid}) at step {step}",
                              flush=True)

    readers = [threading.Thread(target=follow, args=item, daemon=True) for item in processes.items()]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + args.timeout_s
    codes: dict[str, Optional[int]] = {}
    try:
        for worker_id, process in processes.items():
            try:
                codes[worker_id] = process.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[worker_id] = None
        for reader in readers:
            reader.join(5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        if coordinator is not None:
            coordinator.stop()

    if (args.kill_worker or args.kill_rank is not None) and not killed:
        print("--- the job ended before the kill step; nothing was killed", flush=True)
    failed = [w for w, code in codes.items() if code != 0 and w not in killed]
    for worker_id in failed:
        print(f"--- {worker_id} exited with {codes[worker_id]}; its log ({run_dir / (worker_id + '.log')}):",
              flush=True)
        print((run_dir / f"{worker_id}.log").read_text()[-3000:], flush=True)
    ok = not failed
    if (run_dir / "generations.jsonl").exists():
        counted = effective_samples(run_dir)
        for epoch in sorted(counted):
            samples = counted[epoch]
            once = len(samples) == len(set(samples))
            print(f"epoch {epoch}: {len(set(samples))} distinct samples trained on, "
                  f"{'each exactly once' if once else 'SOME MORE THAN ONCE'} (counting from the resumed checkpoints)",
                  flush=True)
            ok = ok and once
    else:
        ok = False
    print("job finished" if ok else "job FAILED", flush=True)
    return 0 if ok else 1


def show(worker_id: str, event: dict) -> None:
    kind = event.get("event")
    if kind == "step":
        print(f"step {event['step']:4d}  epoch {event['epoch']}  loss {event['loss']:.4f}  "
              f"world {event['world']}", flush=True)
    elif kind == "epoch":
        print(f"epoch {event['epoch']} done at step {event['step']}: mean loss {event['loss']:.4f} over the "
              f"{event['samples']} samples process group {event['gen']} trained on", flush=True)
    elif kind == "checkpoint":
        state = "recorded" if event["complete"] else "NOT RECORDED AS COMPLETE"
        print(f"checkpoint at step {event['step']} {state} -> {Path(event['path']).name}", flush=True)
    elif kind == "resumed" and event.get("rank") == 0:
        origin = f"checkpoint at step {event['step']}" if event["from_checkpoint"] else "the start"
        print(f"process group {event['gen']}: world size {event['world']}, resuming from {origin} "
              f"(epoch {event['epoch']}, {event['consumed_at_resume']} samples of it already consumed)", flush=True)
    elif kind == "group_failed":
        print(f"{worker_id}: process group {event['gen']} failed: {event['reason']}", flush=True)
    elif kind == "barrier_aborted":
        print(f"{worker_id}: barrier {event['barrier']} aborted ({event['reason']})", flush=True)
    elif kind == "registered":
        print(f"{worker_id} registered: Strata rank {event['strata_rank']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
