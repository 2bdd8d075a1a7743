"""The README's Results section shows the committed default run, as that run's files say."""

import re
from pathlib import Path

from fastnn.bench.report.document import headline_table, markdown_table
from fastnn.bench.workload.cases import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_LAYER_SIZES,
    LEVELS,
    sizes_label,
)
from fastnn.ops import SWEPT_OPS
from fastnn.reporting.results import load_results

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "reports" / "baseline"


def _results_section():
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Results", 1)[1].split("\n## ", 1)[0]


def test_committed_baseline_is_a_whole_default_run_with_numba():
    frame, metadata = load_results(BASELINE)
    config = metadata["config"]
    assert config["layer_sizes"] == [sizes_label(sizes) for sizes in DEFAULT_LAYER_SIZES]
    assert tuple(config["batch_sizes"]) == DEFAULT_BATCH_SIZES
    assert tuple(config["ops"]) == SWEPT_OPS and tuple(config["levels"]) == LEVELS
    assert config["dtypes"] == ["float64"] and config["threads"] == [1]
    assert {"python", "numpy", "numba"} <= set(frame["backend"])
    assert set(frame["status"]) <= {"ok", "skipped"}
    for name in ("report.md", "results.csv", "time_vs_size.png", "speedup.png",
                 "batch_scaling.png"):
        assert (BASELINE / name).stat().st_size > 0


def test_readme_results_table_is_the_baselines_headline():
    frame, metadata = load_results(BASELINE)
    section = _results_section()
    assert markdown_table(headline_table(frame)) in section
    assert metadata["machine"]["cpu_model"] in section
    assert f"NumPy {metadata['machine']['numpy']}" in section
    assert f"Numba {metadata['machine']['numba']}" in section


def test_readme_results_images_and_links_exist():
    section = _results_section()
    targets = re.findall(r"\]\(([^)]+)\)", section)
    assert any(target.endswith(".png") for target in targets)
    for target in targets:
        assert (ROOT / target).exists(), target
