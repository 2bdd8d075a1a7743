"""The benchmark harness behind ``fastnn bench``, ``compare``, ``report``, ``publish`` and
``tune``, in rooms, one concern each:

- :mod:`fastnn.bench.workload`: what is measured: the cases (layer sizes, batches, FLOP
  counts), a user's own model, and the memory a sweep needs (the ops: :mod:`fastnn.ops`);
- :mod:`fastnn.bench.measure`: measuring: the correctness gate, the sweep, the
  pytest-benchmark suite's calls, and the machine tuning (crossovers, backend table);
- :mod:`fastnn.bench.report`: the report of a run: ``report.md`` and its figures, the
  machines' sections, two runs compared, pytest-benchmark JSON, the published site;
- :mod:`fastnn.bench.distributed`: the sweep on Dask workers, and resuming one;
- :mod:`fastnn.bench.peers`: the peer libraries raced against fastnn.

The subcommands themselves (parsing the command line) are :mod:`fastnn.commands`. The
run folder, machine record, timing loop, result rows, formatters and figure helpers are
the reporting core's (:mod:`fastnn.reporting`), shared with :mod:`fastnn.reproduce`.
"""

from fastnn.bench.measure.sweep import SweepConfig, run_sweep
from fastnn.bench.workload.cases import flop_count, parse_layer_sizes
from fastnn.ops import OPS

__all__ = ["OPS", "SweepConfig", "flop_count", "parse_layer_sizes", "run_sweep"]
