"""The benchmark harness behind ``fastnn bench``, ``compare``, ``report`` and ``info``.

Modules, one concern each:

- :mod:`fastnn.bench.cases`: the benchmarked cases (layer sizes, batches, ops), FLOP counts
  and the parsing of their command-line spellings;
- :mod:`fastnn.bench.machine`: machine information, thread pinning, the matmul peak;
- :mod:`fastnn.bench.sweep`: the sweep itself, with its correctness gate;
- :mod:`fastnn.bench.results`: the tidy results table, its files and the run folder;
- :mod:`fastnn.bench.compare`: two runs side by side;
- :mod:`fastnn.bench.pytest_json`: pytest-benchmark JSON files as results tables;
- ``cli_*``: the subcommands.

Calibration, rounds and their statistics come from :mod:`fastnn.timing`, thread
pinning from :mod:`fastnn.config`; both are shared with :mod:`fastnn.reproduce`.
"""

from fastnn.bench.cases import OPS, flop_count, parse_layer_sizes
from fastnn.bench.sweep import SweepConfig, run_sweep

__all__ = ["OPS", "SweepConfig", "flop_count", "parse_layer_sizes", "run_sweep"]
