"""The tune file (``fastnn tune``): where it lives, what it holds, when it is used.

A usable file replaces the shipped table behind ``backend="auto"`` and the shipped
crossovers; a corrupt or foreign one gives a warning naming the problem and the shipped
values, never a crash.
"""

import json

import pytest

import fastnn
from fastnn.backends import selection, tuning
from fastnn.bench.measure import backend_table, crossovers, row_block
from fastnn.cli import main
from fastnn.commands import tune as cli_tune
from fastnn.commands.info import info_text
from fastnn.reporting.machine import machine_info

TUNED_CROSSOVERS = {"forward_layer": (100, 4, 2000), "weight_gradient": (200, 2, 3000),
                    "back_delta": (tuning.NEVER, 8, 4000)}
# Off the shipped table's winner: numba wins this point there.
TUNED_TABLE = {"64-30-10 x1 forward": {"winner": "numpy"}}


@pytest.fixture(autouse=True)
def tune_file(tmp_path, monkeypatch):
    """Every test gets its own (absent) tune file; the user's is never read."""
    path = tmp_path / "cache" / "fastnn" / "tune.json"
    monkeypatch.setenv(tuning.PATH_ENV, str(path))
    tuning.reload()
    yield path
    tuning.reload()


def _record(path):
    return json.loads(path.read_text())


def _rewrite(path, **changes):
    record = _record(path)
    record.update(changes)
    path.write_text(json.dumps(record))
    tuning.reload()


# --- where it lives ---------------------------------------------------------------------

def test_the_path_follows_the_override_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv(tuning.PATH_ENV, str(tmp_path / "mine.json"))
    assert tuning.tune_file_path() == tmp_path / "mine.json"
    monkeypatch.delenv(tuning.PATH_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tuning.tune_file_path() == tmp_path / "xdg" / "fastnn" / "tune.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tuning.tune_file_path() == tmp_path / "home" / ".cache" / "fastnn" / "tune.json"


# --- what it holds ----------------------------------------------------------------------

def test_save_stamps_the_machine_and_versions_and_loads_back(tune_file):
    path = tuning.save(crossovers=TUNED_CROSSOVERS, table=TUNED_TABLE, extra={"threads": 1})
    assert path == tune_file
    assert [item.name for item in path.parent.iterdir()] == ["tune.json"]  # no temp file left
    record = _record(path)
    assert record["schema"] == tuning.SCHEMA and record["created"]
    assert record["cpu_model"] == tuning.current_identity()["cpu_model"]
    assert record["fastnn"] == fastnn.__version__ and record["threads"] == 1
    loaded = tuning.in_force()
    assert loaded.path == path and loaded.table == TUNED_TABLE
    assert loaded.crossovers == TUNED_CROSSOVERS and loaded.extra["threads"] == 1


def test_save_refuses_what_the_loader_would_refuse():
    with pytest.raises(ValueError, match="crossovers"):
        tuning.save(crossovers={"forward_layer": (1, 2, 3)})


def test_crossovers_are_the_tuned_ones_else_the_shipped_ones():
    from fastnn.backends._numba_kernels import BLAS_CROSSOVER

    assert tuning.crossovers() == BLAS_CROSSOVER == tuning.shipped_crossovers()
    tuning.save(crossovers=TUNED_CROSSOVERS)
    assert tuning.crossovers() == tuple(TUNED_CROSSOVERS[name] for name in tuning.PRODUCTS)


def test_the_row_block_is_the_tuned_one_else_the_shipped_one(tune_file):
    from fastnn.backends._numba_kernels import FORWARD_ROW_BLOCK

    assert tuning.forward_row_block() == FORWARD_ROW_BLOCK == tuning.shipped_row_block()
    tuning.save(crossovers=TUNED_CROSSOVERS, extra={tuning.ROW_BLOCK_KEY: 7})
    assert tuning.forward_row_block() == 7
    assert "forward row block" in cli_tune.summary_text(tune_file)
    with pytest.warns(tuning.TuningWarning, match=tuning.ROW_BLOCK_KEY):
        _rewrite(tune_file, **{tuning.ROW_BLOCK_KEY: -1})
        assert tuning.forward_row_block() == tuning.shipped_row_block()


def test_the_onednn_rule_is_the_tuned_one_else_the_shipped_one(tune_file):
    from fastnn.backends._numba_kernels import EXTERNAL_GEMM

    assert tuning.external_gemm() == EXTERNAL_GEMM == tuning.shipped_external_gemm()
    tuning.save(extra={tuning.EXTERNAL_KEY: [16, 32768]})
    assert tuning.external_gemm() == (16, 32768)
    assert "oneDNN" in cli_tune.summary_text(tune_file)
    tuning.save(extra={tuning.EXTERNAL_KEY: None})  # measured without oneDNN
    assert tuning.external_gemm() == tuning.shipped_external_gemm()
    with pytest.warns(tuning.TuningWarning, match=tuning.EXTERNAL_KEY):
        _rewrite(tune_file, **{tuning.EXTERNAL_KEY: [1]})
        assert tuning.external_gemm() == tuning.shipped_external_gemm()


def test_the_onednn_rule_fits_where_onednn_wins():
    from fastnn.bench.measure import external_gemm

    def point(rows, n_in, n_out, blas, onednn):
        return dict(rows=rows, n_in=n_in, n_out=n_out, blas_s=blas, onednn_s=onednn)
    wide_wins = [point(32, 784, 256, 2.0, 1.0), point(256, 256, 128, 1.5, 1.0),
                 point(256, 100, 100, 1.0, 1.2), point(256, 50, 10, 1.0, 1.5),
                 point(1, 784, 256, 1.0, 3.0)]
    rows, weights = external_gemm.fit_rule(wide_wins)
    assert 1 < rows <= 32 and 10000 < weights <= 256 * 128
    never = [point(32, 784, 256, 1.0, 1.1), point(256, 50, 10, 1.0, 2.0)]
    assert external_gemm.fit_rule(never) == (external_gemm.NEVER, external_gemm.NEVER)
    assert external_gemm.fit_rule([]) == (external_gemm.NEVER, external_gemm.NEVER)


def test_the_gradient_onednn_rule_is_the_tuned_one_else_the_shipped_one(tune_file):
    from fastnn.backends._numba_kernels import EXTERNAL_GRADIENT_GEMM

    assert tuning.external_gradient_gemm() == EXTERNAL_GRADIENT_GEMM \
        == tuning.shipped_external_gradient_gemm()
    tuning.save(extra={tuning.EXTERNAL_KEY: [16, 32768],
                       tuning.EXTERNAL_GRADIENT_KEY: [1048576, 40960]})
    assert tuning.external_gradient_gemm() == (1048576, 40960)
    assert tuning.external_gemm() == (16, 32768)
    assert "gradient products to oneDNN" in cli_tune.summary_text(tune_file)
    tuning.save(extra={tuning.EXTERNAL_KEY: [16, 32768]})  # a file from before the rule
    assert tuning.external_gradient_gemm() == tuning.shipped_external_gradient_gemm()
    assert tuning.external_gemm() == (16, 32768)
    tuning.save(extra={tuning.EXTERNAL_GRADIENT_KEY: None})  # measured without oneDNN
    assert tuning.external_gradient_gemm() == tuning.shipped_external_gradient_gemm()
    with pytest.warns(tuning.TuningWarning, match=tuning.EXTERNAL_GRADIENT_KEY):
        _rewrite(tune_file, **{tuning.EXTERNAL_GRADIENT_KEY: [1, -2]})
        assert tuning.external_gradient_gemm() == tuning.shipped_external_gradient_gemm()


def test_the_gradient_onednn_rule_fits_each_product_where_onednn_wins():
    from fastnn.bench.measure import external_gemm

    def point(product, rows, n_in, n_out, blas, onednn):
        return dict(product=product, rows=rows, n_in=n_in, n_out=n_out, blas_s=blas,
                    onednn_s=onednn)
    points = [point("weight_gradient", 32, 784, 256, 2.0, 1.0),
              point("weight_gradient", 1024, 64, 30, 2.0, 1.0),
              point("weight_gradient", 32, 100, 100, 1.0, 1.2),
              point("weight_gradient", 256, 30, 10, 1.0, 1.5),
              point("back_delta", 32, 128, 10, 1.2, 1.0),
              point("back_delta", 32, 30, 10, 1.0, 1.1)]
    weight_gradient, back_delta = external_gemm.fit_gradient_rule(points)
    assert 32 * 100 * 100 < weight_gradient <= 1024 * 64 * 30
    assert 32 * 30 * 10 < back_delta <= 32 * 128 * 10
    losing = [point("weight_gradient", 32, 784, 256, 1.0, 1.1)]
    assert external_gemm.fit_gradient_rule(losing) == (external_gemm.NEVER,
                                                       external_gemm.NEVER)
    assert external_gemm.fit_gradient_rule([]) == (external_gemm.NEVER, external_gemm.NEVER)


def test_the_row_block_measurement_prefers_the_fastest_then_the_smaller():
    assert row_block.best({0: 2.0, 128: 1.0, 512: 1.5}) == 128
    assert row_block.best({0: 1.0, 256: 1.0}) == 0
    times = row_block.measure(candidates=(0, 3), cases=(((4, 3, 2), 7),), rounds=1,
                              min_time=0.0)
    assert set(times) == {0, 3} and all(value > 0 for value in times.values())


# --- when it is used --------------------------------------------------------------------

def test_auto_uses_the_tuned_table_and_falls_back_to_the_shipped_one():
    assert fastnn.fastest_backend([64, 30, 10], 1, "forward") == "numba"
    assert selection.table_source() == "shipped"
    tuning.save(table=TUNED_TABLE)
    assert fastnn.fastest_backend([64, 30, 10], 1, "forward") == "numpy"
    assert fastnn.MLP([64, 30, 10], backend="auto").backend == "numpy"
    assert selection.table_source() == str(tuning.tune_file_path())


@pytest.mark.parametrize("corrupt,problem", [
    (lambda path: path.write_text("{not json"), "not valid JSON"),
    (lambda path: path.write_text("[1, 2]"), "wrong schema"),
    (lambda path: _rewrite(path, schema="fastnn-tune/0"), "wrong schema"),
    # One check, the declared schema's, naming the field (review: a hand check came first).
    (lambda path: _rewrite(path, schema="fastnn-tune/0"), "field 'schema' must be one of"),
    (lambda path: path.write_text("[1, 2]"), "must be an object"),
    (lambda path: _rewrite(path, created=5), "wrong schema"),
    (lambda path: _rewrite(path, created=5), "field 'created' must be a string"),
    (lambda path: _rewrite(path, numpy=3), "field 'numpy' must be a string"),
    (lambda path: _rewrite(path, table=[]), "field 'table' must be an object"),
    (lambda path: _rewrite(path, crossovers={"forward_layer": [1, 2, 3]}), "crossovers"),
    (lambda path: _rewrite(path, crossovers={name: [1, -2, 3] for name in tuning.PRODUCTS}),
     "crossovers"),
    (lambda path: _rewrite(path, crossovers={name: [10 ** 30, 1, 1] for name in tuning.PRODUCTS}),
     "crossovers"),
    (lambda path: _rewrite(path, table={"64-30-10 one forward": {"winner": "numpy"}}),
     "malformed key"),
    (lambda path: _rewrite(path, table={"64-30-10 x1 forward": {"loser": "numpy"}}),
     "no winner"),
    (lambda path: _rewrite(path, cpu_model="Some Other CPU"), "another CPU"),
    (lambda path: _rewrite(path, fastnn="0.0.1"), "another fastnn version"),
    (lambda path: _rewrite(path, numba="0.1"), "another Numba version"),
])
def test_a_corrupt_or_foreign_file_warns_and_falls_back(corrupt, problem, tune_file):
    tuning.save(crossovers=TUNED_CROSSOVERS, table=TUNED_TABLE)
    corrupt(tune_file)
    tuning.reload()
    with pytest.warns(tuning.TuningWarning, match=problem) as caught:
        assert fastnn.fastest_backend([64, 30, 10], 1, "forward") == "numba"
    assert "shipped" in str(caught[0].message) and str(tune_file) in str(caught[0].message)
    assert tuning.in_force() is None  # warned once, then silent
    assert problem in tuning.status() and tuning.status().startswith("shipped table")


def test_a_missing_file_is_silent(recwarn):
    assert tuning.in_force() is None
    assert not [w for w in recwarn if issubclass(w.category, tuning.TuningWarning)]
    assert tuning.status().startswith("shipped table (no tune file")


def test_info_says_which_tuning_is_in_force(tune_file):
    assert "tuning" in info_text(machine_info()) and "shipped table" in info_text(machine_info())
    tuning.save(table=TUNED_TABLE, extra={"warm_first_forward_s": 0.4})
    lines = {line.split("  ", 1)[0]: line for line in info_text(machine_info()).splitlines()}
    assert f"tuned: {tune_file}" in lines["tuning"] and "backend table" in lines["tuning"]
    assert "import + first forward 0.40 s" in lines["first use"]


def test_the_warm_first_forward_runs_in_a_new_process():
    assert 0 < cli_tune.warm_first_forward() < 60


# --- the crossover fit ------------------------------------------------------------------

def _points(product, blas_from_single, blas_from_rows, blas_from_work):
    """Synthetic timings where BLAS wins exactly where the given rule says."""
    points = []
    for rows in (1, 2, 8, 32):
        for n_in, n_out in ((8, 8), (32, 32), (64, 64), (128, 128)):
            work = rows * n_in * n_out
            blas = work >= blas_from_single if rows == 1 else \
                rows >= blas_from_rows and work >= blas_from_work
            points.append(crossovers.Point(product, rows, n_in, n_out,
                                           loops_s=1.0, blas_s=0.5 if blas else 2.0))
    return points


def test_the_fit_recovers_the_rule_behind_the_timings():
    points = (_points("forward_layer", 4096, 8, 32768) + _points("weight_gradient", 1024, 2, 2048)
              + _points("back_delta", tuning.NEVER, tuning.NEVER, tuning.NEVER))
    rule = crossovers.fit_rule(points)
    assert rule["forward_layer"] == (4096, 8, 32768)
    assert rule["weight_gradient"] == (1024, 2, 2048)
    # loops at every measured point; BLAS only beyond the largest product measured
    assert rule["back_delta"] == (128 * 128 + 1, 2, 32 * 128 * 128 + 1)
    for product, (single, rows, work) in rule.items():
        mine = [point for point in points if point.product == product]
        assert crossovers.lost_time(mine, lambda point, single=single, rows=rows, work=work: (
            point.multiply_adds >= single if point.rows == 1
            else point.rows >= rows and point.multiply_adds >= work)) == 0


# --- the command ------------------------------------------------------------------------

def test_tune_measures_stores_and_shows(monkeypatch, tune_file, capsys):
    real_crossovers, real_table = crossovers.measure, backend_table.measure
    monkeypatch.setattr(crossovers, "measure", lambda **kwargs: real_crossovers(
        shapes=((4, 4), (16, 8)), rows=(1, 2), rounds=1, min_time=0.0))
    monkeypatch.setattr(backend_table, "measure", lambda: real_table(
        layer_sizes=((3, 3, 1),), batch_sizes=(1,), rounds=1, min_time=0.0))
    from fastnn.bench.measure import external_gemm
    real_external = external_gemm.measure
    monkeypatch.setattr(external_gemm, "measure", lambda: real_external(
        shapes=((4, 8, 8),), rounds=1, min_time=0.0))
    real_gradient = external_gemm.measure_gradient
    monkeypatch.setattr(external_gemm, "measure_gradient", lambda: real_gradient(
        shapes=((4, 8, 8),), rounds=1, min_time=0.0))
    real_row_block = row_block.measure
    monkeypatch.setattr(row_block, "measure", lambda crossovers=None: real_row_block(
        candidates=(0, 2), cases=(((3, 4, 2), 5),), rounds=1, min_time=0.0,
        crossovers=crossovers))
    monkeypatch.setattr(cli_tune, "warm_first_forward", lambda: 0.25)
    assert main(["tune"]) == 0
    record = _record(tune_file)
    assert record[tuning.ROW_BLOCK_KEY] in (0, 2)
    assert tuning.EXTERNAL_KEY in record
    assert tuning.EXTERNAL_GRADIENT_KEY in record
    assert set(record["row_block_times_s"]) == {"0", "2"}
    assert record["warm_first_forward_s"] == 0.25
    assert set(record["crossovers"]) == set(tuning.PRODUCTS)
    assert set(record["table"]) == {f"3-3-1 x1 {op}" for op in selection.OPS}
    assert record["threads"] == 1 and record["duration_s"] > 0
    assert len(record["crossover_points"]) == 2 * 2 * 3
    assert "tuned vs shipped" in capsys.readouterr().out
    assert main(["tune", "--show"]) == 0
    assert f"tuned: {tune_file}" in capsys.readouterr().out
    assert main(["tune", "--forget"]) == 0
    assert not tune_file.exists() and "shipped table" in capsys.readouterr().out


def test_show_names_the_problem_of_an_unusable_file(tune_file, capsys):
    tune_file.parent.mkdir(parents=True)
    tune_file.write_text("garbage")
    assert main(["tune", "--show"]) == 0
    assert "not valid JSON" in capsys.readouterr().out


def test_bad_thread_count_is_a_usage_error(capsys):
    assert main(["tune", "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_the_summary_marks_never(tune_file):
    tuning.save(crossovers=TUNED_CROSSOVERS, table=TUNED_TABLE)
    text = cli_tune.summary_text(tune_file)
    assert "(never, 8, 4000)" in text and "64-30-10 x1 forward: numpy (shipped: numba)" in text


def test_a_tie_goes_to_the_candidate_listed_first():
    # numba_parallel runs numba's own kernels on the tune grid: noise must not elect it.
    assert backend_table.winner({"numpy": 2.0, "numba": 1.0, "numba_parallel": 0.99}) == "numba"
    assert backend_table.winner({"numpy": 2.0, "numba": 1.0, "numba_parallel": 0.9}) \
        == "numba_parallel"
    assert backend_table.winner({"numpy": 1.02, "numba": 1.0}) == "numpy"
