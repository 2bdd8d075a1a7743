"""The pytest-benchmark suite end to end: one real benchmark, its JSON, and `fastnn report`."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from fastnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
NODE = "benchmarks/test_ops.py::test_op[forward-numpy-3-3-1-x1]"


def test_one_suite_benchmark_renders_into_a_report(tmp_path):
    source = tmp_path / "suite.json"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", NODE, "-q", "-p", "no:cacheprovider",
         f"--benchmark-json={source}", "--benchmark-max-time=0.001",
         "--benchmark-min-rounds=3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = json.loads(source.read_text())
    (benchmark,) = document["benchmarks"]
    info = benchmark["extra_info"]
    assert benchmark["group"] == "forward 3-3-1 x1"
    assert info["flops"] == 24 and info["max_rel_diff"] <= 1e-10
    assert info["blas_threads"] == 1 and info["reference"] == "python"
    assert document["machine_info"]["fastnn"]["matmul_peak"]["gflops"] > 0

    out = tmp_path / "report"
    assert main(["report", str(source), "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    assert table[["backend", "layer_sizes", "batch_size", "op"]].values.tolist() == \
        [["numpy", "3-3-1", 1, "forward"]]
    assert table.loc[0, "median_s"] == benchmark["stats"]["median"]
    assert "| 3-3-1 | 1 |" in (out / "report.md").read_text()
