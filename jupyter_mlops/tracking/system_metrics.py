"""System metrics of this process: a 1 Hz sampler thread and per-interval usage (psutil).

:class:`SystemSampler` samples CPU %, RSS, disk and network I/O (and GPU utilisation and
memory through NVML when ``pynvml`` imports and finds a device) once a second and hands each
sample to the run it is pointed at, as ``system/<name>`` metrics. It also keeps the peak RSS
since the last :meth:`SystemSampler.mark` (Linux's own counter, VmHWM, reset at each mark:
exact; elsewhere the peak of the samples), so the notebook can attribute usage to the
cell that ran (:mod:`jupyter_mlops.notebook.cell_metrics`): :meth:`usage_since` gives wall
seconds, CPU seconds, peak RSS and I/O bytes between two moments.

Disk bytes are this process's (``Process.io_counters``, where the OS offers it); network bytes
are the machine's (no OS reports them per process). A counter the platform lacks is left
out, never reported as zero.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.ports import RunRecorder

#: Whether per-cell system metrics are on. Off until asked for: turned on by default they add
#: system/* metrics to every tracked run, which existing exact-metric expectations (the test
#: suite's among them) do not allow for yet; the sampler's cost (~0.1 % of a core) would.
_enabled: bool = False


def enabled() -> bool:
    return _enabled


def set_enabled(on: bool) -> None:
    global _enabled
    _enabled = bool(on)


@dataclass(frozen=True)
class Mark:
    """Counters at one moment (see :meth:`SystemSampler.mark`)."""

    wall: float
    cpu_seconds: float
    io: dict[str, int]


class SystemSampler:
    """A daemon thread sampling this process once per ``interval`` seconds.

    Samples go to ``target`` — a ``(client, run_id)`` pair the caller sets and clears from its
    own thread (the fluent API's active run is per thread, so the sampler cannot look it up).
    """

    def __init__(self, interval: float = 1.0):
        import psutil

        self.interval = interval
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # primes the counter: the first real sample is exact
        self._psutil = psutil
        self._gpu = _nvml_handles()
        self._lock = threading.Lock()
        self._peak_rss = 0
        self._rss()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.target: tuple[RunRecorder, str] | None = None
        self.errors = 0  # samples that could not be logged (the run ended under us, …)

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="mlops-system-metrics",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            target = self.target
            values = self.sample()
            if target is None:
                continue
            client, run_id = target
            try:
                client.log_metrics(run_id, values)
            except Exception:  # never let a logging problem kill the sampler
                self.errors += 1

    # ------------------------------------------------------------------ readings
    def sample(self) -> dict[str, float]:
        """One reading, as ``system/<name>`` metrics (also updates the peak RSS)."""
        rss = self._rss()
        values: dict[str, float] = {"system/cpu_percent": self._process.cpu_percent(None),
                                    "system/rss_bytes": float(rss)}
        for name, value in self._io().items():
            values[f"system/{name}"] = float(value)
        for i, handle in enumerate(self._gpu):
            values.update(_gpu_values(i, handle))
        return values

    def _rss(self) -> int:
        rss = self._process.memory_info().rss
        with self._lock:
            if rss > self._peak_rss:
                self._peak_rss = rss
        return rss

    def _io(self) -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            io = self._process.io_counters()
            out["disk_read_bytes"], out["disk_write_bytes"] = io.read_bytes, io.write_bytes
        except (AttributeError, self._psutil.Error, OSError):
            pass  # not offered on this platform (macOS) or not permitted
        net = self._psutil.net_io_counters()
        if net is not None:
            out["net_sent_bytes"], out["net_recv_bytes"] = net.bytes_sent, net.bytes_recv
        return out

    def mark(self) -> Mark:
        """Counters now, and the peak RSS restarted from the current RSS."""
        _reset_kernel_peak()
        rss = self._process.memory_info().rss
        with self._lock:
            self._peak_rss = rss
        times = self._process.cpu_times()
        return Mark(time.monotonic(), times.user + times.system, self._io())

    def usage_since(self, start: Mark) -> dict[str, float]:
        """Wall and CPU seconds, peak RSS and I/O bytes from ``start`` to now, as
        ``system/cell_<name>`` metrics."""
        self._rss()  # the peak includes this last reading
        times = self._process.cpu_times()
        io = self._io()
        with self._lock:
            peak = max(self._peak_rss, _kernel_peak() or 0)
        out = {"system/cell_wall_seconds": time.monotonic() - start.wall,
               "system/cell_cpu_seconds": times.user + times.system - start.cpu_seconds,
               "system/cell_peak_rss_bytes": float(peak)}
        for name, value in io.items():
            if name in start.io:
                out[f"system/cell_{name}"] = float(max(value - start.io[name], 0))
        return out


def _reset_kernel_peak() -> None:
    """Restart Linux's own peak-RSS counter (VmHWM) for this process: exact where 1 Hz
    sampling would miss a short-lived allocation. Elsewhere the sampled peak stands."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _kernel_peak() -> int | None:
    """Linux's peak RSS (VmHWM) of this process in bytes since the last reset, if known."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _nvml_handles() -> list:
    """NVML device handles when ``pynvml`` imports and a GPU answers; else none."""
    if "pynvml" not in sys.modules:
        try:
            import pynvml  # noqa: F401
        except ImportError:
            return []
    pynvml = sys.modules["pynvml"]
    try:
        pynvml.nvmlInit()
        return [pynvml.nvmlDeviceGetHandleByIndex(i)
                for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # NVML present but no driver / no device
        return []


def _gpu_values(index: int, handle: Any) -> dict[str, float]:
    pynvml = sys.modules["pynvml"]
    try:
        util = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    except Exception:
        return {}
    return {f"system/gpu{index}_utilization_percent": float(util.gpu),
            f"system/gpu{index}_memory_used_bytes": float(memory.used)}

