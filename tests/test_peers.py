"""``fastnn bench --peers``: the adapters, their gate, their rows and the report's section.

PyTorch, ONNX Runtime and scikit-learn are installed wherever the tests run (the
``dev`` extra); JAX and OpenVINO are not (their tests are in test_peers_jax.py and
test_peers_openvino.py, run by ``tox -e peers``).
No test here imports JAX: a missing peer is simulated.
"""

import contextlib
import json

import numpy as np
import pandas as pd
import pytest

from fastnn.backends import selection
from fastnn.bench import peers
from fastnn.bench.measure.gate import reference_result
from fastnn.bench.measure.sweep import SweepConfig, case_row, measure_point
from fastnn.bench.peers import PEERS, Peer, PeerCall, gated_call
from fastnn.bench.peers.measure import measure_peers
from fastnn.bench.workload.cases import make_case
from fastnn.cli import main
from fastnn.model import MLP
from fastnn.reporting.machine import MachineRecord
from fastnn.spec import NetworkSpec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = ["bench", "--quick", "--sizes", "3-3-1", "--batches", "1,4", "--backends", "numpy",
        "--rounds", "1", "--min-time", "0.0005"]
INSTALLED = ("torch", "onnxruntime", "sklearn")
THREADS = {"blas_threads": 1, "numba_threads": 1}
PEAK = {"gflops": 1.0}
# The selection table in force during the peer run: auto's pick known by construction
# (numba at batch 1, which the run does not time; numpy at batch 4).
AUTO_TABLE = {f"3-3-1 x{batch} {op}": winner for batch, winner in ((1, "numba"), (4, "numpy"))
              for op in ("forward", "gradients", "train_step")}


class _NotInstalled(Peer):
    def installed(self):
        return False


@pytest.fixture(scope="module")
def peer_run(tmp_path_factory):
    """A tiny sweep with three installed peers and one missing (a stand-in for JAX)."""
    folder = tmp_path_factory.mktemp("runs") / "peers"
    absent = _NotInstalled("absent", "no_such_module", "no-such-dist", "peers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PEERS, "absent", absent)
        patch.setattr(selection, "_table", lambda: AUTO_TABLE)
        assert main([*TINY, "--peers", ",".join(INSTALLED) + ",absent",
                     "--out", str(folder)]) == 0
    return folder


def test_peer_rows_are_gated_timed_and_pinned(peer_run):
    table = pd.read_csv(peer_run / "results.csv")
    rows = table[table["backend"].isin(INSTALLED)]
    # torch: 3 ops x 2 batches; onnxruntime and sklearn: forward x 2 batches.
    assert sorted(rows.groupby("backend").size().items()) == [
        ("onnxruntime", 2), ("sklearn", 2), ("torch", 6)]
    assert set(rows["status"]) == {"ok"}
    assert (rows["median_s"] > 0).all() and (rows["max_rel_diff"] <= 1e-10).all()
    assert (rows["peer_threads"] == 1).all() and (rows["blas_threads"] == 1).all()
    assert rows["compile_s"].notna().all() and rows["first_call_s"].notna().all()
    assert set(rows["level"]) == {"mlp"}
    torch_rows = rows[rows["backend"] == "torch"]
    assert torch_rows["peer_pinning"].str.contains("torch.set_num_threads\\(1\\)").all()


def test_a_missing_peer_is_reported_not_dropped(peer_run):
    table = pd.read_csv(peer_run / "results.csv")
    missing = table[table["backend"] == "absent"]
    assert len(missing) == 2 and set(missing["status"]) == {"skipped"}
    assert missing["note"].str.contains("absent is not installed").all()
    report = (peer_run / "report.md").read_text()
    assert "`absent`: absent is not installed" in report


def test_report_has_the_peer_tables_plot_and_versions(peer_run):
    report = (peer_run / "report.md").read_text()
    for text in ("## Peers: fastnn against other libraries", "### Who wins where",
                 "![peers.png](peers.png)", "### Per point", "| fastnn (auto) |",
                 "torch / fastnn", "vs `onnxruntime`: fastnn faster at",
                 "### Setup and first-call cost", "--peers torch,onnxruntime,sklearn,absent"):
        assert text in report
    assert (peer_run / "peers.png").read_bytes().startswith(PNG_SIGNATURE)
    # The backends' own tables are unchanged by the peers: no peer column there.
    headline = report.split("## Headline", 1)[1].split("\n\n")[1]
    assert "torch" not in headline
    document = json.loads((peer_run / "results.json").read_text())
    versions = document["machine"]["peers"]
    assert set(versions) == set(INSTALLED) and all(versions.values())
    assert document["peers"]["absent"]["installed"] is False
    assert "peers: torch" in MachineRecord.from_dict(document["machine"]).summary()


def test_unknown_peer_is_a_usage_error_naming_the_known_ones(tmp_path, capsys):
    assert main([*TINY, "--peers", "torch,tensorflow", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert ("unknown peer 'tensorflow'; known peers: torch, jax, onnxruntime, openvino, "
            "sklearn") in err
    assert list(tmp_path.iterdir()) == []


def test_aliases_name_the_same_peer():
    assert peers.peer_names(["pytorch", "torch", "ort", "scikit-learn"]) == (
        "torch", "onnxruntime", "sklearn")


class _WrongPeer(Peer):
    """An adapter whose forward is off by 1e-3: the gate must refuse it."""

    calls = 0

    def build(self, net, case, op, threads):
        def forward():
            type(self).calls += 1
            return net.forward(case.X) + 1e-3
        return PeerCall(forward, np.ravel)


def test_the_gate_refuses_a_wrong_peer_and_does_not_time_it(monkeypatch):
    monkeypatch.setitem(PEERS, "wrong", _WrongPeer("wrong", "numpy", "numpy", "peers"))
    _WrongPeer.calls = 0
    config = SweepConfig(backends=("numpy",), levels=("mlp",), rounds=2, min_time=0.0005,
                         peers=("wrong", "sklearn"))
    rows = measure_point(config, ("numpy",), make_case((4, 3, 2), 5), "forward", THREADS,
                         PEAK, {})
    by_name = {row.backend: row for row in rows}
    wrong = by_name["wrong"]
    assert wrong.status == "failed" and wrong.median_s is None
    assert "differs from the" in wrong.note and "not timed" in wrong.note
    assert _WrongPeer.calls == 1  # the gate's call only
    assert by_name["sklearn"].status == "ok" and by_name["numpy"].status == "ok"


@pytest.mark.parametrize("activation, output, loss", [
    ("sigmoid", "sigmoid", "mse"),
    ("tanh", "softmax", "cross_entropy"),
    ("relu", "sigmoid", "binary_cross_entropy"),
    ("leaky_relu", "identity", "mse"),
    ("elu", "softmax", "binary_cross_entropy"),
    ("identity", "tanh", "cross_entropy"),
])
@pytest.mark.parametrize("op", ["forward", "gradients", "train_step"])
def test_torch_matches_the_reference_for_every_loss(activation, output, loss, op):
    case = _case(activation, output, loss)
    prepared = PEERS["torch"].prepare(MLP.from_spec(case.spec, case.params), case, op, 1)
    checked = gated_call(prepared, "float64", "python", reference_result("python", case, op))
    assert checked.passed, checked.note


def _numpy_array_functions(**changes):
    from scipy.special import log_softmax

    from fastnn.bench.peers.losses import ArrayFunctions, StableForms

    stable_logs = {"sigmoid": StableForms(lambda Z: -np.logaddexp(0, -Z),
                                          lambda Z: -np.logaddexp(0, Z)),
                   "softmax": StableForms(lambda Z: log_softmax(Z, axis=-1)),
                   "exp": StableForms(lambda Z: Z)}
    stable_logs.update(changes)
    return ArrayFunctions(stable_logs={k: v for k, v in stable_logs.items() if v is not None},
                          log=np.log, clip_below=np.maximum, total=np.sum)


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "exp", "identity"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_the_peers_loss_is_fastnns_on_every_stable_log_of_the_table(loss, output):
    """The log of an exp output is its pre-activation, as in fastnn (a clipped log
    differed where exp(z) is below the floor)."""
    from fastnn.bench.peers.losses import mean_loss
    from fastnn.functions import ACTIVATIONS, loss_value

    rng = np.random.default_rng(0)
    Z = rng.normal(scale=20.0, size=(6, 3))
    Y = ACTIVATIONS[output].function(Z)
    T = rng.random((6, 3)) if output != "softmax" else np.eye(3)[rng.integers(3, size=6)]
    expected = loss_value(loss, output, Z, Y, T)
    assert mean_loss(loss, output, Z, Y, T, _numpy_array_functions()) == \
        pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("changes", [{"exp": None}, {"tanh": "x"}, {"softmax": "both"}])
def test_a_peer_must_give_exactly_the_tables_closed_form_logs(changes):
    from fastnn.bench.peers.losses import StableForms

    forms = {"x": StableForms(np.tanh), "both": StableForms(np.log, np.log)}
    with pytest.raises(ValueError, match="closed-form logs must be the activation table's"):
        _numpy_array_functions(**{name: forms.get(value) for name, value in changes.items()})


def test_a_user_models_targets_follow_the_distribution_flag(tmp_path):
    from fastnn.bench.workload.user_model import model_case

    for output, one_hot in (("softmax", True), ("sigmoid", False)):
        path = tmp_path / f"{output}.npz"
        MLP([3, 4, 3], output_activation=output, loss="cross_entropy", seed=0,
            backend="numpy").save(path)
        T = model_case(path, 5).T
        assert np.array_equal(T.sum(axis=1), np.ones(5)) == one_hot
        assert set(np.unique(T)) <= {0.0, 1.0} if one_hot else T.max() < 1


@pytest.mark.parametrize("name", ["onnxruntime", "sklearn", "torch"])
def test_forward_peers_match_in_float32(name):
    case = make_case((5, 4, 3), 6, dtype="float32")
    prepared = PEERS[name].prepare(MLP.from_spec(case.spec, case.params), case, "forward", 1)
    checked = gated_call(prepared, "float32", "python", reference_result("python", case,
                                                                          "forward"))
    assert checked.passed, checked.note


@pytest.mark.parametrize("name, activation, reason", [
    ("onnxruntime", "elu", "no float64 kernel for Elu"),
    ("sklearn", "leaky_relu", "no 'leaky_relu' hidden activation"),
])
def test_unsupported_points_are_skipped_not_errors(name, activation, reason):
    case = _case(activation, "sigmoid", "mse")
    rows = _peer_rows(name, case, "forward")
    assert rows[0].status == "skipped" and reason in rows[0].note


def test_forward_only_peers_give_no_rows_for_other_ops():
    case = make_case((3, 3, 1), 2)
    assert _peer_rows("onnxruntime", case, "gradients") == []


def test_torch_threads_are_restored_after_the_point():
    import torch

    before = torch.get_num_threads()
    with PEERS["torch"].pinned(1) as threads:
        assert torch.get_num_threads() == 1 and threads.intra == 1
    assert torch.get_num_threads() == before


def test_peer_metadata_says_what_is_missing():
    absent = _NotInstalled("absent", "no_such_module", "no-such-dist", "peers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PEERS, "absent", absent)
        patch.setattr(selection, "_table", lambda: AUTO_TABLE)
        data = peers.peers_metadata(["absent", "sklearn"])
        assert peers.peer_versions(["absent", "sklearn"]) == {"sklearn": data["sklearn"]["version"]}
    assert data["absent"] == {"installed": False, "version": None, "ops": ["forward"],
                              "dtypes": ["float64", "float32"], "description": "",
                              "note": 'absent is not installed (pip install "fastnn[peers]" '
                                      'or pip install no-such-dist)'}


def _case(activation, output, loss, sizes=(5, 4, 3), batch=6):
    spec = NetworkSpec.create(sizes, activation, output, loss, "float64")
    rng = np.random.default_rng(1)
    net = MLP(sizes, activation=activation, output_activation=output, loss=loss, seed=2,
              backend="numpy")
    X = rng.random((batch, sizes[0]))
    T = np.eye(sizes[-1])[rng.integers(sizes[-1], size=batch)] if output == "softmax" \
        else rng.random((batch, sizes[-1]))
    from fastnn.bench.workload.cases import Case
    return Case(spec, net.flat_parameters.copy(), X, T)


def _peer_rows(name, case, op, reference="python"):
    timed = []
    with contextlib.ExitStack() as pins:
        return measure_peers([name], case, op, THREADS, reference,
                             reference_result(reference, case, op), timed, pins,
                             lambda peer: case_row(peer, "mlp", case, op, THREADS, reference))


def test_peers_race_a_poisson_network_on_forward_only():
    import fastnn
    from fastnn.bench.peers import PEERS
    from fastnn.bench.peers.losses import mean_loss

    spec = fastnn.MLP([3, 4, 2], output_activation="exp", loss="poisson", backend="numpy").spec
    for peer in PEERS.values():
        assert "poisson" in peer.skip_reason(spec, "gradients") or \
            "forward only" in peer.skip_reason(spec, "gradients")
    with pytest.raises(ValueError, match="poisson"):
        mean_loss("poisson", "exp", None, None, None, None)


@pytest.mark.parametrize("name", ["onnxruntime", "sklearn", "torch"])
def test_forward_peers_compute_in_float32_when_asked(name):
    # A float32 race must time each peer in float32, not a float64 computation of
    # float32 data: the raw result of the timed call is float32.
    case = make_case((5, 4, 3), 6, dtype="float32")
    prepared = PEERS[name].prepare(MLP.from_spec(case.spec, case.params), case, "forward", 1)
    result = prepared.call()
    assert isinstance(result, np.ndarray) and result.dtype == np.float32


def test_torch_trains_in_float32_when_asked():
    import torch

    case = make_case((5, 4, 3), 6, dtype="float32")
    net = MLP.from_spec(case.spec, case.params)
    loss, gradients = PEERS["torch"].prepare(net, case, "gradients", 1).call()
    assert loss.dtype == gradients[0].dtype == torch.float32


def _frame_of_one_point(auto):
    """A run's rows at one point: numba slower than numpy, and one peer."""
    point = {"op": "forward", "layer_sizes": "4-3-2", "n_params": 23, "batch_size": 8,
             "dtype": "float64", "blas_threads": 1, "level": "mlp", "status": "ok"}
    rows = [dict(point, backend="numba", median_s=2.0, q1_s=1.9, q3_s=2.1, iqr_s=0.2),
            dict(point, backend="numpy", median_s=1.0, q1_s=0.9, q3_s=1.1, iqr_s=0.2),
            dict(point, backend="torch", median_s=3.0, q1_s=2.8, q3_s=3.3, iqr_s=0.5,
                 auto_backend=auto, auto_table="shipped")]
    return pd.DataFrame(rows), {"peers": {"torch": {"installed": True}}}


def test_fastnn_side_is_autos_pick_not_the_fastest_backend():
    from fastnn.bench.peers.report import comparison_frame, point_table

    frame, metadata = _frame_of_one_point("numba")
    (row,) = comparison_frame(frame, metadata).to_dict("records")
    # The ratio is against numba (auto's pick), not numpy (the minimum of the medians).
    assert row["fastnn_backend"] == "numba" and row["ratio"] == pytest.approx(1.5)
    assert row["best_backend"] == "numpy" and row["auto_in_run"]
    assert row["ratio_low"] == pytest.approx(2.8 / 2.1)
    assert row["ratio_high"] == pytest.approx(3.3 / 1.9)
    table = point_table(comparison_frame(frame, metadata))
    assert table.iloc[0]["fastnn (auto)"].startswith("numba 2")
    assert table.iloc[0]["fastest backend"].startswith("numpy 1")


def test_autos_pick_missing_from_the_run_is_said(monkeypatch):
    from fastnn.bench.peers.report import comparison_frame

    # Among the backends the run timed, the table's choice stands in: numba here.
    monkeypatch.setattr(selection, "_table", lambda: {"4-3-2 x8 forward": "numba"})
    frame, metadata = _frame_of_one_point("numba_parallel")
    (row,) = comparison_frame(frame, metadata).to_dict("records")
    assert row["fastnn_backend"] == "numba" and not row["auto_in_run"]
    assert row["ratio"] == pytest.approx(1.5)


def test_peer_rows_record_autos_pick(peer_run):
    table = pd.read_csv(peer_run / "results.csv")
    rows = table[table["backend"].isin(INSTALLED)]
    picks = dict(zip(rows["batch_size"], rows["auto_backend"]))
    assert picks == {1: "numba", 4: "numpy"} and len(set(rows["auto_backend"])) == 2
    assert rows.groupby("batch_size")["auto_backend"].nunique().eq(1).all()
    assert rows["auto_table"].notna().all()
    report = (peer_run / "report.md").read_text()
    # This run timed numpy only: at batch 1 auto's own pick (numba) is named as missing
    # and numpy stands in; at batch 4 numpy is auto's pick.
    assert "numpy (auto's pick was not in this run)" in report
    per_point = report.split("### Per point")[1]
    batch_4 = [line for line in per_point.splitlines() if line.startswith("| forward | 3-3-1 | 4 ")]
    assert batch_4 and "not in this run" not in batch_4[0]


def test_float32_points_with_the_python_reference_build_the_peers():
    # The pure-Python reference computes in float64 only: the peers' network is built
    # on another backend, not refused.
    case = make_case((4, 3, 2), 3, dtype="float32")
    (row,) = _peer_rows("torch", case, "forward")
    assert row.status == "" and row.max_rel_diff <= 1e-4


def test_tally_is_split_by_dtype_when_a_run_has_both():
    from fastnn.bench.peers.report import _tally_markdown, comparison_frame

    frame, metadata = _frame_of_one_point("numba")
    other = frame.assign(dtype="float32", median_s=frame["median_s"] * 0.5)
    other.loc[other["backend"] == "torch", "median_s"] = 0.5  # torch wins in float32
    text = _tally_markdown(comparison_frame(pd.concat([frame, other]), metadata))
    assert "vs `torch` in float64: fastnn faster at 1 of 1 points" in text
    assert "vs `torch` in float32: fastnn faster at 0 of 1 points" in text


def test_the_gflops_table_gives_each_dtype_its_own_peaks_fraction():
    from fastnn.bench.peers.report import comparison_frame, peer_markdown, rate_table

    frame, metadata = _frame_of_one_point("numba")
    flops, peaks = 4e9, {"float64": 10.0, "float32": 20.0}
    both = pd.concat([frame, frame.assign(dtype="float32")], ignore_index=True)
    both["gflops"] = flops / both["median_s"] / 1e9
    both["peak_fraction"] = both["gflops"] / both["dtype"].map(peaks)
    table = rate_table(comparison_frame(both, metadata))
    # numba: 2 GFLOP/s, 20% of fp64's 10 and 10% of fp32's 20; torch 1.33: 13% and 6.7%.
    assert table.loc[("forward", "4-3-2", 8, "float64")].tolist() == ["2 (20%)", "1.33 (13%)"]
    assert table.loc[("forward", "4-3-2", 8, "float32")].tolist() == ["2 (10%)", "1.33 (6.7%)"]
    text = peer_markdown(both.assign(compile_s=None, first_call_s=None, note=""), metadata)
    assert "### GFLOP/s per point" in text
    # A peer not timed has no rate; a run without the fraction shows GFLOP/s alone.
    both.loc[both["backend"] == "torch", "status"] = "skipped"
    table = rate_table(comparison_frame(both.drop(columns="peak_fraction"), metadata))
    assert table.loc[("forward", "4-3-2", 8, "float64")].tolist() == ["2", ""]


def test_peer_rows_pair_with_fastnn_on_their_own_host():
    from fastnn.bench.peers.report import _tally_markdown, comparison_frame

    frame, metadata = _frame_of_one_point("numba")
    other = frame.assign(host="b")
    other.loc[other["backend"] == "numba", "median_s"] = 6.0  # host b: torch wins
    two_hosts = pd.concat([frame.assign(host="a"), other])
    comparison = comparison_frame(two_hosts, metadata)
    # One comparison row per peer row, each against its own machine's fastnn time.
    assert len(comparison) == 2
    assert dict(zip(comparison["host"], comparison["ratio"])) == {
        "a": pytest.approx(1.5), "b": pytest.approx(0.5)}
    text = _tally_markdown(comparison)
    assert "vs `torch` on a: fastnn faster at 1 of 1 points" in text
    assert "vs `torch` on b: fastnn faster at 0 of 1 points" in text


class _ShortStepPeer(Peer):
    """A float32 train_step that moves the parameters 90% of the way: the gate must refuse
    it (the parameters after it are within float32's tolerance; the step is not)."""

    def build(self, net, case, op, threads):
        expected = reference_result("numpy", case, op)
        origin = np.concatenate([[0.0], case.params.astype(np.float64)])
        short = origin + 0.9 * (expected - origin)
        short[0] = expected[0]
        return PeerCall(lambda: short, lambda result: result)


def test_a_peer_train_step_is_gated_on_the_step():
    from fastnn.bench.measure.gate import step_origin
    from fastnn.testing import TOLERANCE, relative_difference

    case = make_case((5, 4, 3), 6, dtype="float32")
    short = _ShortStepPeer("short", "numpy", "numpy", "peers", ops=("train_step",))
    prepared = short.prepare(MLP.from_spec(case.spec, case.params), case, "train_step", 1)
    expected = reference_result("numpy", case, "train_step")
    # The parameters-after comparison would let it through:
    assert relative_difference(prepared.call(), expected) <= TOLERANCE["float32"]
    assert not gated_call(prepared, "float32", "numpy", expected,
                          origin=step_origin(case, "train_step")).passed
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PEERS, "short", short)
        (row,) = _peer_rows("short", case, "train_step", reference="numpy")
    assert row.status == "failed" and "not timed" in row.note


def test_torch_train_step_is_timed_from_the_gated_state():
    case = make_case((5, 4, 3), 6)
    timed = []
    with contextlib.ExitStack() as pins:
        (row,) = measure_peers(["torch"], case, "train_step", THREADS, "numpy",
                               reference_result("numpy", case, "train_step"), timed, pins,
                               lambda peer: case_row(peer, "mlp", case, "train_step",
                                                     THREADS, "numpy"))
    assert row.status == ""
    prepared = PEERS["torch"].prepare(MLP.from_spec(case.spec, case.params), case,
                                      "train_step", 1)
    first = prepared.extract(prepared.call())
    prepared.reset()
    np.testing.assert_array_equal(prepared.extract(prepared.call()), first)


class _CountingPeer(Peer):
    """A correct train_step that counts its resets."""

    resets = 0

    def build(self, net, case, op, threads):
        expected = reference_result("numpy", case, op)

        def reset():
            type(self).resets += 1
        return PeerCall(lambda: expected, lambda result: result, reset=reset)


def test_every_timed_round_of_a_peer_starts_with_its_reset(monkeypatch):
    monkeypatch.setitem(PEERS, "counting",
                        _CountingPeer("counting", "numpy", "numpy", "peers", ops=("train_step",)))
    _CountingPeer.resets = 0
    case = make_case((4, 3, 2), 5)
    timed = []
    with contextlib.ExitStack() as pins:
        (row,) = measure_peers(["counting"], case, "train_step", THREADS, "numpy",
                               reference_result("numpy", case, "train_step"), timed, pins,
                               lambda peer: case_row(peer, "mlp", case, "train_step",
                                                     THREADS, "numpy"))
    (_, timer), = timed
    assert row.status == "" and _CountingPeer.resets == 0
    timer.timeit(3)
    timer.timeit(3)
    assert _CountingPeer.resets == 2  # once per round, before it


def test_a_peer_declares_the_other_modules_it_needs():
    needy = Peer("needy", "numpy", "numpy", "peers", needs=("no_such_module_for_fastnn",))
    assert not needy.installed() and Peer("plain", "numpy", "numpy", "peers").installed()
    assert "it needs numpy and no_such_module_for_fastnn" in needy.missing_note()
    assert PEERS["onnxruntime"].needs == PEERS["openvino"].needs == ("onnx",)


def test_the_report_parses_layer_sizes_with_the_projects_parser():
    from fastnn.bench.peers.report import comparison_frame

    frame, metadata = _frame_of_one_point(None)
    frame["layer_sizes"] = "4-x-2"  # a run without auto's pick recorded: read from the table
    with pytest.raises(ValueError, match="malformed layer sizes"):
        comparison_frame(frame, metadata)


def test_the_figure_has_a_panel_per_op_and_dtype():
    from fastnn.bench.peers.report import peer_figures

    frame, metadata = _frame_of_one_point("numba")
    other = frame.assign(dtype="float32")
    other.loc[other["backend"] == "torch", "median_s"] = 0.5
    figure = peer_figures(pd.concat([frame, other]), metadata)["peers.png"]
    panels = {ax.get_title(): [bar.get_height() for bar in ax.patches]
              for ax in figure.axes if ax.get_title()}
    assert panels == {"forward, float64": [pytest.approx(1.5)],
                      "forward, float32": [pytest.approx(0.25)]}


def test_a_saved_runs_peer_figure_is_redrawn(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "peer_figure.py"
    spec = importlib.util.spec_from_file_location("peer_figure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame, metadata = _frame_of_one_point("numba")
    frame.to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "results.json").write_text(json.dumps(metadata))
    assert module.main([str(tmp_path), str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(SystemExit):  # an existing figure is kept
        module.main([str(tmp_path), str(tmp_path / "out.png")])
    frame[frame["backend"] != "torch"].to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(SystemExit):
        module.main([str(tmp_path), str(tmp_path / "other.png")])
    assert not (tmp_path / "other.png").exists()
