#!/usr/bin/env python3
"""The original Strata simulated worker (scripts/simulated_worker.py), with raw grpcio stubs
generated from proto/coordinator.proto: the wire-compatibility example. It uses no Strata Python
code at all, only what `protoc` generates, as a worker written for the original would.

Flow: RegisterWorker, RegisterDataset, then per epoch a TRAINING heartbeat with resources, a
NotifyCheckpoint, a CHECKPOINTING heartbeat and a WaitBarrier; a final IDLE heartbeat, and one
call of the added GetShardAssignments. One JSON line per outcome on stdout.
"""
import argparse
import json
import random
import socket
import sys
import time

STOCKS = {"gpu-node-1": ("AAPL", 50_000), "gpu-node-2": ("GOOGL", 48_000),
          "gpu-node-3": ("MSFT", 52_000), "gpu-node-4": ("AMZN", 45_000)}
GIB = 1024**3
MIB = 1024**2


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    parser = argparse.ArgumentParser(description="The original simulated worker, on raw grpcio stubs.")
    parser.add_argument("--gen", required=True, help="folder with the generated coordinator_pb2*.py")
    parser.add_argument("--target", required=True, help="the coordinator's host:port")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--world", type=int, default=1, help="workers to wait for before the first epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--gpu-count", type=int, default=4)
    args = parser.parse_args()

    sys.path.insert(0, args.gen)
    import grpc
    import coordinator_pb2 as pb
    import coordinator_pb2_grpc as pb_grpc

    symbol, samples = STOCKS.get(args.worker_id, ("SPY", 40_000))
    channel = grpc.insecure_channel(args.target)
    stub = pb_grpc.CoordinatorStub(channel)
    worker_id = args.worker_id

    def heartbeat(state, step, epoch, task, resources=None):
        return stub.Heartbeat(pb.HeartbeatRequest(
            worker_id=worker_id, timestamp_ms=int(time.time() * 1000),
            status=pb.WorkerStatus(state=state, current_step=step, current_epoch=epoch, current_task=task),
            resources=resources), timeout=10)

    config = stub.RegisterWorker(pb.WorkerInfo(worker_id=worker_id, hostname=socket.gethostname(), port=50052,
                                               gpu_count=args.gpu_count, memory_bytes=32 * GIB), timeout=10)
    emit(event="registered", rank=config.rank, world_size=config.world_size,
         heartbeat_interval_ms=config.heartbeat_interval_ms)
    # The original slept 3 s here; we wait until --world workers joined, heartbeating meanwhile.
    deadline = time.time() + 60
    while heartbeat(pb.WorkerStatus.INITIALIZING, 0, 0, "waiting").world_size < args.world:
        if time.time() > deadline:
            emit(event="world_not_reached")
            return 1
        time.sleep(0.05)

    dataset_id = f"stock-{symbol.lower()}"
    try:  # errors ignored, as in the original
        ack = stub.RegisterDataset(pb.DatasetInfo(dataset_id=dataset_id, path=f"/data/stocks/{symbol}",
                                                  format="parquet", total_samples=samples, shard_size=5000,
                                                  shuffle=True, seed=42), timeout=10)
        emit(event="dataset", dataset_id=ack.dataset_id, total_shards=ack.total_shards)
    except grpc.RpcError as error:
        emit(event="dataset_failed", code=error.code().name)

    steps_per_epoch = samples // 256
    for epoch in range(args.epochs):
        resources = pb.ResourceUsage(
            cpu_percent=random.uniform(70, 95), memory_used_bytes=int(random.uniform(20, 28) * GIB),
            gpu_usage=[pb.GpuUsage(gpu_id=g, utilization_percent=random.uniform(88, 99),
                                   memory_used_bytes=int(random.uniform(18, 22) * GIB), memory_total_bytes=24 * GIB,
                                   temperature_celsius=random.uniform(68, 82)) for g in range(args.gpu_count)])
        hb = heartbeat(pb.WorkerStatus.TRAINING, 0, epoch, f"training_{symbol}_epoch{epoch}", resources)
        emit(event="heartbeat", epoch=epoch, state="TRAINING", acknowledged=hb.acknowledged)
        ck = stub.NotifyCheckpoint(pb.CheckpointInfo(
            worker_id=worker_id, checkpoint_id=f"ckpt-{symbol}-epoch{epoch}", step=steps_per_epoch, epoch=epoch,
            storage_path=f"/checkpoints/{symbol}/epoch_{epoch}.pt", size_bytes=random.randint(150, 400) * MIB,
            timestamp_ms=int(time.time() * 1000), type=pb.FULL), timeout=10)
        emit(event="checkpoint", epoch=epoch, success=ck.success, global_step=ck.global_step)
        hb = heartbeat(pb.WorkerStatus.CHECKPOINTING, steps_per_epoch, epoch, f"barrier_epoch{epoch}")
        emit(event="heartbeat", epoch=epoch, state="CHECKPOINTING", acknowledged=hb.acknowledged)
        try:
            barrier = stub.WaitBarrier(pb.BarrierRequest(worker_id=worker_id, barrier_id=f"epoch-{epoch}-sync",
                                                         step=epoch), timeout=120)
            emit(event="barrier", epoch=epoch, released=barrier.released, participants=barrier.participants,
                 arrival_order=barrier.arrival_order)
        except grpc.RpcError as error:
            emit(event="barrier_failed", epoch=epoch, code=error.code().name, details=error.details())

    hb = heartbeat(pb.WorkerStatus.IDLE, steps_per_epoch, args.epochs, "complete")
    emit(event="heartbeat", epoch=args.epochs, state="IDLE", acknowledged=hb.acknowledged)
    shards = stub.GetShardAssignments(pb.ShardRequest(worker_id=worker_id, dataset_id=dataset_id, epoch=0),
                                      timeout=10)
    emit(event="shards", count=len(shards.shards), total_shards=shards.total_shards,
         membership_version=shards.membership_version)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
