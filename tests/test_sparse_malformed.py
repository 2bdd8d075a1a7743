"""Malformed sparse input (indices out of range or negative, ``indptr`` not monotone,
lengths that disagree) is refused with a ValueError before any kernel, or SciPy's own
conversions, read memory through it; on every backend, in every public entry point.

SciPy builds such matrices without complaint (here by editing a valid matrix's arrays in
place). Unchecked, they crashed the interpreter, so each backend's cases run in a child
process: a segfault fails the test instead of killing pytest.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import BACKENDS

from fastnn import MLP
from fastnn.validation import canonical_csr, check_sparse_structure

N_INPUTS = 6


def _valid(rng_seed=0, fmt="csr", rows=8):
    rng = np.random.default_rng(rng_seed)
    dense = rng.normal(size=(rows, N_INPUTS)) * (rng.random((rows, N_INPUTS)) < 0.5)
    dense[:, 0] = 1.0  # every row stores an entry
    return sp.csr_matrix(dense).asformat(fmt)


# The rows of the matrices built: 8 (small: the checks run on lists) unless changed.
_ROWS = {"rows": 8}


def _edit(fmt, change):
    X = _valid(fmt=fmt, rows=_ROWS["rows"])
    change(X)
    return X


# name -> a malformed matrix; each breaks one promise of its format.
MALFORMED = {
    "csr_index_far_out": lambda: _edit("csr", lambda X: X.indices.__setitem__(3, 10**6)),
    "csr_index_just_out": lambda: _edit("csr", lambda X: X.indices.__setitem__(3, N_INPUTS)),
    "csr_index_negative": lambda: _edit("csr", lambda X: X.indices.__setitem__(3, -1)),
    "csr_indptr_decreasing": lambda: _edit("csr", lambda X: X.indptr.__setitem__(2, 0)),
    "csr_indptr_past_data": lambda: _edit("csr", lambda X: X.indptr.__setitem__(-1, 10**6)),
    "csr_indptr_too_short": lambda: _edit("csr", lambda X: setattr(X, "indptr", X.indptr[:-2])),
    "csr_indices_short": lambda: _edit("csr", lambda X: setattr(X, "indices", X.indices[:-1])),
    "csc_index_far_out": lambda: _edit("csc", lambda X: X.indices.__setitem__(2, 10**6)),
    "csc_index_negative": lambda: _edit("csc", lambda X: X.indices.__setitem__(2, -5)),
    "csc_indptr_decreasing": lambda: _edit("csc", lambda X: X.indptr.__setitem__(2, 0)),
    "coo_col_far_out": lambda: _edit("coo", lambda X: X.col.__setitem__(1, 10**6)),
    "coo_row_negative": lambda: _edit("coo", lambda X: X.row.__setitem__(1, -1)),
}


@pytest.mark.parametrize("rows", [8, 200], ids=["small", "large"])
@pytest.mark.parametrize("name", MALFORMED)
def test_the_structure_check_names_what_is_wrong(name, rows, monkeypatch):
    """Both paths: lists for a few values, NumPy for more (200 rows: 200+ entries)."""
    monkeypatch.setitem(_ROWS, "rows", rows)
    X = MALFORMED[name]()
    assert (len(X.data) > 64) == (rows > 64)
    before = [array.copy() for array in _arrays(X)]
    with pytest.raises(ValueError, match="malformed"):
        canonical_csr(X, "float64")
    assert all(np.array_equal(a, b) for a, b in zip(_arrays(X), before))  # X unchanged


def _arrays(X):
    return (X.data, X.row, X.col) if X.format == "coo" else (X.data, X.indices, X.indptr)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "lil", "dok", "dia"])
@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")  # 200-row DIA
@pytest.mark.parametrize("rows", [8, 200], ids=["small", "large"])
def test_well_formed_matrices_pass_in_every_format(fmt, rows):
    X = _valid(fmt=fmt, rows=rows)
    check_sparse_structure(X if fmt in ("csr", "csc", "coo", "bsr") else X.tocoo())
    assert np.array_equal(canonical_csr(X, "float64").toarray(), _valid(rows=rows).toarray())


@pytest.mark.parametrize("rows", [8, 200], ids=["small", "large"])
def test_unsorted_csr_with_a_stale_canonical_flag_is_canonicalised(rows):
    """SciPy caches ``has_canonical_format``; an in-place edit leaves it stale, so the
    boundary tests the arrays themselves."""
    X = _valid(rows=rows)
    assert X.has_canonical_format
    start, stop = X.indptr[0], X.indptr[1]
    X.indices[start:stop] = X.indices[start:stop][::-1].copy()
    X.data[start:stop] = X.data[start:stop][::-1].copy()
    csr = canonical_csr(X, "float64")
    assert csr is not X
    assert np.all(np.diff(csr.indices[csr.indptr[0]:csr.indptr[1]]) > 0)
    assert np.array_equal(csr.toarray(), _valid(rows=rows).toarray())


_CHILD = textwrap.dedent('''
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_sparse_malformed import MALFORMED, N_INPUTS
    from fastnn import MLP
    from fastnn.estimator import MLPClassifier, MLPRegressor

    def outcomes(backend):
        rng = np.random.default_rng(1)
        T = rng.random((8, 2))
        labels = np.arange(8) % 2
        net = MLP([N_INPUTS, 3, 2], backend=backend, seed=0)
        fitted = MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, backend=backend,
                              random_state=0).fit(rng.random((8, N_INPUTS)), T)
        calls = {{
            "forward": lambda X: net.forward(X),
            "loss": lambda X: net.loss(X, T),
            "gradients": lambda X: net.gradients(X, T),
            "train_step": lambda X: net.train_step(X, T, 0.1),
            "fit": lambda X: net.fit(X, T, epochs=1, batch_size=4),
            "classifier.fit": lambda X: MLPClassifier(hidden_layer_sizes=(3,), max_iter=2,
                                                      backend=backend).fit(X, labels),
            "regressor.fit(lbfgs)": lambda X: MLPRegressor(hidden_layer_sizes=(3,), max_iter=2,
                                                           backend=backend).fit(X, T),
            "regressor.predict": lambda X: fitted.predict(X),
        }}
        outcome = {{}}
        for case, build in MALFORMED.items():
            for call, run in calls.items():
                X = build()
                try:
                    run(X)
                    outcome[case + " " + call] = "no error"
                except Exception as exc:
                    outcome[case + " " + call] = type(exc).__name__ + ": " + str(exc)
        return outcome

    # Flushed per backend: if one crashes the process, the others' results are kept.
    for backend in {backends!r}:
        print(json.dumps({{backend: outcomes(backend)}}), flush=True)
''')


@pytest.fixture(scope="module")
def child_outcomes():
    """Every backend's cases, run in one child process (one import of the stack)."""
    script = _CHILD.format(tests=os.path.dirname(__file__), backends=BACKENDS)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=900)
    results = {}
    for line in child.stdout.splitlines():
        if line.startswith("{"):
            results.update(json.loads(line))
    return child, results


@pytest.mark.parametrize("backend", BACKENDS)
def test_malformed_sparse_input_is_a_value_error_in_every_entry_point(backend, child_outcomes):
    child, results = child_outcomes
    assert backend in results, (f"the child process died (status {child.returncode}) "
                                f"before finishing {backend!r}:\n{child.stderr[-3000:]}")
    outcome = results[backend]
    assert len(outcome) == len(MALFORMED) * 8
    wrong = {key: value for key, value in outcome.items()
             if not (value.startswith("ValueError") and "malformed" in value)}
    assert not wrong, wrong


def test_a_malformed_matrix_leaves_the_network_unchanged():
    net = MLP([N_INPUTS, 3, 2], backend="numpy", seed=0)
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError, match="malformed"):
        net.train_step(MALFORMED["csr_index_just_out"](), np.zeros((8, 2)), 0.1)
    assert np.array_equal(net.flat_parameters, before)
