#!/usr/bin/env python3
"""The original Strata simulated worker flow (scripts/simulated_worker.py), against our coordinator.

Run with Debian's /usr/bin/python3 (python3-grpcio) and stubs generated from proto/coordinator.proto:

    protoc -I proto --python_out=GEN --grpc_python_out=GEN \
        --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin proto/coordinator.proto
    /usr/bin/python3 simulated_worker.py --gen GEN --target 127.0.0.1:50051 --worker-id gpu-node-1 --world 4

Differences from the original, on purpose: no random sleeps (the 3 s start-up sleep is replaced by
waiting until --world workers have registered, so every barrier has the same members), and one
JSON line per RPC outcome on stdout so a test can check them.
"""
import argparse
import json
import random
import socket
import sys
import time

STOCKS = {
    "gpu-node-1": ("AAPL", 50_000),
    "gpu-node-2": ("GOOGL", 48_000),
    "gpu-node-3": ("MSFT", 52_000),
    "gpu-node-4": ("AMZN", 45_000),
}
GIB = 1024**3
MIB = 1024**2


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gen", required=True, help="folder with coordinator_pb2*.py")
    parser.add_argument("--target", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--world", type=int, default=1)
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

    # 1. RegisterWorker
    try:
        config = stub.RegisterWorker(
            pb.WorkerInfo(
                worker_id=worker_id,
                hostname=socket.gethostname(),
                port=50052,
                gpu_count=args.gpu_count,
                memory_bytes=32 * GIB,
            ),
            timeout=10,
        )
    except grpc.RpcError as error:
        emit(event="register_failed", code=error.code().name, details=error.details())
        return 1
    emit(event="registered", rank=config.rank, world_size=config.world_size,
         heartbeat_interval_ms=config.heartbeat_interval_ms)

    # Wait for every worker to join (instead of the original's 3 s sleep).
    deadline = time.time() + 30
    while True:
        response = stub.Heartbeat(
            pb.HeartbeatRequest(worker_id=worker_id, timestamp_ms=int(time.time() * 1000),
                                status=pb.WorkerStatus(state=pb.WorkerStatus.INITIALIZING)),
            timeout=10,
        )
        if response.world_size >= args.world:
            break
        if time.time() > deadline:
            emit(event="world_not_reached", world_size=response.world_size)
            return 1
        time.sleep(0.05)

    # 2. RegisterDataset (errors ignored, as in the original)
    try:
        ack = stub.RegisterDataset(
            pb.DatasetInfo(dataset_id=f"stock-{symbol.lower()}", path=f"/data/stocks/{symbol}",
                           format="parquet", total_samples=samples, shard_size=5000,
                           shuffle=True, seed=42),
            timeout=10,
        )
        emit(event="dataset", dataset_id=ack.dataset_id, total_shards=ack.total_shards)
    except grpc.RpcError as error:
        emit(event="dataset_failed", code=error.code().name)

    steps_per_epoch = samples // 256
    for epoch in range(args.epochs):
        # a. Heartbeat TRAINING with resources
        resources = pb.ResourceUsage(
            cpu_percent=random.uniform(70, 95),
            memory_used_bytes=int(random.uniform(20, 28) * GIB),
            gpu_usage=[
                pb.GpuUsage(gpu_id=g, utilization_percent=random.uniform(88, 99),
                            memory_used_bytes=int(random.uniform(18, 22) * GIB),
                            memory_total_bytes=24 * GIB,
                            temperature_celsius=random.uniform(68, 82))
                for g in range(args.gpu_count)
            ],
        )
        hb = stub.Heartbeat(
            pb.HeartbeatRequest(
                worker_id=worker_id, timestamp_ms=int(time.time() * 1000),
                status=pb.WorkerStatus(state=pb.WorkerStatus.TRAINING, current_step=0,
                                       current_epoch=epoch,
                                       current_task=f"training_{symbol}_epoch{epoch}"),
                resources=resources),
            timeout=10,
        )
        emit(event="heartbeat", epoch=epoch, state="TRAINING", acknowledged=hb.acknowledged)
        # b. (the original's 10 local steps of 0.3 s are skipped)
        # c. NotifyCheckpoint
        ck = stub.NotifyCheckpoint(
            pb.CheckpointInfo(
                worker_id=worker_id, checkpoint_id=f"ckpt-{symbol}-epoch{epoch}",
                step=steps_per_epoch, epoch=epoch,
                storage_path=f"/checkpoints/{symbol}/epoch_{epoch}.pt",
                size_bytes=random.randint(150, 400) * MIB,
                timestamp_ms=int(time.time() * 1000), type=pb.FULL),
            timeout=10,
        )
        emit(event="checkpoint", epoch=epoch, success=ck.success, global_step=ck.global_step)
        # d. Heartbeat CHECKPOINTING without resources
        hb = stub.Heartbeat(
            pb.HeartbeatRequest(
                worker_id=worker_id, timestamp_ms=int(time.time() * 1000),
                status=pb.WorkerStatus(state=pb.WorkerStatus.CHECKPOINTING,
                                       current_step=steps_per_epoch, current_epoch=epoch,
                                       current_task=f"barrier_epoch{epoch}")),
            timeout=10,
        )
        emit(event="heartbeat", epoch=epoch, state="CHECKPOINTING", acknowledged=hb.acknowledged)
        # e. WaitBarrier with a 120 s deadline
        try:
            barrier = stub.WaitBarrier(
                pb.BarrierRequest(worker_id=worker_id, barrier_id=f"epoch-{epoch}-sync", step=epoch),
                timeout=120,
            )
            emit(event="barrier", epoch=epoch, released=barrier.released,
                 participants=barrier.participants, arrival_order=barrier.arrival_order)
        except grpc.RpcError as error:
            emit(event="barrier_failed", epoch=epoch, code=error.code().name, details=error.details())

    # 6. Final heartbeat IDLE
    hb = stub.Heartbeat(
        pb.HeartbeatRequest(
            worker_id=worker_id, timestamp_ms=int(time.time() * 1000),
            status=pb.WorkerStatus(state=pb.WorkerStatus.IDLE, current_step=steps_per_epoch,
                                   current_epoch=args.epochs, current_task="complete")),
        timeout=10,
    )
    emit(event="heartbeat", epoch=args.epochs, state="IDLE", acknowledged=hb.acknowledged)
    # Our addition: the new RPC is reachable from Python stubs too.
    shards = stub.GetShardAssignments(
        pb.ShardRequest(worker_id=worker_id, dataset_id=f"stock-{symbol.lower()}", epoch=0),
        timeout=10,
    )
    emit(event="shards", count=len(shards.shards), total_shards=shards.total_shards,
         membership_version=shards.membership_version)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
