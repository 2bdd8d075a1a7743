"""Measuring: the correctness gate before timing, the sweep, the pytest-benchmark suite's
prepared calls, the test-only injected slowdown, and the machine tuning behind
``fastnn tune`` (the kernels' BLAS crossovers and the fastest-backend table)."""
