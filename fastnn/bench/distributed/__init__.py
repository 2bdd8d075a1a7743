"""The sweep on Dask workers: connecting and scheduling (:mod:`~fastnn.bench.distributed.cluster`),
one case on a worker (:mod:`~fastnn.bench.distributed.task`), and the run plan that lets an
interrupted sweep resume (:mod:`~fastnn.bench.distributed.resume`). Dask is imported only here."""
