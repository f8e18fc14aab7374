#!/usr/bin/env python3
"""A worker that reads its samples of one epoch slowly and prints each accepted progress report
as a JSON line (what it has durably consumed), for the exactly-once tests that kill it."""
import argparse
import json
import sys
import time

from strata_client import TrainingOrchestrator


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--epoch", type=int, default=0)
    parser.add_argument("--world", type=int, default=1)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--report-every", type=int, default=10)
    args = parser.parse_args()

    def reported(shard_id, ranges, ack):
        print(json.dumps({"event": "reported", "shard": shard_id, "ranges": [list(r) for r in ranges]}), flush=True)

    with TrainingOrchestrator(args.target) as orch:
        config = orch.register_worker(args.worker_id)
        print(json.dumps({"event": "registered", "rank": config.rank}), flush=True)
        orch.wait_for_world_size(args.world, timeout_s=30)
        samples = orch.datasets.samples(args.dataset, args.epoch, report_every=args.report_every,
                                        on_report=reported)
        for _ in samples:
            time.sleep(args.delay_ms / 1000)
        print(json.dumps({"event": "done"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
