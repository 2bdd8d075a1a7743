"""``fastnn bench --scheduler`` on a LocalCluster started here: lock, faults, resume, bad input."""

import json
import os
import signal
import threading
import time

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from fastnn.bench.distributed import cluster as fastnn_distributed  # noqa: E402
from fastnn.bench.distributed.resume import read_plan  # noqa: E402
from fastnn.bench.distributed.task import _WORKER_STATE  # noqa: E402
from fastnn.cli import main  # noqa: E402
from fastnn.commands import bench_distributed as cli_distributed  # noqa: E402
from fastnn.reporting.results import CaseLog  # noqa: E402

# 2 sizes x 2 batches x 2 ops = 8 cases on the one machine; 2 backends, 1 level.
SWEEP = ["bench", "--quick", "--sizes", "3-3-1,20-10-4", "--batches", "1,8",
         "--backends", "numpy,python", "--ops", "forward,gradients", "--rounds", "2",
         "--min-time", "0.002"]
N_CASES = 8
KEY_COLUMNS = ["layer_sizes", "batch_size", "op", "backend", "level"]


def local_cluster(n_workers):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=40)


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set(fastnn_distributed.LOCAL_LOCK_LEASE), local_cluster(2) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def finished_run(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "two-workers"
    assert main([*SWEEP, "--scheduler", cluster.scheduler_address, "--out", str(folder)]) == 0
    return folder


def assert_every_case_once(folder):
    table = pd.read_csv(folder / "results.csv")
    assert not table.duplicated(KEY_COLUMNS).any()
    assert len(table) == N_CASES * 2
    plan = read_plan(folder)
    assert sorted(CaseLog(folder).keys()) == sorted(point.key for point in plan.points())
    return table


def test_two_workers_share_the_sweep_and_never_time_at_once(finished_run):
    table = assert_every_case_once(finished_run)
    assert set(table["status"]) == {"ok"} and (table["median_s"] > 0).all()
    assert table["worker"].nunique() == 2 and table["host"].nunique() == 1
    spans = table.drop_duplicates(["layer_sizes", "batch_size", "op"]).sort_values("case_start")
    starts, stops = spans["case_start"].to_numpy(), spans["case_stop"].to_numpy()
    assert (starts[1:] >= stops[:-1]).all(), "two cases were timed at once on one machine"
    report = (finished_run / "report.md").read_text()
    for heading in ("## Machines", "median time per call", "## Across machines",
                    "## Fastest backend per machine", "## Headline"):
        assert heading in report
    document = json.loads((finished_run / "results.json").read_text())
    assert list(document["machines"]) == list(table["host"].unique())


def test_a_killed_worker_s_case_runs_again_elsewhere(tmp_path):
    folder = tmp_path / "killed"
    killed = {}
    with dask.config.set(fastnn_distributed.LOCAL_LOCK_LEASE), local_cluster(2) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)

        def kill_one_mid_sweep():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(list(folder.glob("cases/*.json"))) < 2:
                time.sleep(0.02)
            busy = [address for address, keys in client.processing().items() if keys]
            victim = busy[0] if busy else next(iter(pids))
            killed["worker"] = victim
            os.kill(pids[victim], signal.SIGKILL)

        killer = threading.Thread(target=kill_one_mid_sweep)
        killer.start()
        status = main([*SWEEP, "--min-time", "0.02", "--scheduler", cluster.scheduler_address,
                       "--out", str(folder)])
        killer.join()
    assert status == 0
    table = assert_every_case_once(folder)
    assert set(table["status"]) == {"ok"}
    done_after_kill = table[table["worker"] != killed["worker"]]
    assert len(done_after_kill) >= 2
    # The loss and the recovery are said, in the run record and in the report.
    lost = json.loads((folder / "run.json").read_text())["lost_workers"]
    assert killed["worker"] in lost and "left mid-sweep" in lost[killed["worker"]]
    assert f"Lost worker {killed['worker']}" in (folder / "report.md").read_text()


def test_a_machine_without_workers_lists_its_cases_then_resume_finishes(tmp_path, monkeypatch):
    folder = tmp_path / "emptied"
    monkeypatch.setattr(fastnn_distributed, "LOST_MACHINE_GRACE_S", 1.0)
    with dask.config.set(fastnn_distributed.LOCAL_LOCK_LEASE), local_cluster(1) as cluster:
        real_accept = fastnn_distributed.Coordinator._accept

        def accept_then_retire(self, point, result):
            real_accept(self, point, result)
            if len(self.outcome.measured) == 1:
                cluster.scale(0)

        monkeypatch.setattr(fastnn_distributed.Coordinator, "_accept", accept_then_retire)
        status = main([*SWEEP, "--scheduler", cluster.scheduler_address, "--out", str(folder)])
        assert status == 1
        table = pd.read_csv(folder / "results.csv")
        assert not table.duplicated(KEY_COLUMNS).any() and len(table) == N_CASES * 2
        lost = table[table["status"] == "skipped"]
        assert len(lost) and lost["note"].str.contains("no worker left on").all()
        assert "Not measured:" in (folder / "report.md").read_text()
        kept = set(CaseLog(folder).keys())
        assert 1 <= len(kept) < N_CASES

        monkeypatch.setattr(fastnn_distributed.Coordinator, "_accept", real_accept)
        cluster.scale(1)
        assert main(["bench", "--resume", str(folder), "--scheduler",
                     cluster.scheduler_address]) == 0
    table = assert_every_case_once(folder)
    assert set(table["status"]) == {"ok"}


def test_an_interrupted_sweep_keeps_its_cases_and_resumes(cluster, tmp_path, monkeypatch):
    folder = tmp_path / "interrupted"
    real_accept = fastnn_distributed.Coordinator._accept

    def accept_then_interrupt(self, point, result):
        real_accept(self, point, result)
        if len(self.outcome.measured) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(fastnn_distributed.Coordinator, "_accept", accept_then_interrupt)
    assert main([*SWEEP, "--scheduler", cluster.scheduler_address, "--out", str(folder)]) == 130
    kept = {path.name: path.read_bytes() for path in folder.glob("cases/*.json")}
    assert len(kept) == 3 and not (folder / "report.md").exists()

    monkeypatch.setattr(fastnn_distributed.Coordinator, "_accept", real_accept)
    assert main(["bench", "--resume", str(folder), "--scheduler",
                 cluster.scheduler_address]) == 0
    assert_every_case_once(folder)
    for name, data in kept.items():  # the finished cases were not measured again
        assert (folder / "cases" / name).read_bytes() == data
    assert main(["bench", "--resume", str(folder)]) == 0  # complete: nothing to do


def test_workers_with_other_versions_or_wrong_numbers_are_refused(cluster, client, tmp_path):
    healthy, other = sorted(client.scheduler_info()["workers"])

    def break_numpy_forward():
        import fastnn.backends

        backend = fastnn.backends.get("numpy")
        real = type(backend).forward
        backend.forward = lambda spec, params, X: real(backend, spec, params, X) + 1.0

    client.run(break_numpy_forward, workers=[other])
    try:
        folder = tmp_path / "refused"
        assert main([*SWEEP, "--ops", "forward", "--scheduler", cluster.scheduler_address,
                     "--out", str(folder)]) == 0
        table = pd.read_csv(folder / "results.csv")
        assert set(table["worker"]) == {healthy} and set(table["status"]) == {"ok"}
        plan = read_plan(folder)
        assert "failed the correctness gate: numpy forward" in plan.refused[other]
        assert f"Refused worker {other}" in (folder / "report.md").read_text()
    finally:
        client.restart()  # fresh worker processes for the tests after this one

    healthy = sorted(client.scheduler_info()["workers"])[0]
    client.run(lambda: setattr(__import__("fastnn"), "__version__", "0.0.0-other"),
               workers=[healthy])
    try:
        folder = tmp_path / "versions"
        assert main([*SWEEP, "--scheduler", cluster.scheduler_address, "--out",
                     str(folder)]) == 0
        refused = read_plan(folder).refused
        assert list(refused) == [healthy]
        assert "fastnn 0.0.0-other here, 0.1.0 on the coordinator" in refused[healthy]
    finally:
        client.restart()
    assert not _WORKER_STATE  # the coordinator's process measures nothing itself


def test_unreachable_scheduler_exits_2_within_bounds_and_leaves_no_folder(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fastnn_distributed, "CONNECT_TIMEOUT_S", 1.0)
    folder = tmp_path / "never"
    start = time.monotonic()
    assert main([*SWEEP, "--scheduler", "tcp://127.0.0.1:9", "--out", str(folder)]) == 2
    assert time.monotonic() - start < 15
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    for wrong in ("http://example.org", "local:0", "local:two"):
        assert main([*SWEEP, "--scheduler", wrong, "--out", str(folder)]) == 2
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_resume_refuses_what_is_not_a_run_or_a_run_of_other_settings(
        finished_run, tmp_path, capsys):
    def snapshot(folder):
        return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a run")
    before = snapshot(plain)
    assert main(["bench", "--resume", str(plain)]) == 2
    assert "not the folder of a distributed sweep" in capsys.readouterr().err
    assert snapshot(plain) == before
    assert main(["bench", "--resume", str(tmp_path / "missing")]) == 2

    before = snapshot(finished_run)
    assert main(["bench", "--resume", str(finished_run), "--sizes", "5-5-1"]) == 2
    assert "a run of other settings (layer_sizes" in capsys.readouterr().err
    assert main(["bench", "--resume", str(finished_run), "--out", str(tmp_path / "x")]) == 2
    assert main(["bench", "--resume", str(finished_run), "--force"]) == 2
    assert main(["bench", "--resume", str(finished_run), "--model", str(tmp_path / "m.npz")]) == 2
    assert snapshot(finished_run) == before


def test_resume_with_unreachable_scheduler_changes_nothing(finished_run, tmp_path, monkeypatch):
    monkeypatch.setattr(fastnn_distributed, "CONNECT_TIMEOUT_S", 1.0)
    (finished_run / "report.md").rename(tmp_path / "report.md")  # as if interrupted
    try:
        before = sorted(path.name for path in finished_run.rglob("*"))
        assert main(["bench", "--resume", str(finished_run), "--scheduler",
                     "tcp://127.0.0.1:9"]) == 2
        assert sorted(path.name for path in finished_run.rglob("*")) == before
    finally:
        (tmp_path / "report.md").rename(finished_run / "report.md")


def test_merged_report_compares_machines(finished_run):
    from fastnn.bench.report.document import report_markdown

    frame, metadata = cli_distributed.merged_results(read_plan(finished_run), finished_run, {},
                                                     finished_run, 1.0)
    other = frame.assign(host="other-box", median_s=frame["median_s"] * 2)
    both = pd.concat([frame, other], ignore_index=True)
    (host,) = metadata["machines"]
    metadata["machines"]["other-box"] = dict(metadata["machines"][host], numpy="1.0.0")
    report = report_markdown(both, metadata)
    assert f"## Machine `{host}`" in report and "## Machine `other-box`" in report
    across = report.split("## Across machines", 1)[1].split("##", 1)[0]
    assert f"| {host} | other-box | fastest |" in across and f"| {host} |\n" in across
    fastest = report.split("## Fastest backend per machine", 1)[1].split("##", 1)[0]
    assert f"| {host} | other-box |" in fastest
    assert "**Versions differ between machines**" in report and "1.0.0 on other-box" in report


def _note_for(remaining_workers, pending_hosts):
    """The note Coordinator._note_lost_worker records, without a cluster."""
    from types import SimpleNamespace

    point = SimpleNamespace
    coordinator = SimpleNamespace(
        pending={f"case-{index}": (None, point(host=host), []) for index, host in
                 enumerate(pending_hosts)},
        machines={f"tcp://w{index}": "box" for index in range(remaining_workers)},
        outcome=SimpleNamespace(lost_workers={}, refused={}),
        plan=SimpleNamespace(lost_workers={}), grace_s=30.0)
    coordinator._usable_workers = lambda host: fastnn_distributed.Coordinator._usable_workers(
        coordinator, host)
    fastnn_distributed.Coordinator._note_lost_worker(coordinator, "tcp://lost", "box")
    return coordinator.outcome.lost_workers["tcp://lost"]


def test_a_lost_worker_s_note_says_what_happened_to_the_pending_cases():
    """Found in review: the note said the cases 'went to its other workers' also when the
    machine had none left."""
    none_left = _note_for(0, ["box", "box", "elsewhere"])
    assert "box has no worker left" in none_left and "other worker" not in none_left
    assert "2 case(s) pending on box (case-0, case-1)" in none_left
    one_left = _note_for(1, ["box"])
    assert "run on its 1 other worker(s)" in one_left
    assert "no case was pending" in _note_for(0, ["elsewhere"])
