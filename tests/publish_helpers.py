"""Synthetic run folders for the publish tests (no sweep: rows with per-round samples)."""

import numpy as np

from fastnn.reporting.results import write_results
from fastnn.reporting.rows import Row, results_frame
from fastnn.reporting.timing import summarise

MACHINE = {"cpu_model": "Test CPU", "logical_cores": 2, "host": "test", "fastnn": "0.1.0",
           "numpy": "2.0", "numba": "0.60", "blas": []}
CONFIG = {"rounds": 9, "min_time": 0.01, "threads": [1]}


def write_run(folder, day, factors, seed, machine=MACHINE, peers=False, commit="abc"):
    """A run folder: numpy and numba on 3 batch sizes, numba's times times ``factors``."""
    rng = np.random.default_rng(seed)
    rows = []
    backends = [("numpy", 2e-4), ("numba", 1e-4)] + ([("torch", 1.5e-4)] if peers else [])
    for index, batch in enumerate((1, 32, 256)):
        for backend, base in backends:
            factor = factors[index] if backend == "numba" else 1.0
            samples = list(base * batch ** 0.5 * factor * (1 + 0.02 * rng.standard_normal(9)))
            row = Row(backend=backend, level="mlp", layer_sizes="64-30-10", n_params=2280,
                      batch_size=batch, op="forward", dtype="float64", flops=4560 * batch,
                      blas_threads=1, numba_threads=1, reference="numpy")
            row.timed(summarise(samples, 100), peak_gflops=10.0)
            row.samples_s = samples
            rows.append(row)
    folder.mkdir(parents=True)
    metadata = {"title": f"run {folder.name}", "machine": dict(machine, date_utc=day),
                "config": CONFIG, "revision": {"commit": commit * 14},
                "peers": {"torch": {"version": "2"}} if peers else {},
                "noise": {"other_cpu_fraction": 0.0, "calibration_drift": 0.0,
                          "calibration_s": {"start": 0.01, "end": 0.01}}}
    write_results(folder, results_frame(rows), metadata)
    return folder


def write_history(root):
    """Three comparable runs (the third: numba 50 % slower at batch 32), one run of
    another machine, and a corrupt folder."""
    write_run(root / "r1", "2026-01-01T10:00:00", (1, 1, 1), 1, commit="aaa", peers=True)
    write_run(root / "r2", "2026-01-02T10:00:00", (1, 1, 1), 2, commit="bbb", peers=True)
    write_run(root / "r3", "2026-01-03T10:00:00", (1, 1.5, 1), 3, commit="ccc", peers=True)
    write_run(root / "other", "2026-01-04T10:00:00", (1, 1, 1), 4,
              machine=dict(MACHINE, cpu_model="Other CPU"), commit="ddd")
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text("{not json")
    return root
