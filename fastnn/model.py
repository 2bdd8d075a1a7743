"""``fastnn.MLP``: a network that validates at the boundary and delegates to a backend."""

from __future__ import annotations

import numpy as np

from fastnn import backends
from fastnn.functions import ACTIVATIONS, DEFAULT_ACTIVATION, DEFAULT_LOSS
from fastnn.hyperparameters import TrainingOptions, takes_training_options
from fastnn.params import init_params, layer_views, load_params, save_params
from fastnn.spec import NetworkSpec
from fastnn.validation import (
    PlainArrays,
    all_finite,
    as_inputs,
    as_layer_params,
    as_sample_weight,
    as_training_batch,
    check_learning_rate,
)


class MLP:
    """A multi-layer perceptron on one of the interchangeable backends.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first, e.g. ``[100, 100, 50, 10]``.
    activation : str
        Hidden-layer activation, one of :data:`fastnn.spec.HIDDEN_ACTIVATIONS` (the
        table is :data:`fastnn.functions.ACTIVATIONS`).
    output_activation : str or None
        Output activation, one of :data:`fastnn.spec.OUTPUT_ACTIVATIONS`; None picks the
        one the loss implies (``fastnn.functions.LOSSES[loss].default_output``: mse ->
        sigmoid, cross_entropy -> softmax, binary_cross_entropy -> sigmoid).
    loss : str
        One of :data:`fastnn.spec.LOSSES` (table :data:`fastnn.functions.LOSSES`), a mean
        over samples; the formulas are in :mod:`fastnn.functions`.
    backend : str
        ``"python"``, ``"numpy"``, ``"numba"`` or ``"auto"`` (the fastest available).
    dtype : {"float64", "float32"}
    init : {"auto", "uniform01", "normal", "xavier", "he"}
    seed : int, numpy.random.Generator or None
        Seeds ``numpy.random.default_rng`` for the initial parameters.

    Attributes
    ----------
    spec : NetworkSpec
        The validated description.
    backend : str
        The resolved backend name.
    """

    def __init__(self, layer_sizes, activation=DEFAULT_ACTIVATION, output_activation=None,
                 loss=DEFAULT_LOSS, backend="auto", dtype="float64", init="auto", seed=None):
        spec = NetworkSpec.create(layer_sizes, activation, output_activation, loss, dtype)
        self._attach(spec, init_params(spec, init, seed), backends.resolve_backend(backend, spec))

    @classmethod
    def from_spec(cls, spec, params, backend="auto"):
        """A network from a :class:`NetworkSpec` and a flat parameter buffer (copied)."""
        net = cls.__new__(cls)
        flat = np.array(params, dtype=spec.dtype)
        net._attach(spec, flat, backends.resolve_backend(backend, spec))
        return net

    def _attach(self, spec, params, backend):
        self.spec = spec
        self._params = _writable_buffer(params)
        self._backend = backend
        self._kernels = None

    # --- description ----------------------------------------------------------------

    @property
    def backend(self):
        """Name of the backend this network computes with now (with ``backend="auto"``,
        ``"numpy"`` until its Numba kernels are compiled in the background, then the
        Numba backend's: see :mod:`fastnn.backends.tiered`)."""
        return self._backend.name

    @property
    def layer_sizes(self):
        return self.spec.layer_sizes

    @property
    def weights(self):
        """Read-only views of the weight matrices, shapes ``(n_in, n_out)`` per layer."""
        return _read_only(layer_views(self._params, self.spec.layer_sizes)[0])

    @property
    def biases(self):
        """Read-only views of the bias vectors, shapes ``(n_out,)`` per layer."""
        return _read_only(layer_views(self._params, self.spec.layer_sizes)[1])

    @property
    def flat_parameters(self):
        """Read-only view of the flat parameter buffer (layout in :mod:`fastnn.params`)."""
        view = self._params.view()
        view.flags.writeable = False
        return view

    def set_params(self, weights, biases):
        """Copy new parameters in, after validating all of them.

        Parameters
        ----------
        weights : sequence of array-like, shapes ``(n_in, n_out)`` per layer
        biases : sequence of array-like, shapes ``(n_out,)`` per layer

        Raises
        ------
        ValueError, TypeError
            Wrong counts, shapes, dtypes or non-finite values; the network is unchanged.
        """
        weights, biases = as_layer_params(weights, biases, self.spec)
        own_weights, own_biases = layer_views(self._params, self.spec.layer_sizes)
        for own, new in zip(own_weights + own_biases, weights + biases):
            own[...] = new
        return self

    # --- computation ----------------------------------------------------------------

    def forward(self, X):
        """Network output.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs) or (n_inputs,), or a scipy.sparse matrix
            A sparse ``X`` (CSR, CSC, COO, ...) is converted once to canonical CSR; the
            first layer is then a sparse product (the backend must declare
            ``accepts_sparse``; every built-in backend does).

        Returns
        -------
        ndarray, shape (n_samples, n_outputs) or (n_outputs,) for a 1-D ``X``
        """
        # The per-call fast path, in as few Python operations as it takes: a plain X (see
        # PlainArrays), tested for finiteness by the kernel along with the output.
        # Anything else, or a NaN, takes the checked path, which converts or raises. Its
        # opening is _plain_batch's, inline: one call fewer on the hottest path (2%).
        kernels = self._kernels
        if kernels is None:
            kernels = self._bind()
        if kernels and type(X) is np.ndarray:
            plain = self._plain
            if X.dtype is plain.dtype and X.flags.carray:
                shape = X.shape
                if shape == plain.sample_shape:
                    Y = kernels.forward(X[None])
                    if Y is not None:
                        return Y[0]
                elif len(shape) == 2 and shape[0] and shape[1] == plain.n_inputs:
                    Y = kernels.forward(X)
                    if Y is not None:
                        return Y
        return self._checked_forward(X)

    def _checked_forward(self, X):
        """:meth:`forward` through the full validation, which raises the errors."""
        spec = self.spec
        X, single = as_inputs(X, spec)
        if X.shape[0] == 0:
            return np.empty((0, spec.n_outputs), dtype=spec.dtype)
        self._check_sparse_support(X)
        Y = self._backend.forward(spec, self._params, X)
        if single:
            Y = Y[0]
        _check_finite(Y, "network output")
        return Y

    def loss(self, X, T, sample_weight=None):
        """Mean loss over the samples.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs) or (n_inputs,), or a scipy.sparse matrix
        T : array-like, shape (n_samples, n_outputs) or (n_outputs,)
        sample_weight : array-like, shape (n_samples,), or None
            Per-sample weights: the loss is the weighted mean ``sum_i w_i L_i / sum_i w_i``.
            Finite, non-negative, not all zero.

        Returns
        -------
        float
        """
        X, T = as_training_batch(X, T, self.spec)
        if sample_weight is not None or type(X) is not np.ndarray:
            sample_weight = self._checked_extras(X, sample_weight)
        if sample_weight is None:
            loss = self._backend.loss(self.spec, self._params, X, T)
        else:
            loss = self._backend.loss(self.spec, self._params, X, T, sample_weight)
        _check_finite(float(loss), "loss")
        return float(loss)

    def gradients(self, X, T, sample_weight=None):
        """Mean loss and its gradient with respect to every weight and bias.

        Parameters are those of :meth:`loss`.

        Returns
        -------
        loss : float
        dweights : list of ndarray, shapes ``(n_in, n_out)``
        dbiases : list of ndarray, shapes ``(n_out,)``
        """
        kernels, X2d, T2d = self._plain_batch(X, T, sample_weight)
        if X2d is not None:
            # The kernel tests the inputs, the loss and the gradient; on NaN the checked
            # path below runs and says what is not finite.
            loss, grad = kernels.gradients(X2d, T2d)
            if loss == loss:
                return (float(loss), *layer_views(grad, self.spec.layer_sizes))
        X, T = as_training_batch(X, T, self.spec)
        if sample_weight is not None or type(X) is not np.ndarray:
            sample_weight = self._checked_extras(X, sample_weight)
        if sample_weight is None:
            loss, grad = self._backend.gradients(self.spec, self._params, X, T)
        else:
            loss, grad = self._backend.gradients(self.spec, self._params, X, T, sample_weight)
        _check_finite(float(loss), "loss")
        _check_finite(grad, "gradient")
        dweights, dbiases = layer_views(np.asarray(grad, dtype=self.spec.dtype),
                                        self.spec.layer_sizes)
        return float(loss), dweights, dbiases

    def train_step(self, X, T, learning_rate, sample_weight=None):
        """One gradient-descent step on the mean loss: ``theta -= learning_rate * grad``.

        The step is committed only if every new parameter is finite, so a failure
        leaves the network exactly as it was. ``X``, ``T`` and ``sample_weight`` are
        those of :meth:`loss`. A network keeps scratch buffers for its steps: do not
        call ``train_step`` (or ``fit``) on one network from two threads at once.

        Returns
        -------
        float
            The loss before the step.
        """
        rate = check_learning_rate(learning_rate)
        kernels, X2d, T2d = self._plain_batch(X, T, sample_weight)
        if X2d is not None:
            # All or nothing inside the kernel; on NaN the network is unchanged and the
            # checked path below says what is not finite.
            loss = kernels.train_step(X2d, T2d, rate)
            if loss == loss:
                return float(loss)
        X, T = as_training_batch(X, T, self.spec)
        if sample_weight is not None or type(X) is not np.ndarray:
            sample_weight = self._checked_extras(X, sample_weight)
        candidate = self._params.copy()
        if sample_weight is None:
            loss = self._backend.train_step(self.spec, candidate, X, T, rate)
        else:
            loss = self._backend.train_step(self.spec, candidate, X, T, rate, sample_weight)
        _check_finite(float(loss), "loss")
        _check_finite(candidate, "updated parameters")
        self._params[...] = candidate
        return float(loss)

    def _plain_batch(self, X, T, sample_weight):
        """The per-call fast path's opening for :meth:`gradients` and :meth:`train_step`:
        ``(kernels, X2d, T2d)`` when the network has bound kernels and ``X``, ``T`` are
        plain (:meth:`fastnn.validation.PlainArrays.batch`) and unweighted, else
        ``(kernels, None, None)``: the caller takes the checked path."""
        kernels = self._kernels
        if kernels is None:
            kernels = self._bind()
        if kernels and sample_weight is None:
            X2d, T2d = self._plain.batch(X, T)
            return kernels, X2d, T2d
        return kernels, None, None

    def _bind(self):
        """The backend's kernels bound to this network (``backend.bind``), kept for the
        per-call fast path; False for a backend without them, None (ask again at the next
        call) while a tiered backend may still move to compiled kernels."""
        if self._plain is None:
            self._plain = PlainArrays(self.spec)
        kernels = self._backend.bind(self.spec, self._params)
        if not kernels:
            kernels = None if getattr(self._backend, "pending", False) else False
        self._kernels = kernels
        return kernels

    def _checked_extras(self, X, sample_weight):
        """After ``as_training_batch``: a sparse ``X`` checked against the backend, and
        ``sample_weight`` validated (returned). Apart, to keep the plain call fast."""
        if type(X) is not np.ndarray:
            self._check_sparse_support(X)
        if sample_weight is None:
            return None
        return as_sample_weight(sample_weight, X.shape[0], self.spec.dtype)

    def _check_sparse_support(self, X):
        if type(X) is not np.ndarray and not self._backend.accepts_sparse:
            raise ValueError(f"backend {self.backend!r} does not take sparse inputs; use "
                             f"one of {backends.backends_where(accepts_sparse=True)} or "
                             f"pass X.toarray()")

    # --- training and prediction (fastnn.train) -----------------------------------------

    # The backend's kernels bound to this network (see _bind): None until the first call,
    # False if the backend has none. They hold train_step's scratch space, made once:
    # a fresh one per call costs more than the update itself (its pages are cold).
    _kernels = None
    _plain = None

    # Set by fit: the class labels the outputs stand for (None: not trained on labels),
    # and the per-epoch history.
    classes_ = None
    history_ = None

    @takes_training_options
    def fit(self, X, y, *, seed=None, progress=False, sample_weight=None, **options):
        """Train the network; the algorithm is described in :mod:`fastnn.train`.

        Training runs on a copy of the parameters, committed at the end: bad arguments,
        a diverging run or an interrupt leave the network exactly as it was.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs), or a scipy.sparse matrix
        y : array-like, shape (n_samples, n_outputs) or (n_samples,)
            A target matrix, or class labels (one-hot encoded for several outputs; for
            one output, the probability of the second of two classes). 1-D numeric ``y``
            for a single-output mse network is a regression target.
        {training_options}
        seed : int, numpy.random.Generator or None
            Seeds ``numpy.random.default_rng`` for the shuffles and the split.
        progress : bool
            Show a tqdm progress bar.
        sample_weight : array-like, shape (n_samples,), or None
            Per-sample weights (finite, non-negative, not all zero): every mini-batch
            loss is the weighted mean over its samples.

        Returns
        -------
        self
            With ``history_`` (dict of lists: ``loss`` per epoch and, with a validation
            set, ``val_loss`` and ``val_accuracy``) and ``classes_`` (labels or None).
        """
        from fastnn import train

        options = TrainingOptions(**options)
        X, _ = as_inputs(X, self.spec)
        if X.shape[0] == 0:
            raise ValueError("X has no samples; fit needs at least one")
        self._check_sparse_support(X)
        # Passed only when given, so that training without weights calls exactly as before.
        weighting = {}
        if sample_weight is not None:
            weighting["sample_weight"] = as_sample_weight(sample_weight, X.shape[0],
                                                          self.spec.dtype)
        params, classes, history = train.fit_network(
            self._backend, self.spec, self._params, X, y, options, seed, progress, **weighting)
        self._params[...] = params
        self.classes_, self.history_ = classes, history
        return self

    def predict(self, X):
        """Class labels for a classifier, else the network output.

        A classifier (trained on labels, or with a softmax output or a cross-entropy
        loss) predicts the argmax output, or ``output > 0.5`` for a single output,
        mapped to ``classes_`` when it was trained on labels.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs) or (n_inputs,)

        Returns
        -------
        ndarray, shape (n_samples,) for a classifier (a scalar for a 1-D ``X``),
        else the output as :meth:`forward`.
        """
        from fastnn import train

        Y = self.forward(X)
        if not train.is_classifier(self.spec, self.classes_):
            return Y
        indices = train.output_indices(np.atleast_2d(Y))
        labels = indices if self.classes_ is None else self.classes_[indices]
        return labels[0] if np.ndim(Y) == 1 else labels

    def predict_proba(self, X):
        """Class probabilities; a single sigmoid output ``p`` gives ``[1 - p, p]``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs) or (n_inputs,)

        Returns
        -------
        ndarray, shape (n_samples, n_classes) (or (n_classes,) for a 1-D ``X``)

        Raises
        ------
        ValueError
            If the output activation is neither softmax nor sigmoid.
        """
        if not ACTIVATIONS[self.spec.output_activation].probabilities:
            raise ValueError(f"predict_proba needs a {_PROBABILITY_OUTPUTS} output; this network's "
                             f"output is {self.spec.output_activation!r}")
        Y = self.forward(X)
        if self.spec.n_outputs == 1:
            Y = np.concatenate([1 - Y, Y], axis=-1)
        return Y

    def __getstate__(self):
        # Pickle the backend by name: backend objects may hold compiled code.
        state = dict(self.__dict__)
        state["_backend"] = getattr(self._backend, "requested", self._backend.name)
        state.pop("_kernels", None)
        state.pop("_plain", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["_backend"] = backends.resolve_backend(state["_backend"], state["spec"])
        # joblib.load(..., mmap_mode="r") hands back a read-only memory map
        state["_params"] = _writable_buffer(state["_params"])
        self.__dict__.update(state)

    # --- model exchange (fastnn.interop; torch / onnx are imported only when used) ------

    @classmethod
    def from_sklearn(cls, estimator, backend="auto", dtype=None):
        """A network computing what a fitted scikit-learn ``MLPClassifier`` /
        ``MLPRegressor`` computes; see :func:`fastnn.interop.sklearn.read_sklearn`."""
        from fastnn.interop.sklearn import read_sklearn

        return cls._from_parts(read_sklearn(estimator, dtype=dtype), backend)

    def to_sklearn(self):
        """A populated scikit-learn ``MLPClassifier`` / ``MLPRegressor`` predicting what this
        network computes; see :func:`fastnn.interop.sklearn.to_sklearn`."""
        from fastnn.interop.sklearn import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_torch(cls, module, backend="auto", dtype=None, loss=None):
        """A network computing what a ``torch.nn.Sequential`` of ``Linear`` and activation
        modules computes (needs ``fastnn[torch]``); see :func:`fastnn.interop.torch.read_torch`."""
        from fastnn.interop.torch import read_torch

        return cls._from_parts(read_torch(module, dtype=dtype, loss=loss), backend)

    def to_torch(self):
        """This network as a ``torch.nn.Sequential`` (needs ``fastnn[torch]``); see
        :func:`fastnn.interop.torch.to_torch`."""
        from fastnn.interop.torch import to_torch

        return to_torch(self)

    @classmethod
    def from_onnx(cls, source, backend="auto", dtype=None, loss=None, max_bytes=None):
        """A network read from an ONNX model (a path or its bytes; needs ``fastnn[onnx]``);
        see :func:`fastnn.interop.onnx.read_onnx`."""
        from fastnn.interop.onnx import read_onnx

        parts = read_onnx(source, dtype=dtype, loss=loss, max_bytes=max_bytes)
        return cls._from_parts(parts, backend)

    @classmethod
    def _from_parts(cls, parts, backend):
        """A network from what an interop reader returned (spec, parameters, classes)."""
        net = cls.from_spec(parts.spec, parts.params, backend)
        net.classes_ = parts.classes
        return net

    def to_onnx(self, path=None):
        """This network as ONNX model bytes, also written atomically to ``path`` if given
        (needs ``fastnn[onnx]``); see :func:`fastnn.interop.onnx.to_onnx`."""
        from fastnn.interop.onnx import to_onnx

        return to_onnx(self, path)

    # --- copies and files -----------------------------------------------------------

    def with_backend(self, backend):
        """An independent copy of this network computing on ``backend``."""
        copy = MLP.from_spec(self.spec, self._params, backend)
        copy.classes_ = None if self.classes_ is None else self.classes_.copy()
        return copy

    def copy(self):
        """An independent copy on the same backend (``"auto"`` for a tiered network, which
        the copy then resolves again)."""
        return self.with_backend(getattr(self._backend, "requested", self.backend))

    def save(self, path):
        """Write the spec and parameters to an ``.npz`` file (atomically, no pickle)."""
        save_params(path, self.spec, self._params)

    @classmethod
    def load(cls, path, backend="auto"):
        """Read a network written by :meth:`save`; ValueError for a corrupt or foreign file."""
        spec, params = load_params(path)
        return cls.from_spec(spec, params, backend)

    def __repr__(self):
        sizes = "-".join(str(size) for size in self.spec.layer_sizes)
        return (f"MLP({sizes}, activation={self.spec.activation!r}, "
                f"output_activation={self.spec.output_activation!r}, loss={self.spec.loss!r}, "
                f"dtype={self.spec.dtype!r}, backend={self.backend!r})")


# The outputs predict_proba reads as class probabilities, e.g. "softmax or sigmoid".
_PROBABILITY_OUTPUTS = " or ".join(reversed([name for name, entry in ACTIVATIONS.items()
                                             if entry.probabilities]))


def _read_only(arrays):
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _check_finite(values, what):
    if not all_finite(values):
        raise ValueError(f"the {what} is not finite (NaN or infinity): the inputs or parameters "
                         f"are too large for the network's dtype")


def _writable_buffer(params):
    """``params`` (n_params,), or a writable copy where it is read-only (a read-only
    memory map from ``joblib.load(..., mmap_mode="r")``): training writes in place, and
    the Numba kernels would compile again for a read-only buffer."""
    return params if params.flags.writeable else np.array(params)
