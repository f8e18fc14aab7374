"""Host resource usage for heartbeats, read with psutil (Debian: python3-psutil)."""
from __future__ import annotations

import logging
from typing import Callable, Optional

from .models import ResourceUsage

log = logging.getLogger("strata_client")

ResourceProvider = Callable[[], Optional[ResourceUsage]]


class HostResources:
    """Samples the host's CPU, memory, disk and network use with psutil.

    CPU is the host's busy share since the previous sample, 100 per fully used core (the first
    sample measures from construction). Disk and network byte counters count from construction,
    so they are "since the worker started" as the proto asks. GPUs are not read (no NVML here);
    pass `gpus` (a function returning `GpuUsage`-shaped dicts) to add them.
    """

    def __init__(self, gpus: Optional[Callable[[], tuple[dict, ...]]] = None) -> None:
        import psutil  # imported here so the client works without it (resources are then omitted)

        self._psutil = psutil
        self._cores = psutil.cpu_count() or 1
        psutil.cpu_percent(interval=None)  # starts the CPU measurement window
        disk = psutil.disk_io_counters()
        net = psutil.net_io_counters()
        self._disk0 = (disk.read_bytes, disk.write_bytes) if disk else (0, 0)
        self._net0 = (net.bytes_recv, net.bytes_sent) if net else (0, 0)
        self._gpus = gpus

    def __call__(self) -> ResourceUsage:
        p = self._psutil
        disk = p.disk_io_counters()
        net = p.net_io_counters()
        return ResourceUsage(
            cpu_percent=p.cpu_percent(interval=None) * self._cores,
            memory_used_bytes=p.virtual_memory().used,
            disk_read_bytes=(disk.read_bytes - self._disk0[0]) if disk else 0,
            disk_write_bytes=(disk.write_bytes - self._disk0[1]) if disk else 0,
            network_rx_bytes=(net.bytes_recv - self._net0[0]) if net else 0,
            network_tx_bytes=(net.bytes_sent - self._net0[1]) if net else 0,
            gpus=self._gpus() if self._gpus is not None else (),
        )


def default_resources() -> Optional[ResourceProvider]:
    """A HostResources sampler, or None (resources left out of heartbeats) without psutil."""
    try:
        return HostResources()
    except ImportError:
        log.info("psutil is not installed (Debian: python3-psutil); heartbeats carry no resource usage")
        return None
