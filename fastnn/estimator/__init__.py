"""scikit-learn estimators on fastnn: drop-ins for ``MLPClassifier`` and ``MLPRegressor``.

scikit-learn 1.9's parameters (names, order, defaults and ``_parameter_constraints``
validation, raising ``InvalidParameterError`` at ``fit``), attributes and behaviour, plus
``backend``: the solvers ``lbfgs`` (:mod:`fastnn.lbfgs`), ``sgd`` (with the
``learning_rate`` schedules of :mod:`fastnn.schedules`, momentum and Nesterov's) and
``adam``; ``sample_weight``; sparse ``X``; multilabel indicator ``y``; several regression
outputs; ``loss="poisson"``; ``warm_start``, ``partial_fit``, early stopping (the same
split: ``train_test_split`` with scikit-learn's ``random_state`` handling, stratified
for binary classification) and scikit-learn's verbose lines on stdout. The random
numbers are drawn as scikit-learn draws them (Glorot-uniform initial weights, the
shuffles, the split, all from ``check_random_state(random_state)``), so with the same
``random_state`` sgd and adam give scikit-learn's model to rounding, epoch for epoch;
lbfgs follows scikit-learn's iterates to rounding over the first iterations, after which
L-BFGS may amplify the rounding differences into another end point. Training runs on a
fastnn backend (``backend="auto"``: the fastest here; on the numba backend each epoch is
one compiled kernel).

``coefs_`` and ``intercepts_`` are the parameters: assigning them (validated against the
network's shapes) or writing into them changes what ``predict``, ``warm_start`` and
``partial_fit`` use. float32 ``X`` keeps float32 parameters and predictions.

Where fastnn differs from scikit-learn, on purpose:

- extra hidden activations: every one of :data:`fastnn.spec.HIDDEN_ACTIVATIONS`
  (``leaky_relu``, ``elu``, ``softplus``, ``silu``, and ``sigmoid`` for ``logistic``);
- log losses are taken from the pre-activation (``-softplus(-z)``, log-softmax) where
  scikit-learn clips probabilities at the dtype's epsilon: the losses differ only where
  a probability is within that epsilon of 0 or 1;
- lbfgs on float32 data keeps float32 parameters (scikit-learn's become float64);
- a negative ``sample_weight``, or ``y < 0`` with ``loss="poisson"``, is a ``ValueError``;
  so are weights whose sum overflows in the data's dtype (float32 weights of 3e37 each,
  say), on every backend (scikit-learn gives NaN or "non-finite parameter weights");
- a sparse ``X`` whose index arrays break its format's promises (an index out of range,
  ``indptr`` not monotone, lengths that disagree) is a ``ValueError`` naming the problem;
- a failed or interrupted ``fit`` / ``partial_fit`` (Ctrl-C included) leaves the
  estimator exactly as it was (scikit-learn keeps an interrupted run's progress).

Slow paths (said here, and warned about when taken): a backend without
``accepts_sparse`` gets sparse ``X`` densified one mini-batch at a time and runs one
backend call per batch instead of whole compiled epochs.
"""

from fastnn.estimator._classifier import MLPClassifier
from fastnn.estimator._layers import glorot_uniform as _glorot_uniform  # noqa: F401 (tests)
from fastnn.estimator._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]

# The estimators are documented, pickled and shown as ``fastnn.estimator.<name>`` (as when
# this package was one module), whichever private module defines them: pickles name the
# class by ``__module__`` and would otherwise break if the modules inside are rearranged.
for _public_class in (MLPClassifier, MLPRegressor):
    _public_class.__module__ = __name__
del _public_class
