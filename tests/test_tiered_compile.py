"""Faults of real Numba compiles (cold compiles: minutes; opt-in).

``FASTNN_SLOW_COMPILE_TESTS=1 pytest tests/test_tiered_compile.py`` runs them; each uses
a Numba cache directory of its own, so every compile is cold. The protocol around the
compile (lock, marker, failures, kills, forks) is tested quickly in
``tests/test_tiered.py`` with a stand-in compile.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("FASTNN_SLOW_COMPILE_TESTS") != "1",
                       reason="cold Numba compiles (minutes); FASTNN_SLOW_COMPILE_TESTS=1 runs "
                              "them"),
]

FORWARD = """
import sys
import numpy as np
import fastnn
print("start", flush=True)
net = fastnn.MLP([4, 3, 2], backend=sys.argv[1], seed=0)
print(repr(net.forward(np.linspace(-1, 1, 4)).tolist()), flush=True)
from fastnn.backends import _numba_kernels as kernels
print(sum(kernels.forward_into.stats.cache_misses.values()) if sys.argv[1] == "numba" else 0)
"""


@pytest.fixture
def cold_env(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
                FASTNN_CACHE_DIR=str(tmp_path / "fastnn"), PYTHONPATH=root,
                FASTNN_TIERED="1")


def run_forward(env, backend):
    out = subprocess.run([sys.executable, "-c", FORWARD, backend], env=env,
                         capture_output=True, text=True, check=True, timeout=1800)
    lines = out.stdout.split("\n")
    return np.array(eval(lines[1])), int(lines[2])  # noqa: S307 - our own repr of floats


def test_ctrl_c_during_a_foreground_compile_leaves_no_broken_entry(cold_env):
    process = subprocess.Popen([sys.executable, "-c", FORWARD, "numba"], env=cold_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "start"
    time.sleep(3.0)  # inside the compile of the forward kernels
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=600)
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    numba_out, _ = run_forward(cold_env, "numba")
    numpy_out, _ = run_forward(cold_env, "numpy")
    np.testing.assert_allclose(numba_out, numpy_out, rtol=1e-10)
    _, misses = run_forward(cold_env, "numba")  # what the second run cached loads
    assert misses == 0


def test_a_worker_killed_mid_compile_leaves_no_marker_and_the_next_completes(cold_env):
    command = [sys.executable, "-m", "fastnn.warmup",
               json.dumps({"dtype": "float64"}), "numba"]
    worker = subprocess.Popen(command, env=cold_env)
    time.sleep(5.0)
    worker.kill()
    worker.wait()
    marker_dir = os.path.join(cold_env["FASTNN_CACHE_DIR"], "fastnn-tiers")
    assert not [name for name in os.listdir(marker_dir) if name.endswith(".ready")]
    assert subprocess.run(command, env=cold_env, timeout=3600).returncode == 0
    assert [name for name in os.listdir(marker_dir) if name.endswith(".ready")]
    numba_out, misses = run_forward(cold_env, "numba")
    assert misses == 0  # the worker's compile is what this process loads
    numpy_out, _ = run_forward(cold_env, "numpy")
    np.testing.assert_allclose(numba_out, numpy_out, rtol=1e-10)
