"""The reporting core shared by ``fastnn bench``, ``fastnn report`` and ``fastnn reproduce``.

One home per concept, so that every harness (and the coming peer adapters and
distributed sweeps) writes the same things the same way:

- :mod:`fastnn.reporting.run_folder`: the output folder, built in a staging folder and
  renamed into place; one replace policy;
- :mod:`fastnn.reporting.machine`: the machine record (one set of keys in CSV, JSON and
  Markdown), thread pinning, the matmul peak;
- :mod:`fastnn.reporting.timing`: calibration, interleaved rounds, median / IQR and the
  unstable flag;
- :mod:`fastnn.reporting.rows`: the result row (its columns declared once) and the table
  of rows;
- :mod:`fastnn.reporting.results`: the results document (``results.json`` /
  ``results.csv``) and a case-by-case log of rows;
- :mod:`fastnn.reporting.roles`: what the backends in a run declared they are (reference,
  baselines, time-limited, compiling), read by the reports instead of backend names;
- :mod:`fastnn.reporting.formatting`: times, ratios, percentages and Markdown tables;
- :mod:`fastnn.reporting.figures`: matplotlib ``Figure`` objects (no pyplot state).

Nothing here imports :mod:`fastnn.bench` or :mod:`fastnn.reproduce`: they import this.
"""
