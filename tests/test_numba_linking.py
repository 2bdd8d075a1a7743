"""Helpers linked into their callers without machine code of their own
(fastnn/_numba_linking.py, an experiment off by default): the Numba internals
it patches, and kernels built on deferred helpers giving the numbers of kernels whose
helpers are finalised as usual."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from fastnn import _numba_linking  # noqa: E402


def test_numba_internals_are_where_the_patch_expects_them():
    # Fails loudly when a Numba upgrade moves them: the patch then stays out (every
    # library finalised as usual, as FASTNN_DEFER_HELPERS=0), slower but correct.
    from numba.core import codegen

    for name in ("finalize", "_optimize_final_module", "_finalize_final_module",
                 "_get_module_for_linking", "_get_compiled_object", "add_linking_library"):
        assert hasattr(codegen.CPUCodeLibrary, name), name
    assert hasattr(codegen.JITCodeLibrary, "get_pointer_to_function")
    assert hasattr(codegen.JITCodeLibrary, "_finalize_specific")
    assert hasattr(codegen.JITCPUCodegen, "set_env")
    assert _numba_linking.install()


def test_a_deferred_helper_is_linked_and_never_translated_alone(monkeypatch):
    from fastnn import config

    monkeypatch.setattr(_numba_linking, "ENABLED", True)

    def _twice(x):
        return 2.0 * x

    _twice.__qualname__ = "fastnn_test_deferred_twice"
    helper = config.njit(_twice, **dict(config.JIT_OPTIONS, cache=False,
                                        **config.HELPER_JIT_OPTIONS))

    def _caller(values):
        total = 0.0
        for value in values:
            total += helper(value)
        return total

    caller = config.njit(_caller, **dict(config.JIT_OPTIONS, cache=False))
    assert caller(np.arange(5.0)) == 20.0
    (library,) = [overload.library for overload in helper.overloads.values()]
    assert library._finalized and getattr(library, "_fastnn_deferred", False)
    # Asked for machine code of its own, it is finalised in full, as Numba would have.
    name = next(function.name for function in library._final_module.functions
                if not function.is_declaration and "deferred_twice" in function.name)
    assert library.get_pointer_to_function(name) != 0
    assert not library._fastnn_deferred


# Slow (about 35 s cold: two processes compile a network's kernels): deferral is opt-in
# (FASTNN_DEFER_HELPERS=1), so the default run keeps only the checks of Numba's internals.
@pytest.mark.slow
def test_kernels_give_the_same_numbers_with_and_without_deferral(tmp_path):
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import fastnn
        rng = np.random.default_rng(0)
        X, T = rng.standard_normal((7, 5)), rng.random((7, 3))
        net = fastnn.MLP([5, 4, 3], activation="tanh", output_activation="softmax",
                         loss="cross_entropy", backend="numba", seed=0)
        loss, dweights, dbiases = net.gradients(X, T)
        grad = np.concatenate([part.ravel() for part in dweights + dbiases])
        net.fit(X, T, epochs=2, batch_size=3, optimizer="adam", seed=0)
        np.save(sys.argv[1], np.concatenate([net.forward(X).ravel(), grad, [loss],
                                             [net.loss(X, T)]]))
    """)
    results = {}
    for defer in ("0", "1"):
        env = dict(os.environ, FASTNN_DEFER_HELPERS=defer, FASTNN_TIERED="0",
                   NUMBA_CACHE_DIR=str(tmp_path / f"cache{defer}"),
                   PYTHONPATH=os.pathsep.join(sys.path))
        out = tmp_path / f"out{defer}.npy"
        subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True,
                       timeout=600, cwd=tmp_path)
        results[defer] = np.load(out)
    np.testing.assert_allclose(results["1"], results["0"], rtol=1e-12, atol=1e-14)
