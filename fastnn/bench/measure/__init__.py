"""Measuring: the correctness gate before timing, the sweep, the pytest-benchmark suite's
prepared calls, the test-only injected slowdown, holding a process to one CPU
(``one_cpu``), and the machine tuning behind ``fastnn tune`` (the kernels' BLAS
crossovers and the fastest-backend table)."""
