"""The benchmark harness behind ``fastnn bench``, ``compare``, ``report`` and ``info``.

Modules, one concern each:

- :mod:`fastnn.bench.ops`: the benchmarked operations, one dispatch table;
- :mod:`fastnn.bench.cases`: the benchmarked cases (layer sizes, batches), FLOP counts
  and the parsing of their command-line spellings;
- :mod:`fastnn.bench.gate`: the correctness gate before timing (sweep and suite);
- :mod:`fastnn.bench.sweep`: the sweep itself;
- :mod:`fastnn.bench.suite`: the pytest-benchmark suite's prepared calls;
- :mod:`fastnn.bench.report`: ``report.md`` and its figures (:mod:`fastnn.bench.plots`);
- :mod:`fastnn.bench.compare`: two runs side by side;
- :mod:`fastnn.bench.pytest_json`: pytest-benchmark JSON files as result rows;
- ``cli_*``: the subcommands.

The run folder, machine record, timing loop, result rows, formatters and figure helpers
are the reporting core's (:mod:`fastnn.reporting`), shared with :mod:`fastnn.reproduce`.
"""

from fastnn.bench.cases import flop_count, parse_layer_sizes
from fastnn.bench.ops import OPS
from fastnn.bench.sweep import SweepConfig, run_sweep

__all__ = ["OPS", "SweepConfig", "flop_count", "parse_layer_sizes", "run_sweep"]
