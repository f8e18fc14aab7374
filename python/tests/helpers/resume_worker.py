#!/usr/bin/env python3
"""A worker of a job that checkpoints its data position and can be restarted from it, for the
full-restart test: it resumes (`DatasetRegistry.resume`) from the position in --checkpoint when
that file exists (else from the start), reads its samples of one epoch in batches, and, with
--checkpoint-after N, after its N-th batch takes part in a coordinated checkpoint: flush, barrier,
the first worker by id writes the data position to --checkpoint (temp file, fsync, rename),
barrier. Prints one JSON line per event: `trained` (a batch, once used), `reported` (what the
coordinator recorded), `checkpoint`, `resumed`, `done`."""
import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

from strata_client import DataPosition, TrainingOrchestrator

BATCH = 5


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--world", type=int, required=True)
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--checkpoint-after", type=int, default=0, help="batches; 0: never")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    checkpoint = Path(args.checkpoint)

    with TrainingOrchestrator(args.target) as orch:
        orch.register_worker(args.worker_id)
        total_shards = orch.datasets.register_dataset("ds", total_samples=args.samples, shard_size=10, seed=5)
        if checkpoint.exists():
            position = DataPosition.from_bytes(base64.b64decode(json.loads(checkpoint.read_text())["position"]))
        else:
            position = DataPosition.empty("ds", 0, total_shards)
        resumed = orch.datasets.resume([position], min_world_size=args.world, timeout_s=60)
        emit(event="resumed", restorer=resumed.restorer, participants=list(resumed.participants),
             consumed=position.consumed_samples)

        def reported(shard_id, ranges, ack) -> None:
            emit(event="reported", samples=[i for start, end in ranges for i in range(start, end)])

        samples = orch.datasets.samples("ds", 0, report_every=BATCH, on_report=reported)
        batches = 0
        while batch := samples.take(BATCH):
            time.sleep(args.delay_ms / 1000)  # "train" on the batch
            emit(event="trained", samples=batch)
            batches += 1
            if batches == args.checkpoint_after:
                samples.flush()  # everything trained on is on record...
                released = orch.barrier("ckpt", timeout_s=60, include_participant_ids=True)  # ...on every worker
                if args.worker_id == min(released.participant_ids):
                    state = {"position": base64.b64encode(orch.datasets.get_position("ds", 0).to_bytes()).decode()}
                    tmp = checkpoint.with_suffix(".tmp")
                    with open(tmp, "w") as f:
                        json.dump(state, f)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, checkpoint)
                orch.barrier("ckpt-saved", timeout_s=60)
                emit(event="checkpoint")
        emit(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
