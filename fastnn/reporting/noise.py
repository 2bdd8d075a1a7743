"""How busy the machine was during a run: other processes' CPU time, steal, a calibration loop.

A :class:`NoiseMonitor` reads ``/proc/stat`` (the machine's CPU time by kind) and this
process's own CPU time at the start and end of a run: what the machine's CPUs spent
busy beyond this process is other processes' work, competing for the cores, caches and
memory bandwidth. Steal (a virtual machine's CPU time taken by the host) is recorded
apart. A fixed pure-Python calibration loop is timed at the start, middle and end: if
the machine's speed drifts during the run, that loop's time drifts with it.

Where ``/proc/stat`` is missing (not Linux), the CPU fractions are None and only the
calibration loop is recorded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

PROC_STAT = Path("/proc/stat")
# Other processes busy for more than this fraction of the CPUs' time, steal above
# this fraction, or a calibration loop drifting by more: the timings are noisy.
OTHER_CPU_WARNING = 0.10
STEAL_WARNING = 0.02
DRIFT_WARNING = 0.10
# Other processes' work beyond the cores the benchmark leaves free, by more than this
# many cores: they shared the benchmark's own cores, and no timing of the run can be
# trusted to within a factor (time slices of 4x were seen on a 2-core machine).
CONTENTION_MARGIN_CORES = 0.2
CALIBRATION_REPEATS = 5


def cpu_times():
    """(busy, steal, total) jiffies over all CPUs since boot, or None without /proc/stat."""
    try:
        line = PROC_STAT.read_text().splitlines()[0]
    except OSError:
        return None
    fields = [int(value) for value in line.split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def calibration_loop():
    """Seconds of a fixed pure-Python loop (the least of a few repeats, ~10 ms each).

    Returns
    -------
    float
    """
    best = float("inf")
    for _ in range(CALIBRATION_REPEATS):
        start = time.perf_counter()
        total = 0
        for index in range(100_000):
            total += index * index % 7
        best = min(best, time.perf_counter() - start)
    return best


class NoiseMonitor:
    """Record the machine's load over a run: :meth:`start`, :meth:`middle`, :meth:`stop`."""

    def __init__(self):
        self.calibration = {}
        self._cpu = None
        self._own = None
        self._wall = None
        self.record = None

    def start(self):
        self.calibration["start"] = calibration_loop()
        self._cpu, self._own, self._wall = cpu_times(), _own_cpu(), time.perf_counter()
        return self

    def middle(self):
        self.calibration.setdefault("middle", calibration_loop())

    def stop(self, threads=1):
        """The noise record (a JSON-ready dict, see :func:`noise_warnings`).

        Parameters
        ----------
        threads : int
            The most threads the benchmark ran with (the cores it used).
        """
        cpu_end, own_end, wall = cpu_times(), _own_cpu(), time.perf_counter() - self._wall
        self.calibration["end"] = calibration_loop()
        other = steal = None
        if self._cpu is not None and cpu_end is not None:
            hz = os.sysconf("SC_CLK_TCK")
            busy = (cpu_end[0] - self._cpu[0]) / hz
            total = max((cpu_end[2] - self._cpu[2]) / hz, 1e-9)
            steal = (cpu_end[1] - self._cpu[1]) / hz / total
            other = max(0.0, busy - (own_end - self._own)) / total
        times = list(self.calibration.values())
        drift = (max(times) - min(times)) / min(times) if times else None
        self.record = {"other_cpu_fraction": other, "steal_fraction": steal,
                       "cpus": os.cpu_count(), "threads": int(threads), "wall_s": wall,
                       "calibration_s": dict(self.calibration), "calibration_drift": drift}
        self.record["warnings"] = noise_warnings(self.record)
        return self.record


def _own_cpu():
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def noise_warnings(record):
    """Sentences saying why a run's timings are noisy (empty when it looks quiet).

    Parameters
    ----------
    record : dict or None
        ``other_cpu_fraction``, ``steal_fraction``, ``calibration_drift``.

    Returns
    -------
    list of str
    """
    if not record:
        return []
    warnings = []
    other = record.get("other_cpu_fraction")
    if other is not None and other > OTHER_CPU_WARNING:
        warnings.append(f"other processes used {100 * other:.0f}% of the CPUs' time during "
                        f"the run (above {100 * OTHER_CPU_WARNING:.0f}%)")
    steal = record.get("steal_fraction")
    if steal is not None and steal > STEAL_WARNING:
        warnings.append(f"the hypervisor stole {100 * steal:.1f}% of the CPU time "
                        f"(above {100 * STEAL_WARNING:.0f}%)")
    drift = record.get("calibration_drift")
    if drift is not None and drift > DRIFT_WARNING:
        warnings.append(f"the calibration loop's time varied by {100 * drift:.0f}% between "
                        f"the start, middle and end of the run (above "
                        f"{100 * DRIFT_WARNING:.0f}%)")
    return warnings


def contention(record):
    """Why the run's own cores were shared with other work, or ``""``.

    Other processes used more cores' worth of time than the benchmark left free
    (``cpus - threads``), by more than :data:`CONTENTION_MARGIN_CORES`.

    Parameters
    ----------
    record : dict or None

    Returns
    -------
    str
    """
    if not record or record.get("other_cpu_fraction") is None or not record.get("cpus"):
        return ""
    cpus = record["cpus"]
    other = record["other_cpu_fraction"] * cpus
    free = cpus - record.get("threads", 1)
    if other > free + CONTENTION_MARGIN_CORES:
        return (f"other processes kept {other:.1f} of the {cpus} cores busy, more than the "
                f"{free} the benchmark left free")
    return ""


def calibration_speed(record):
    """The median calibration-loop time of a run's noise record, or None."""
    values = list(((record or {}).get("calibration_s") or {}).values())
    return float(np.median(values)) if values else None
