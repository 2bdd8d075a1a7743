"""benchmarks/peer_race_analysis.py: its timing path on a tiny point, and its tables."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "peer_race_analysis.py"
THREADS = {"blas_threads": 1, "numba_threads": 1}


@pytest.fixture(scope="module")
def analysis():
    spec = importlib.util.spec_from_file_location("peer_race_analysis", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_point_pairs_fastnn_autos_pick_with_each_peer(analysis, monkeypatch):
    from fastnn.backends import selection

    monkeypatch.setattr(analysis, "FORWARD_PEERS", ("sklearn", "onnxruntime"))
    # auto's pick known by construction (numpy; without a table entry it would be numba).
    monkeypatch.setattr(selection, "_table", lambda: {"3-3-1 x2 forward": "numpy"})
    point = analysis.race_point((3, 3, 1), 2, "forward", "float64", THREADS, 3, 0.0005,
                                peak=1.0)
    assert point["fastnn"]["backend"] == "numpy"
    assert point["fastnn"]["median_s"] > 0
    for name in ("sklearn", "onnxruntime"):
        q1, median, q3 = point["peers"][name]["ratio_quartiles"]
        assert 0 < q1 <= median <= q3
        assert point["peers"][name]["status"] == "ok"


def _point(dtype, ours, peer_ratio):
    return {"layer_sizes": "4-3-2", "batch_size": 1, "op": "forward", "dtype": dtype,
            "fastnn": {"backend": "numba", "median_s": ours, "gflops": 1.0,
                       "peak_fraction": 0.5},
            "peers": {"torch": {"status": "ok", "note": "", "median_s": ours * peer_ratio,
                                "ratio_quartiles": [peer_ratio * 0.9, peer_ratio,
                                                    peer_ratio * 1.1]},
                      "openvino": {"status": "skipped", "note": "unsupported: no float64"}}}


def test_lost_points_and_the_tables(analysis):
    points = [_point("float32", 3e-6, 0.8), _point("float64", 5e-6, 2.0)]
    assert analysis.lost(points[0]) == ["torch"] and analysis.lost(points[1]) == []
    assert analysis.dtype_ratios(points) == {("forward", "4-3-2", 1): pytest.approx(0.6)}
    document = {"command": "python benchmarks/peer_race_analysis.py", "rounds": 3,
                "min_time": 0.01, "gemm_peak_gflops": {"float32": 80.0}, "points": points,
                "limits": [], "load_average_start": 5.0, "load_average_end": 1.0, "cpus": 2}
    text = analysis.markdown(document)
    assert "| float32 | forward | 4-3-2 | 1 | numba 3.0 µs | 1.0 (50%) | 0.80 [0.72-0.88]" in text
    assert "skipped: unsupported: no float64" in text
    assert "fp32 matmul peak 80.0 GFLOP/s" in text
    assert "| forward | 4-3-2 | 1 | 0.60 |" in text
    assert "NOISY" in text
    document["load_average_start"] = 0.5
    assert "NOISY" not in analysis.markdown(document)
    assert np.isfinite(analysis.quartiles([1.0, 2.0, 3.0])).all()


def test_the_breakdowns_op_call_builds_from_the_sweeps_make_call(analysis):
    from fastnn.bench.workload.cases import make_case

    case = make_case((3, 3, 1), 2, "float64")
    call = analysis._op_call("numpy", case, "forward")
    assert call().shape == (2, 1)
