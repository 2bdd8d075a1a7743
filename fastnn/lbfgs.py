"""The ``lbfgs`` solver: full-batch L-BFGS-B on the flat parameter buffer, as scikit-learn's.

:func:`minimize` hands ``scipy.optimize.minimize(method="L-BFGS-B")`` fastnn's flat
parameter buffer (:mod:`fastnn.params`) and an objective built by :func:`objective`
from any backend's loss and gradient (:func:`fastnn.train.full_batch_gradients`, sparse
``X`` included), with scikit-learn's L2 term ``alpha * ||W||^2 / (2 * sum of the sample
weights)`` (the number of samples without weights) and its options: ``maxiter=max_iter``,
``maxfun=max_fun``, ``gtol=tol``. The result's status is checked as scikit-learn checks
it (``sklearn.utils.optimize._check_optimize_result``: a ``ConvergenceWarning`` naming the
iterations when L-BFGS-B stopped without converging).

SciPy works in float64; a float32 network computes its loss and gradient in float32 and
hands them back as float64 (scikit-learn's lbfgs instead turns float32 parameters into
float64 ones).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from fastnn.params import layer_slices


def minimize(loss_and_gradient, params, max_iter, max_fun, tol, on_iteration=None):
    """Run L-BFGS-B from ``params``.

    Parameters
    ----------
    loss_and_gradient : callable
        ``f(flat) -> (float, ndarray of shape (n_params,))`` for a float64 ``flat``.
    params : ndarray, shape (n_params,)
        The starting point (not modified).
    max_iter, max_fun : int
        Most iterations and most evaluations of ``loss_and_gradient``.
    tol : float
        SciPy's ``gtol``: converged when every gradient entry is at most this in size.
    on_iteration : callable or None
        ``on_iteration(loss)`` after every iteration, with that iteration's loss.

    Returns
    -------
    params : ndarray, shape (n_params,), dtype of the input ``params``
    loss : float
        The loss at ``params``.
    n_iter : int
        Iterations run (at most ``max_iter``).
    """
    from sklearn.utils.optimize import _check_optimize_result

    callback = None
    if on_iteration is not None:
        def callback(intermediate_result):
            on_iteration(float(intermediate_result.fun))
    result = scipy.optimize.minimize(
        loss_and_gradient, np.asarray(params, dtype=np.float64), method="L-BFGS-B",
        jac=True, callback=callback,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    n_iter = _check_optimize_result("lbfgs", result, max_iter)
    return result.x.astype(params.dtype), float(result.fun), n_iter


def objective(gradients, spec, alpha, weight_total, data_scale=1.0):
    """scikit-learn's lbfgs objective around a full-batch loss and gradient.

    Parameters
    ----------
    gradients : callable
        ``gradients(params) -> (loss, grad)``: the (weighted) mean data loss over the
        training set and its gradient, for ``params`` of the network's dtype.
    spec : NetworkSpec
    alpha : float
        The L2 penalty.
    weight_total : float
        The sum of the sample weights (the number of samples without weights).
    data_scale : float
        Factor on the reported data loss only (``1 / n_outputs`` for scikit-learn's
        squared error; the gradient is not scaled, as in scikit-learn).

    Returns
    -------
    callable
        ``f(flat float64) -> (float, ndarray float64)`` for :func:`minimize`.
    """
    dtype = np.dtype(spec.dtype)
    weights = np.zeros(layer_slices(spec.layer_sizes)[-1][1].stop, dtype=bool)
    for w_slice, _ in layer_slices(spec.layer_sizes):
        weights[w_slice] = True

    def loss_and_gradient(flat):
        params = flat.astype(dtype, copy=False)
        loss, grad = gradients(params)
        grad = np.array(grad, dtype=np.float64)
        values = flat[weights]
        penalty = 0.5 * alpha * float(values @ values) / weight_total
        grad[weights] += (alpha / weight_total) * values
        return float(loss) * data_scale + penalty, grad

    return loss_and_gradient
