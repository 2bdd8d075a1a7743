"""``fastnn report``: a pytest-benchmark JSON file into the report format; the table helpers."""

import json

import pandas as pd
import pytest

from fastnn.cli import main
from fastnn.reporting.formatting import format_ratio, format_time, markdown_table


def _benchmark(backend, median, sizes="64-30-10", batch=32, op="forward", iqr=None):
    iqr = median * 0.02 if iqr is None else iqr
    return {
        "group": f"{op} {sizes} x{batch}", "name": f"test_{op}[{backend}]",
        "fullname": f"benchmarks/test_{op}.py::test_{op}[{backend}-{sizes}-x{batch}]",
        "extra_info": {"backend": backend, "level": "mlp", "layer_sizes": sizes,
                       "batch_size": batch, "op": op, "dtype": "float64", "flops": 42240,
                       "blas_threads": 1, "numba_threads": 1},
        # min <= q1 <= median <= q3 <= max, as pytest-benchmark's statistics are.
        "stats": {"min": min(median * 0.9, median - iqr / 2), "max": median * 2,
                  "mean": median * 1.1,
                  "stddev": median * 0.1, "rounds": 20, "median": median, "iqr": iqr,
                  "q1": median - iqr / 2, "q3": median + iqr / 2, "iterations": 10,
                  "ops": 1 / median, "total": median * 200},
    }


def _document(benchmarks):
    return {"machine_info": {"cpu": {"brand_raw": "Test CPU 3000", "count": 4},
                             "python_version": "3.11.7", "system": "Linux", "release": "6"},
            "commit_info": {}, "datetime": "2026-01-01T00:00:00", "version": "5.1.0",
            "benchmarks": benchmarks}


@pytest.fixture
def benchmark_file(tmp_path):
    benchmarks = [_benchmark("python", 3e-3), _benchmark("numpy", 3e-5),
                  _benchmark("numba", 2e-5, iqr=1e-5),
                  _benchmark("numpy", 1e-5, batch=1), _benchmark("numba", 5e-6, batch=1),
                  {"name": "test_something_else", "fullname": "benchmarks/test_x.py::test_y",
                   "extra_info": {}, "stats": {"median": 1.0}}]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(_document(benchmarks)))
    return path


def test_report_renders_a_pytest_benchmark_file(benchmark_file, tmp_path, capsys):
    out = tmp_path / "suite"
    assert main(["report", str(benchmark_file), "--out", str(out)]) == 0
    assert "5 benchmarks, 1 left out" in capsys.readouterr().out
    for name in ("report.md", "results.csv", "results.json", "time_vs_size.png",
                 "speedup.png", "batch_scaling.png"):
        assert (out / name).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "Test CPU 3000" in report and "Left out (no fastnn case in extra_info): 1" in report
    headline = report.split("## Headline", 1)[1].split("\n\n")[1]
    assert "| 64-30-10 | 32 | 3 ms | 30 µs | 20 µs† | 100× | 150× | 1.5× |" in headline
    assert "| 64-30-10 | 1 |  | 10 µs | 5 µs |" in headline
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 5 and set(table["status"]) == {"ok"}


def test_a_report_folder_can_be_compared(benchmark_file, tmp_path):
    out = tmp_path / "suite"
    assert main(["report", str(benchmark_file), "--out", str(out)]) == 0
    assert main(["compare", str(out), str(out)]) == 0


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("[1, 2", "not valid JSON"),
    ('{"rows": []}', "not a pytest-benchmark JSON file"),
    (json.dumps(_document([{"name": "x", "extra_info": {"unrelated": 1}, "stats": {}}])),
     "holds no fastnn benchmark"),
])
def test_report_bad_files_exit_2_without_files(tmp_path, capsys, content, message):
    source = tmp_path / "input.json"
    if content is not None:
        source.write_text(content)
    out = tmp_path / "out" / "report"
    assert main(["report", str(source), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_report_refuses_an_existing_folder_without_force(benchmark_file, tmp_path):
    out = tmp_path / "suite"
    out.mkdir()
    assert main(["report", str(benchmark_file), "--out", str(out)]) == 2
    assert list(out.iterdir()) == []
    assert main(["report", str(benchmark_file), "--out", str(out), "--force"]) == 0
    assert (out / "report.md").exists()


@pytest.mark.parametrize("seconds, text", [(2.5, "2.5 s"), (0.0123, "12.3 ms"),
                                           (4.56e-6, "4.56 µs"), (7e-8, "70 ns"),
                                           (None, ""), (float("nan"), "")])
def test_format_time(seconds, text):
    assert format_time(seconds) == text


def test_format_ratio_and_markdown_table():
    assert format_ratio(12.345) == "12.3×" and format_ratio(float("nan")) == ""
    table = pd.DataFrame({"numpy": ["1 ms"], "numba": [None]},
                         index=pd.Index(["3-3-1"], name="layer_sizes"))
    assert markdown_table(table) == ("| layer_sizes | numpy | numba |\n|---|---|---|\n"
                                     "| 3-3-1 | 1 ms |  |\n")


def test_tables_keep_dtypes_and_thread_counts_apart():
    from fastnn.bench.report.tables import time_table

    rows = [{"backend": backend, "level": "mlp", "layer_sizes": "3-3-1", "n_params": 16,
             "batch_size": 1, "op": "forward", "dtype": dtype, "blas_threads": threads,
             "numba_threads": threads, "status": "ok", "median_s": median, "iqr_s": 0.0,
             "unstable": False}
            for backend, dtype, threads, median in [
                ("numpy", "float64", 1, 1e-5), ("numpy", "float32", 1, 2e-5),
                ("numpy", "float64", 2, 3e-5), ("numpy", "float32", 2, 4e-5)]]
    table = time_table(pd.DataFrame(rows))
    assert list(table.index.names) == ["op", "layer_sizes", "batch_size", "dtype",
                                       "blas_threads", "numba_threads"]
    assert sorted(table["numpy"]) == ["10 µs", "20 µs", "30 µs", "40 µs"]


def _dtype_benchmark(backend, median, dtype):
    benchmark = _benchmark(backend, median)
    benchmark["extra_info"]["dtype"] = dtype
    return benchmark


def _peak(gflops, dtype=None):
    peak = {"n": 1024, "seconds": 2 * 1024 ** 3 / gflops / 1e9, "gflops": gflops, "threads": 1}
    return peak if dtype is None else dict(peak, dtype=dtype)


def _peaked_file(tmp_path, fastnn_info):
    document = _document([_dtype_benchmark("numba", 2e-5, "float64"),
                          _dtype_benchmark("numba", 1e-5, "float32")])
    document["machine_info"]["fastnn"] = fastnn_info
    path = tmp_path / "peaks.json"
    path.write_text(json.dumps(document))
    return path


def test_each_row_is_divided_by_its_own_dtypes_peak(tmp_path):
    from fastnn.bench.report.pytest_json import load_pytest_benchmark

    path = _peaked_file(tmp_path, {"matmul_peak": _peak(10.0, "float64"),
                                   "matmul_peaks": [_peak(10.0, "float64"),
                                                    _peak(20.0, "float32")]})
    rows, metadata = load_pytest_benchmark(path)
    by_dtype = {row.dtype: row for row in rows}
    assert by_dtype["float64"].peak_gflops == 10.0 and by_dtype["float32"].peak_gflops == 20.0
    for row in rows:
        assert row.peak_fraction == pytest.approx(row.gflops / row.peak_gflops)
    assert sorted(peak["dtype"] for peak in metadata["peaks"]) == ["float32", "float64"]
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "**fp64 matmul peak** (1024x1024 float64 `np.dot`, 1 thread(s)): 10 GFLOP/s." in report
    assert "**fp32 matmul peak** (1024x1024 float32 `np.dot`, 1 thread(s)): 20 GFLOP/s." in report
    # 42240 FLOPs: 2.11 GFLOP/s in 20 µs (21% of 10), 4.22 in 10 µs (21% of 20).
    assert "| forward | 64-30-10 | 32 | float64 | 2.11 (21%) |" in report
    assert "| forward | 64-30-10 | 32 | float32 | 4.22 (21%) |" in report


def test_an_older_file_with_the_float64_peak_only_gives_float32_rows_no_fraction(tmp_path):
    from fastnn.bench.report.pytest_json import load_pytest_benchmark

    path = _peaked_file(tmp_path, {"matmul_peak": _peak(10.0)})
    rows, metadata = load_pytest_benchmark(path)
    by_dtype = {row.dtype: row for row in rows}
    assert by_dtype["float64"].peak_fraction == pytest.approx(by_dtype["float64"].gflops / 10)
    assert by_dtype["float32"].peak_fraction is None and by_dtype["float32"].gflops > 0
    assert [peak["dtype"] for peak in metadata["peaks"]] == ["float64"]


def test_a_report_of_an_older_run_drops_fractions_against_another_dtypes_peak():
    from fastnn.bench.report.document import report_markdown

    rows = [{"backend": "numpy", "level": "mlp", "layer_sizes": "3-3-1", "n_params": 16,
             "batch_size": 1, "op": "forward", "dtype": dtype, "blas_threads": 1,
             "numba_threads": 1, "status": "ok", "median_s": 1e-5, "iqr_s": 0.0,
             "unstable": False, "flops": 24, "gflops": 0.0024, "peak_gflops": 10.0,
             "peak_fraction": 0.00024} for dtype in ("float64", "float32")]
    old = {"peaks": [_peak(10.0)]}  # before the per-dtype peaks: every row over fp64's
    text = report_markdown(pd.DataFrame(rows), old)
    assert "**fp64 matmul peak**" in text and "fp32 matmul peak" not in text
    assert "**No peak fraction for float32:** this run measured the fp64 matmul peak only" in text
    assert "| forward | 3-3-1 | 1 | float64 | 0.0024 (0.024%) |" in text
    assert "| forward | 3-3-1 | 1 | float32 | 0.0024 |" in text
    new = {"peaks": [_peak(10.0, "float64")]}  # a new run of float64 alone
    assert "No peak fraction" not in report_markdown(pd.DataFrame(rows[:1]), new)


def test_bad_per_dtype_peaks_name_the_field(tmp_path, capsys):
    path = _peaked_file(tmp_path, {"matmul_peaks": [_peak(10.0, "float64"),
                                                    dict(_peak(1.0, "float32"), gflops=0)]})
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "machine_info.fastnn.matmul_peaks[1].gflops" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
