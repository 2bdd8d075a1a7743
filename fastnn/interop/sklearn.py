"""Exchange networks with scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

scikit-learn stores what fastnn does: ``coefs_[l]`` of shape ``(n_in, n_out)``,
``intercepts_[l]`` of shape ``(n_out,)``, one hidden ``activation`` and an
``out_activation_`` chosen by the task. Only the names differ (``logistic`` is fastnn's
``sigmoid``).

>>> import numpy as np
>>> from sklearn.neural_network import MLPRegressor
>>> X, y = np.arange(8.0).reshape(4, 2), np.arange(4.0)
>>> regressor = MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", random_state=0)
>>> from fastnn import MLP
>>> net = MLP.from_sklearn(regressor.fit(X, y), backend="numpy")
>>> bool(np.allclose(net.forward(X)[:, 0], regressor.predict(X), rtol=1e-12))
True
"""

from __future__ import annotations

import os

import numpy as np

from fastnn.interop._network import DenseLayer, network_layers, network_parts

# scikit-learn's activation names -> fastnn's (hidden and output layers alike).
ACTIVATIONS_FROM_SKLEARN = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "softmax": "softmax",
    "exp": "exp",
}
ACTIVATIONS_TO_SKLEARN = {fastnn: sklearn for sklearn, fastnn in ACTIVATIONS_FROM_SKLEARN.items()}

# What scikit-learn allows where: its hidden layers use one of these ...
SKLEARN_HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
# ... and its output activation follows from the estimator and its loss.
REGRESSOR_OUTPUT_LOSS = {"identity": "squared_error", "exp": "poisson"}
CLASSIFIER_OUTPUTS = ("softmax", "logistic")

# The fastnn loss matching the loss scikit-learn trained with, by output activation.
LOSS_FROM_SKLEARN = {
    "softmax": "cross_entropy",
    "logistic": "binary_cross_entropy",
    "identity": "mse",
    "exp": "poisson",
}


def read_sklearn(estimator, dtype=None):
    """The network a fitted scikit-learn MLP computes (behind ``MLP.from_sklearn``).

    Parameters
    ----------
    estimator : sklearn.neural_network.MLPClassifier or MLPRegressor
        Fitted (binary, multiclass or multilabel classifier; squared-error or Poisson
        regressor).
    dtype : {"float64", "float32"} or None
        None: the dtype of ``coefs_`` (float32 if it was fitted on float32 data).

    Returns
    -------
    NetworkParts
        The network built from them: its ``forward(X)`` equals ``predict_proba(X)``
        (for one binary output, its second column) or ``predict(X)``. The loss is the
        one the estimator was trained with (log-loss: ``cross_entropy`` with softmax,
        ``binary_cross_entropy`` with sigmoid; ``mse``; ``poisson``). ``classes_`` are
        the estimator's classes, except for a multilabel classifier (None: its outputs
        are independent labels, not classes to choose one of).

    Raises
    ------
    ValueError
        If the estimator is not fitted or uses an activation fastnn lacks.
    TypeError
        If it is not a scikit-learn MLP.
    """
    _check_fitted_mlp(estimator)
    hidden = _activation_from_sklearn(estimator.activation)
    output = _activation_from_sklearn(estimator.out_activation_)
    n_layers = len(estimator.coefs_)
    layers = [DenseLayer(np.asarray(weights), np.asarray(bias).reshape(-1),
                         hidden if index < n_layers - 1 else output)
              for index, (weights, bias) in enumerate(zip(estimator.coefs_,
                                                          estimator.intercepts_))]
    return network_parts(layers, source="the scikit-learn estimator",
                         loss=LOSS_FROM_SKLEARN[estimator.out_activation_], dtype=dtype,
                         hidden_activation=hidden,
                         classes=_single_label_classes(estimator))


def to_sklearn(net):
    """A scikit-learn estimator, populated as if fitted, that predicts what ``net`` computes.

    A classifier (``net.classes_`` set, a softmax output, or a cross-entropy loss) becomes
    an ``MLPClassifier``: softmax outputs are single-label classes (``classes_`` or
    ``0..n-1``); one sigmoid output is binary; several sigmoid outputs without
    ``classes_`` are multilabel. Any other network becomes an ``MLPRegressor`` (identity
    output: squared error; exp output: Poisson).

    Parameters
    ----------
    net : MLP

    Returns
    -------
    sklearn.neural_network.MLPClassifier or MLPRegressor
        With ``coefs_``, ``intercepts_``, ``n_layers_``, ``n_outputs_``,
        ``out_activation_``, ``n_features_in_`` and, for a classifier, ``classes_`` and
        the label binarizer: ``predict``, ``predict_proba`` and ``score`` work, and
        ``fit`` starts afresh as usual. The optimiser's state is not made up: continuing
        to train (``warm_start=True``, ``partial_fit``) is not supported on the result.

    Raises
    ------
    ValueError
        If scikit-learn's MLP lacks the network's hidden or output activation.
    """
    spec = net.spec
    if spec.n_layers > 1:
        hidden = _activation_to_sklearn(spec.activation, SKLEARN_HIDDEN_ACTIVATIONS,
                                        "hidden layers")
    else:
        # No hidden layer uses it: any name scikit-learn accepts will do.
        hidden = ACTIVATIONS_TO_SKLEARN.get(spec.activation, "identity")
    if _is_classifier(net):
        estimator = _classifier(net, hidden)
    else:
        estimator = _regressor(net, hidden)
    layers = network_layers(net)
    estimator.coefs_ = [layer.weights for layer in layers]
    estimator.intercepts_ = [layer.bias for layer in layers]
    estimator.n_layers_ = len(spec.layer_sizes)
    estimator.n_outputs_ = spec.n_outputs
    estimator.n_features_in_ = spec.n_inputs
    return estimator


def _is_classifier(net):
    return net.classes_ is not None or net.spec.output_activation == "softmax" \
        or net.spec.loss in ("cross_entropy", "binary_cross_entropy")


def _classifier(net, hidden):
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer

    spec = net.spec
    output = _activation_to_sklearn(spec.output_activation, CLASSIFIER_OUTPUTS,
                                    "classifier's output layer")
    multilabel = output == "logistic" and spec.n_outputs > 1
    if multilabel and net.classes_ is not None:
        raise ValueError("scikit-learn's MLPClassifier has no sigmoid outputs for single-label "
                         "classes (several sigmoid outputs are multilabel there); this network "
                         "has classes_ and several sigmoid outputs")
    estimator = MLPClassifier(hidden_layer_sizes=spec.layer_sizes[1:-1], activation=hidden)
    if multilabel:
        # A multilabel binarizer is fitted on an indicator matrix; classes_ = 0..n-1.
        binarizer = LabelBinarizer().fit(np.eye(spec.n_outputs, dtype=int))
    else:
        classes = np.arange(max(spec.n_outputs, 2)) if net.classes_ is None else net.classes_
        binarizer = LabelBinarizer().fit(classes)
    estimator._label_binarizer = binarizer
    estimator.classes_ = binarizer.classes_
    estimator.out_activation_ = output
    return estimator


def _regressor(net, hidden):
    from sklearn.neural_network import MLPRegressor

    spec = net.spec
    output = spec.output_activation
    if output not in ACTIVATIONS_TO_SKLEARN \
            or ACTIVATIONS_TO_SKLEARN[output] not in REGRESSOR_OUTPUT_LOSS:
        raise ValueError(f"scikit-learn's MLPRegressor has no {output!r} output activation "
                         f"(its outputs are identity, or exp with the Poisson loss); a "
                         f"classifier needs classes_, a softmax output or a cross-entropy loss")
    output = ACTIVATIONS_TO_SKLEARN[output]
    estimator = MLPRegressor(loss=REGRESSOR_OUTPUT_LOSS[output],
                             hidden_layer_sizes=spec.layer_sizes[1:-1], activation=hidden)
    estimator.out_activation_ = output
    return estimator


def _check_fitted_mlp(estimator):
    from sklearn.base import BaseEstimator, is_classifier, is_regressor

    if isinstance(estimator, (str, bytes, os.PathLike)):
        raise TypeError(f"MLP.from_sklearn reads a fitted MLPClassifier or MLPRegressor "
                        f"object, not a file name ({estimator!r}): fastnn never unpickles "
                        f"files; unpickle it yourself if you trust it, then pass the estimator")
    if not isinstance(estimator, BaseEstimator) \
            or not (is_classifier(estimator) or is_regressor(estimator)) \
            or not hasattr(estimator, "activation"):
        raise TypeError(f"MLP.from_sklearn reads a scikit-learn MLPClassifier or MLPRegressor; "
                        f"got {type(estimator).__name__}")
    missing = [name for name in ("coefs_", "intercepts_", "out_activation_")
               if not hasattr(estimator, name)]
    if missing:
        raise ValueError(f"the {type(estimator).__name__} is not fitted (it has no "
                         f"{', '.join(missing)}); call fit first")


def _activation_from_sklearn(name):
    if name not in ACTIVATIONS_FROM_SKLEARN:
        raise ValueError(f"scikit-learn activation {name!r} is not supported; fastnn reads "
                         f"{', '.join(ACTIVATIONS_FROM_SKLEARN)}")
    return ACTIVATIONS_FROM_SKLEARN[name]


def _activation_to_sklearn(name, allowed, where):
    sklearn_name = ACTIVATIONS_TO_SKLEARN.get(name)
    if sklearn_name not in allowed:
        raise ValueError(f"scikit-learn's MLP has no {name!r} activation for its {where} "
                         f"(it has {', '.join(allowed)})")
    return sklearn_name


def _single_label_classes(estimator):
    """The estimator's classes, or None for a regressor or a multilabel classifier."""
    multilabel = estimator.out_activation_ == "logistic" and estimator.n_outputs_ > 1
    if not hasattr(estimator, "classes_") or multilabel:
        return None
    return estimator.classes_
