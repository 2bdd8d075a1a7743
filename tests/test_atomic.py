"""Atomic writes: a writer killed at any moment leaves the previous file intact."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fastnn import MLP
from fastnn.atomic import atomic_write_text

WRITER = """
import sys
import numpy as np
from fastnn import MLP
from fastnn.atomic import atomic_write_text

path, text_path = sys.argv[1], sys.argv[2]
nets = [MLP([30, 40, 10], backend="numpy", seed=seed) for seed in (1, 2)]
print("ready", flush=True)
i = 0
while True:
    nets[i % 2].save(path)
    atomic_write_text(text_path, str(i % 2) * 100_000)
    i += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4])
def test_writer_killed_mid_write_leaves_a_whole_file(tmp_path, delay):
    path, text_path = tmp_path / "model.npz", tmp_path / "report.md"
    MLP([30, 40, 10], backend="numpy", seed=1).save(path)
    atomic_write_text(text_path, "1" * 100_000)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(text_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    loaded = MLP.load(path, backend="numpy")
    candidates = [MLP([30, 40, 10], backend="numpy", seed=seed).flat_parameters
                  for seed in (1, 2)]
    assert any(np.array_equal(loaded.flat_parameters, c) for c in candidates)
    text = text_path.read_text()
    assert text in ("0" * 100_000, "1" * 100_000)


def test_refuses_to_overwrite_when_asked_not_to(tmp_path):
    path = tmp_path / "baseline.json"
    atomic_write_text(path, "old")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        atomic_write_text(path, "new", overwrite=False)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]
