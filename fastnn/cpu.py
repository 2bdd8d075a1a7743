"""The CPU this process runs on, as one name: what a measurement is tied to.

Kept apart from :mod:`fastnn.reporting.machine` (the whole machine record) so that the
backends' tune file (:mod:`fastnn.backends.tuning`) can name the CPU without importing
the reporting package, which imports the backends.
"""

from __future__ import annotations

import contextlib
import platform


def cpu_model():
    """The CPU model name from ``/proc/cpuinfo``, else ``platform.processor()``."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"
