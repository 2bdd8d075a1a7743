"""scikit-learn as a peer: the estimator :func:`fastnn.interop.sklearn.to_sklearn` builds.

``forward`` is what a scikit-learn user calls for the network's output:
``predict_proba`` for a classifier (its positive column for one sigmoid output),
``predict`` for a regressor; both validate their input, as fastnn's ``MLP`` call does.
The benchmark networks have sigmoid outputs and the mean squared error, which
scikit-learn's ``MLPRegressor`` does not have; their forward pass is that of a
multilabel (or binary) ``MLPClassifier``, which is what is timed. Threads: scikit-learn
computes through NumPy's BLAS, pinned with threadpoolctl by the sweep
(:func:`fastnn.reporting.machine.pinned_threads`).
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

from fastnn.bench.peers.base import Peer, PeerCall, PeerThreads, Unsupported
from fastnn.config import threads_in_force
from fastnn.interop.sklearn import ACTIVATIONS_TO_SKLEARN, SKLEARN_HIDDEN_ACTIVATIONS
from fastnn.model import MLP


class SklearnPeer(Peer):
    """scikit-learn's MLP estimators; forward only (``predict_proba`` / ``predict``)."""

    def unsupported(self, spec, op):
        hidden = ACTIVATIONS_TO_SKLEARN.get(spec.activation)
        if spec.n_layers > 1 and hidden not in SKLEARN_HIDDEN_ACTIVATIONS:
            return f"scikit-learn's MLP has no {spec.activation!r} hidden activation"
        return ""

    def pinned(self, threads):
        blas = threads_in_force()["blas_threads"]
        return contextlib.nullcontext(PeerThreads(
            blas, None, f"threadpoolctl: NumPy's BLAS at {blas} thread(s)"))

    def build(self, net, case, op, threads):
        estimator = _estimator(net)
        X = case.X
        if not hasattr(estimator, "predict_proba"):
            return PeerCall(lambda: estimator.predict(X), np.ravel)
        if net.spec.n_outputs == 1:
            return PeerCall(lambda: estimator.predict_proba(X), lambda P: P[:, 1])
        return PeerCall(lambda: estimator.predict_proba(X), np.ravel)


def _estimator(net):
    """``net.to_sklearn()``; a sigmoid output with another loss is read as a classifier's."""
    try:
        return net.to_sklearn()
    except ValueError as exc:
        if net.spec.output_activation != "sigmoid":
            raise Unsupported(str(exc)) from None
    # The forward pass does not depend on the loss: the same weights, read as the
    # binary or multilabel classifier scikit-learn has for sigmoid outputs.
    spec = dataclasses.replace(net.spec, loss="binary_cross_entropy")
    try:
        return MLP.from_spec(spec, net.flat_parameters, net.backend).to_sklearn()
    except ValueError as exc:
        raise Unsupported(str(exc)) from None
