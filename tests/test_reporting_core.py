"""The reporting core (fastnn/reporting): run folder, machine record, rows, case log, roles,
timing loop, formatters and figures, and the import layering of the package."""

import ast
import subprocess
import sys
import timeit
from pathlib import Path

import pytest

from fastnn import backends
from fastnn.reporting import formatting, timing
from fastnn.reporting.machine import MachineRecord, machine_info
from fastnn.reporting.results import CaseLog
from fastnn.reporting.roles import BackendRoles
from fastnn.reporting.rows import COLUMNS, KEY_COLUMNS, Row, results_frame
from fastnn.reporting.run_folder import FILE_MODE, RunFolder
from fastnn.reproduce.settings import ByCapability

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fastnn"


def _row(**values):
    base = {"backend": "numpy", "level": "mlp", "layer_sizes": "3-3-1", "n_params": 16,
            "batch_size": 1, "op": "forward", "dtype": "float64", "flops": 24}
    return Row(**{**base, **values})


def test_machine_record_has_one_set_of_keys_and_reads_older_files():
    record = machine_info()
    assert set(record) == set(MachineRecord().as_dict())
    assert record["cpu_model"] and record["logical_cores"] >= 1 and record["numpy"]
    legacy = MachineRecord.from_dict({"cpu": "Old CPU", "cores": 8, "git": "abc", "numba": "0.1"})
    assert (legacy.cpu_model, legacy.logical_cores, legacy.cores) == ("Old CPU", 8, 8)
    assert "Old CPU, 8 cores" in legacy.summary()


def test_row_columns_are_declared_once_in_csv_order():
    assert COLUMNS[:7] == ("backend", "level", "layer_sizes", "n_params", "batch_size", "op",
                           "dtype")
    assert COLUMNS[-4:] == ("unstable", "gflops", "peak_fraction", "samples_s")
    row = _row(extra={"host": "worker-1"})
    assert list(row.as_dict()) == [*COLUMNS, "host"]
    assert row["host"] == "worker-1" and row["median_s"] is None
    summary = timing.summarise([1e-6, 2e-6, 3e-6], number=10)
    row.timed(summary, peak_gflops=10.0)
    assert row["status"] == "ok" and row["gflops"] == pytest.approx(24 / 2e-6 / 1e9)
    assert row["peak_fraction"] == pytest.approx(row["gflops"] / 10.0)
    frame = results_frame([row, _row(backend="python").not_timed("skipped", "too slow")])
    assert tuple(frame.columns[:len(KEY_COLUMNS)]) == KEY_COLUMNS
    with pytest.raises(ValueError, match="status"):
        _row().not_timed("ok", "")
    with pytest.raises(KeyError):
        row["no such column"]


def test_case_log_keeps_each_case_once_written_whole(tmp_path):
    log = CaseLog(tmp_path)
    log.write("float64 3-3-1 x1 forward", [_row()], machine={"host": "a"})
    log.write("float64 3-3-1 x1 forward", [_row(), _row(level="backend")])
    log.write("float64 64-30-10 x1 forward", [_row(layer_sizes="64-30-10")])
    assert sorted(log.keys()) == ["float64 3-3-1 x1 forward", "float64 64-30-10 x1 forward"]
    assert len(log.rows()) == 3
    assert not [path for path in (tmp_path / "cases").iterdir() if path.suffix != ".json"]
    assert CaseLog(tmp_path / "nothing").rows() == []


def test_backend_roles_come_from_the_declared_capabilities():
    roles = BackendRoles.of_registry()
    assert roles.baselines() == backends.backends_where(is_baseline=True)
    assert roles.vectorised_baseline() == backends.reference_backend(time_limited_ok=False)
    recorded = BackendRoles.from_metadata(
        {"backend_roles": {"slow": {"is_baseline": True}, "fast": {"is_baseline": False}}},
        present=["fast", "slow", "a_peer"])
    assert recorded.order == ("slow", "fast", "a_peer")
    assert recorded.baselines() == ["slow"] and recorded.slower_than("slow", "fast")
    assert not any(recorded.capabilities["a_peer"].values())


def test_round_counts_follow_the_time_limited_capability():
    counts = ByCapability(7, time_limited=2)
    for name in backends.available_backends():
        expected = 2 if backends.get(name).is_time_limited else 7
        assert counts[name] == expected


def test_time_rounds_lets_a_slow_timer_sit_out_later_rounds():
    calls = {"fast": 0, "slow": 0}
    timers = [timeit.Timer(lambda name=name: calls.__setitem__(name, calls[name] + 1))
              for name in calls]
    fast, slow = timing.time_rounds(timers, [1, 1], [4, 2])
    assert (fast.size, slow.size) == (4, 2) and calls == {"fast": 4, "slow": 2}


def test_fresh_state_timer_starts_every_round_from_new_state():
    seen = []
    timer = timing.fresh_state_timer(lambda state: seen.append(state.pop()), lambda: [1])
    timing.time_rounds([timer], [1], 3)
    assert seen == [1, 1, 1]


@pytest.mark.parametrize(("seconds", "text"), [(4.2e-8, "42 ns"), (1.234e-5, "12.3 µs"),
                                               (999.6e-6, "1000 µs"), (2.46, "2.46 s"),
                                               (275.4, "4.59 min")])
def test_one_time_format_for_every_report(seconds, text):
    assert formatting.format_time(seconds) == text
    assert formatting.format_time(None) == "" and formatting.format_time(None, "-") == "-"


def test_run_folder_writes_figures_and_publishes_readable_files(tmp_path):
    from fastnn.reporting.figures import axes_or_new

    figure, ax = axes_or_new(None, 2, 2)
    ax.plot([1, 2], [3, 4])
    with RunFolder(tmp_path / "run") as staging:
        staging.write_figure("plot.png", figure)
        staging.write_text("nested/notes.md", "text")
    assert (tmp_path / "run" / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "run" / "nested" / "notes.md").stat().st_mode & 0o777 == FILE_MODE


def test_run_folder_refuses_a_folder_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(FileExistsError, match="appeared"), RunFolder(target) as staging:
        staging.write_text("report.md", "mine")
        target.mkdir()
        (target / "theirs.md").write_text("theirs")
    assert [path.name for path in target.iterdir()] == ["theirs.md"]
    assert [path.name for path in tmp_path.iterdir()] == ["run"]


def test_no_pyplot_state_and_no_backend_switch():
    sources = {path: path.read_text() for path in PACKAGE.rglob("*.py")}
    assert not [path for path, text in sources.items()
                if "matplotlib.pyplot" in text or "import pyplot" in text
                or "matplotlib.use(" in text]
    # rcParams read with dict's own lookup: get_backend() would itself import pyplot.
    script = ("import matplotlib, sys; backend = lambda: dict.__getitem__(matplotlib.rcParams, "
              "'backend'); before = backend(); "
              "import fastnn.bench.report.document, fastnn.reproduce.plots; "
              "from fastnn.bench.report import plots; import pandas as pd; "
              "data = pd.DataFrame({'backend': ['numpy'], 'op': ['forward'], 'batch_size': [1], "
              "'n_params': [16], 'layer_sizes': ['3-3-1'], 'median_s': [1e-5]}); "
              "plots.time_vs_size_figure(data, ['numpy']).savefig(sys.argv[1]); "
              "assert 'matplotlib.pyplot' not in sys.modules; "
              "assert backend() == before")
    completed = subprocess.run([sys.executable, "-c", script, str(ROOT / ".pyplot-check.png")],
                               capture_output=True, text=True, timeout=120, cwd=ROOT)
    (ROOT / ".pyplot-check.png").unlink(missing_ok=True)
    assert completed.returncode == 0, completed.stderr


def _unit(module):
    """``fastnn.bench.measure.sweep`` -> ``bench``: the top-level module or subpackage."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fastnn" else None


def _import_graph():
    """Unit -> units it imports: the module graph (:func:`_module_graph`) between top-level
    modules and subpackages."""
    graph = {}
    for source, targets in _module_graph().items():
        for target in targets:
            if _unit(source) != _unit(target):
                graph.setdefault(_unit(source), set()).add(_unit(target))
    return graph


def test_no_import_circles_between_top_level_modules_and_subpackages():
    graph = _import_graph()
    assert _circles(graph) == []
    assert "bench" not in graph.get("reporting", set())
    assert "commands" not in graph.get("bench", set())  # the harness never runs a command
    assert "reproduce" not in graph.get("reporting", set())


# Circles the module check finds in files being rewritten on other branches; each is
# reported by name here so that it cannot grow or hide another.
KNOWN_CIRCLES = []


def _module_name(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _module_graph():
    """Module -> the fastnn modules it imports, anywhere in it (functions included).

    ``from package import name`` imports the module ``package.name`` where there is one,
    else the package. The root ``fastnn/__init__.py`` is left out, as in the check between
    units: it only re-exports the public names and holds ``__version__``.
    """
    modules = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        source = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            for name in _imported_names(node):
                while name not in modules and "." in name:
                    name = name.rpartition(".")[0]
                if name in modules and name not in (source, "fastnn") and source != "fastnn":
                    graph.setdefault(source, set()).add(name)
    return graph


def _imported_names(node):
    """What an import statement names, each ``from`` name as a possible module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
        return []
    return [f"{node.module}.{alias.name}" for alias in node.names]


def _circles(graph):
    """The strongly connected groups of more than one module (Tarjan), each as a set."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while not group or module not in group:
                group.add(stack.pop())
            on_stack.difference_update(group)
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_the_circle_check_sees_function_level_imports():
    graph = _module_graph()
    # fastnn/commands/bench.py imports the Dask sweep's command inside a function only
    assert "fastnn.commands.bench_distributed" in graph["fastnn.commands.bench"]
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_circles_between_modules():
    circles = _circles(_module_graph())
    assert [sorted(group) for group in circles if group not in KNOWN_CIRCLES] == []


def test_every_module_imports_first_in_a_fresh_package():
    modules = sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
        ".__init__") for path in PACKAGE.rglob("*.py") if path.name != "__main__.py")
    script = ("import importlib, sys\n"
              "for name in sys.argv[1:]:\n"
              "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'fastnn']:\n"
              "        del sys.modules[loaded]\n"
              "    importlib.import_module(name)\n")
    completed = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True,
                               text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
