"""Training: mini-batches, an L2 penalty, early stopping and a history.

One epoch visits every training sample once, in mini-batches of ``batch_size`` rows
(the last batch may be smaller), in a fresh order from ``numpy.random.default_rng``
when shuffling. Each batch takes one optimiser step on

    batch loss = mean loss over the batch + alpha * ||W||^2 / (2 * m)

where ``||W||^2`` sums the squares of every weight (not the biases) and ``m`` is the
number of rows in the batch. This is scikit-learn's ``MLPClassifier`` convention, so
``alpha`` means the same in both. The epoch's training loss is the mean of the batch
losses (each taken before its step) weighted by batch size, as in scikit-learn's
``loss_curve_``.

With ``sample_weight`` (shape (n_samples,), gathered with the rows) every batch takes
scikit-learn's weighted form: the weighted mean loss ``sum_i w_i L_i / sum_i w_i`` over
the batch and the penalty ``alpha * ||W||^2 / (2 * sum_i w_i)``; the epoch's loss still
weights each batch by its number of rows.

The optimisers are in :mod:`fastnn.optimizers`, the learning-rate schedules (applied
between epochs) in :mod:`fastnn.schedules`, the full-batch ``lbfgs`` solver in
:mod:`fastnn.lbfgs`, the hyperparameters (defaults, checks) in
:mod:`fastnn.hyperparameters`. A backend that runs whole epochs (``runs_epochs``, such
as the numba backend's one compiled kernel per epoch) gets each epoch in one call to its
``train_epoch`` and computes the same updates in the same order; other backends run an
epoch here (:func:`fit_epoch`), one backend call per batch.

Both front doors train through the drivers at the end of this module:
:meth:`fastnn.MLP.fit` (:func:`fit_network`) and the estimators of
:mod:`fastnn.estimator` run their epochs with :class:`StochasticRun` and full-batch
``lbfgs`` with :func:`fit_full_batch`; each brings only what it does differently (the
sample order, the validation split and what is evaluated after an epoch).

Sparse ``X`` (a canonical ``scipy.sparse.csr_matrix``) goes to backends that declare
``accepts_sparse`` as it is. A backend without it gets dense rows one mini-batch (or, for
full-batch work, one chunk of :data:`DENSE_CHUNK_ROWS` rows) at a time, never the whole
matrix densified; that path runs one backend call per batch even where the backend could
run whole epochs (slower: the estimators warn when they take it).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse

from fastnn.functions import ACTIVATIONS, LOSSES
from fastnn.optimizers import FULL_BATCH_SOLVERS, make_optimizer
from fastnn.params import layer_slices
from fastnn.schedules import make_schedule
from fastnn.validation import as_float_array

# Rows densified at a time when a sparse X meets a backend without ``accepts_sparse``.
DENSE_CHUNK_ROWS = 1024

# --- batches, split, penalty ------------------------------------------------------------


def epoch_order(n_samples, shuffle, rng):
    """The order in which one epoch visits the samples: shape (n_samples,), int64."""
    if shuffle:
        return rng.permutation(n_samples).astype(np.int64)
    return np.arange(n_samples, dtype=np.int64)


def batch_bounds(n_samples, batch_size):
    """``(start, stop)`` of each mini-batch; ``batch_size=None`` means one batch."""
    size = n_samples if batch_size is None else min(batch_size, n_samples)
    return [(start, min(start + size, n_samples)) for start in range(0, n_samples, size)]


def validation_split(n_samples, fraction, rng):
    """Indices of a random training / validation split.

    The validation set has ``ceil(fraction * n_samples)`` samples (as scikit-learn's
    ``train_test_split``); both parts must be non-empty.

    Returns
    -------
    train_index, validation_index : ndarray of int64, sorted
    """
    n_validation = int(math.ceil(fraction * n_samples))
    if n_validation < 1 or n_validation >= n_samples:
        raise ValueError(f"validation_fraction={fraction} of {n_samples} samples leaves "
                         f"{n_validation} for validation and {n_samples - n_validation} for "
                         f"training; both need at least one")
    order = rng.permutation(n_samples)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def weight_mask(layer_sizes):
    """True for the weights (not the biases) in the flat buffer: shape (n_params,), bool."""
    slices = layer_slices(layer_sizes)
    mask = np.zeros(slices[-1][1].stop, dtype=bool)
    for w_slice, _ in slices:
        mask[w_slice] = True
    return mask


def add_l2_penalty(params, grad, mask, alpha, n_rows):
    """Add the L2 term's gradient to ``grad`` in place and return the term's value.

    Parameters
    ----------
    params, grad : ndarray, shape (n_params,)
    mask : ndarray of bool, shape (n_params,)
        :func:`weight_mask`.
    alpha : float
    n_rows : int
        Rows in the batch.

    Returns
    -------
    float
        ``alpha * ||W||^2 / (2 * n_rows)``.
    """
    if alpha == 0:
        return 0.0
    weights = params[mask]
    grad[mask] += (alpha / n_rows) * weights
    return 0.5 * alpha * float(weights @ weights) / n_rows


# --- one batch, the full batch -----------------------------------------------------------


def takes_sparse(backend, X):
    """Whether ``backend`` can take ``X`` as it is (dense, or sparse where it accepts that)."""
    return not scipy.sparse.issparse(X) or backend.accepts_sparse


def batch_gradients(backend, spec, params, X, T, sample_weight=None):
    """The (weighted) mean loss over the rows of ``X`` and its gradient, on any backend.

    Parameters
    ----------
    backend : Backend
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
    X : ndarray or scipy.sparse.csr_matrix, shape (m, n_inputs)
    T : ndarray, shape (m, n_outputs)
    sample_weight : ndarray, shape (m,), or None

    Returns
    -------
    loss : float
    grad : ndarray, shape (n_params,), dtype of ``params``
    """
    if takes_sparse(backend, X):
        loss, grad = backend.gradients(spec, params, X, T, **_weights(sample_weight))
        return float(loss), np.asarray(grad, dtype=params.dtype)
    # Chunk means, recombined by their share of the weight (of the rows without weights).
    total_weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    loss, grad = 0.0, np.zeros_like(params)
    for start in range(0, X.shape[0], DENSE_CHUNK_ROWS):
        rows = slice(start, start + DENSE_CHUNK_ROWS)
        weights = None if sample_weight is None else sample_weight[rows]
        share = (T[rows].shape[0] if weights is None else float(weights.sum())) / total_weight
        if share == 0:
            continue
        chunk_loss, chunk_grad = backend.gradients(spec, params, _dense_rows(X[rows], spec),
                                                   T[rows], **_weights(weights))
        loss += share * float(chunk_loss)
        grad += share * np.asarray(chunk_grad, dtype=params.dtype)
    return loss, grad


def batch_loss(backend, spec, params, X, T, sample_weight=None):
    """The (weighted) mean loss over the rows of ``X`` (dense or sparse), on any backend."""
    if takes_sparse(backend, X):
        return float(backend.loss(spec, params, X, T, **_weights(sample_weight)))
    total_weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    loss = 0.0
    for start in range(0, X.shape[0], DENSE_CHUNK_ROWS):
        rows = slice(start, start + DENSE_CHUNK_ROWS)
        weights = None if sample_weight is None else sample_weight[rows]
        share = (T[rows].shape[0] if weights is None else float(weights.sum())) / total_weight
        if share:
            loss += share * float(backend.loss(spec, params, _dense_rows(X[rows], spec),
                                               T[rows], **_weights(weights)))
    return loss


def network_outputs(backend, spec, params, X):
    """The network output for ``X`` (dense, or sparse on any backend): (m, n_outputs)."""
    if takes_sparse(backend, X):
        return backend.forward(spec, params, X)
    return np.concatenate([backend.forward(spec, params, _dense_rows(X[start:start
                                                                       + DENSE_CHUNK_ROWS], spec))
                           for start in range(0, X.shape[0], DENSE_CHUNK_ROWS)])


def _dense_rows(X_rows, spec):
    return np.ascontiguousarray(X_rows.toarray(), dtype=spec.dtype)


def _weights(sample_weight):
    """The ``sample_weight`` keyword for a backend call: passed only when there are weights,
    so backends (and test doubles) without the keyword keep working unweighted."""
    return {} if sample_weight is None else {"sample_weight": sample_weight}


# --- one epoch --------------------------------------------------------------------------


def fit_epoch(backend, spec, params, X, T, order, options, optimizer, mask, sample_weight=None):
    """One training epoch on any backend: a pass over ``X[order]`` in mini-batches,
    updating ``params`` in place (formerly ``run_epoch``).

    A backend that ``runs_epochs`` gets the whole epoch in one call to its
    ``train_epoch`` method; the others get one call per batch from here.

    Parameters
    ----------
    backend : fastnn.backends.base.Backend
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
    X : ndarray or scipy.sparse.csr_matrix, shape (n_samples, n_inputs)
    T : ndarray, shape (n_samples, n_outputs)
    order : ndarray of int64, shape (n_samples,)
    options : fastnn.hyperparameters.TrainingOptions
    optimizer : fastnn.optimizers.Optimizer
        Its state is updated in place.
    mask : ndarray of bool, shape (n_params,)
        :func:`weight_mask` (not used by a backend that runs whole epochs).
    sample_weight : ndarray, shape (n_samples,), or None
        Non-negative weights of the samples (in ``X``'s order, not ``order``'s).

    Returns
    -------
    float
        The epoch's training loss (batch losses weighted by batch size; with
        ``options.output_mean_loss`` the data term divided by the number of outputs).
    """
    if backend.runs_epochs and takes_sparse(backend, X):
        return backend.train_epoch(spec, params, X, T, order, options, optimizer,
                                   **_weights(sample_weight))
    data_scale = loss_scale(spec, options)
    total = 0.0
    for start, stop in batch_bounds(X.shape[0], options.batch_size):
        rows = order[start:stop]
        weights = None if sample_weight is None else sample_weight[rows]
        loss, grad = batch_gradients(backend, spec, params, X[rows], T[rows], weights)
        penalty_rows = stop - start if weights is None else float(weights.sum())
        loss = loss * data_scale + add_l2_penalty(params, grad, mask, options.alpha,
                                                  penalty_rows)
        optimizer.step(params, grad)
        total += loss * (stop - start)
    return total / X.shape[0]


def run_epoch(*args, **kwargs):
    """Deprecated alias of :func:`fit_epoch` (the name also meant the numba backend's
    kernel call)."""
    warnings.warn("fastnn.train.run_epoch is deprecated; use fastnn.train.fit_epoch",
                  DeprecationWarning, stacklevel=2)
    return fit_epoch(*args, **kwargs)


def loss_scale(spec, options):
    """The factor on the reported data loss: ``1 / n_outputs`` with
    ``options.output_mean_loss``, else 1."""
    return 1.0 / spec.n_outputs if options.output_mean_loss else 1.0


# --- stopping and the loop --------------------------------------------------------------


class ImprovementTracker:
    """Counts epochs in a row in which a monitored value did not improve by more than tol.

    The same rule as scikit-learn's ``_update_no_improvement_count``: an epoch counts as
    an improvement if its value beats the best so far by more than ``tol``; the best so
    far is updated whenever the value is better at all.

    Parameters
    ----------
    tol : float
    patience : int or None
        ``should_stop`` becomes True after this many epochs without improvement.
    higher_is_better : bool
    nan_counts : bool
        Whether a NaN value counts as an epoch without improvement (False: it is
        ignored, scikit-learn's behaviour).
    """

    def __init__(self, tol, patience, higher_is_better=False, nan_counts=True):
        self.tol = tol
        self.patience = patience
        self.sign = -1.0 if higher_is_better else 1.0
        # scikit-learn's comparison is False for NaN, so a NaN epoch there neither
        # improves nor counts against patience (nan_counts=False); fastnn's own loop
        # counts it as an epoch without improvement.
        self.nan_counts = nan_counts
        self.best = math.inf
        self.epochs_without_improvement = 0

    @property
    def best_value(self):
        return self.sign * self.best

    def update(self, value):
        """Record one epoch's value; True if it is the best so far."""
        value = self.sign * value
        if math.isnan(value):
            self.epochs_without_improvement += self.nan_counts
        elif value > self.best - self.tol:
            self.epochs_without_improvement += 1
        else:
            self.epochs_without_improvement = 0
        if value < self.best:
            self.best = value
            return True
        return False

    @property
    def should_stop(self):
        return self.patience is not None and self.epochs_without_improvement >= self.patience


class TrainingDiverged(ValueError):
    """The loss or the parameters stopped being finite during training."""


def train_loop(run_one_epoch, params, epochs, evaluate, tracker, monitor,
               keep_best=False, progress=False, end_epoch=None, stalled=None,
               go_on_diverged=False):
    """Run up to ``epochs`` epochs, recording a history and stopping early.

    Parameters
    ----------
    run_one_epoch : callable
        ``run_one_epoch(params) -> float``: one epoch, ``params`` updated in place,
        returns the training loss.
    params : ndarray, shape (n_params,)
        Updated in place (pass a copy to keep the original).
    epochs : int
    evaluate : callable
        ``evaluate(params, training_loss) -> dict`` of this epoch's figures (str -> float),
        including ``"loss"``.
    tracker : ImprovementTracker
    monitor : str
        The key of ``evaluate``'s dict the tracker watches.
    keep_best : bool
        Leave ``params`` at the epoch with the best monitored value.
    progress : bool
        Show a tqdm progress bar.
    end_epoch : callable or None
        ``end_epoch()`` after each epoch's figures are recorded and tracked (a
        learning-rate schedule's update between epochs).
    stalled : callable or None
        ``stalled() -> bool`` when the tracker says stop: True stops training, False
        goes on with the tracker's count restarted (an adaptive schedule lowering the
        rate). None: always stop.
    go_on_diverged : bool
        With ``keep_best``: an epoch whose loss or parameters are not finite is recorded
        (its figures as ``evaluate`` gives them, NaN where they are not finite) and
        training goes on, as scikit-learn's early stopping does (its issue 29504); the
        best epoch's parameters are kept. Otherwise such an epoch raises.

    Returns
    -------
    history : dict of str -> list of float
    stopped_early : bool

    Raises
    ------
    TrainingDiverged
        If the loss or the parameters become NaN or infinite (unless
        ``go_on_diverged``).
    """
    from tqdm.auto import tqdm

    history = {}
    best_params = params.copy() if keep_best else None
    stopped_early = False
    with tqdm(total=epochs, disable=not progress, unit="epoch") as bar:
        for epoch in range(1, epochs + 1):
            loss = run_one_epoch(params)
            finite = math.isfinite(loss) and np.isfinite(params).all()
            if not finite and not (go_on_diverged and keep_best):
                raise TrainingDiverged(
                    f"training diverged in epoch {epoch}: the loss or the parameters became "
                    f"NaN or infinite; try a smaller learning rate or scaled inputs")
            figures = evaluate(params, loss)
            for key, value in figures.items():
                history.setdefault(key, []).append(value)
            if tracker.update(figures[monitor]) and keep_best:
                best_params[...] = params
            if progress:
                bar.update(1)
                bar.set_postfix({key: f"{value:.4g}" for key, value in figures.items()})
            if end_epoch is not None:
                end_epoch()
            if tracker.should_stop:
                if stalled is None or stalled():
                    stopped_early = True
                    break
                tracker.epochs_without_improvement = 0
    if keep_best:
        params[...] = best_params
    return history, stopped_early


# --- targets: class labels or a target matrix -------------------------------------------


def is_classification_loss(loss):
    """Whether the loss named ``loss`` compares outputs with classes (not with numbers)."""
    return LOSSES[loss].classification


def is_classifier(spec, classes=None):
    """Whether ``predict`` gives class labels: trained on labels, an output that is a
    distribution over classes (softmax), or a classification loss."""
    return classes is not None or ACTIVATIONS[spec.output_activation].distribution \
        or is_classification_loss(spec.loss)


def encode_targets(y, spec, n_samples):
    """Turn ``y`` into the target matrix the loss needs, and the class labels if any.

    A 2-D ``y`` is the target matrix itself. A 1-D ``y`` holds class labels when the
    network has several outputs, a cross-entropy loss, or ``y`` is not numeric (a single
    mse output with numeric ``y`` is a regression target). Integer labels in
    ``0 .. n_outputs - 1`` (``0, 1`` for one output) index the outputs directly; other
    labels need exactly ``n_outputs`` distinct values (two for one output), taken in
    sorted order. A single output is the probability of the second class.

    Parameters
    ----------
    y : array-like, shape (n_samples,) or (n_samples, n_outputs)
    spec : NetworkSpec
    n_samples : int

    Returns
    -------
    T : ndarray, shape (n_samples, n_outputs), dtype spec.dtype
    classes : ndarray, shape (n_classes,), or None for a target matrix
    """

    y = np.asarray(y)
    if y.ndim == 0 or y.ndim > 2 or y.shape[0] != n_samples:
        raise ValueError(f"y must have shape ({n_samples},) (labels) or ({n_samples}, "
                         f"{spec.n_outputs}) (targets) to match X's {n_samples} samples; "
                         f"got {y.shape}")
    labels = y.ndim == 1 and (spec.n_outputs > 1 or is_classification_loss(spec.loss)
                              or y.dtype.kind not in "biuf")
    if not labels:
        T = as_float_array(y.reshape(n_samples, -1), "y", spec.dtype)
        if T.shape[1] != spec.n_outputs:
            raise ValueError(f"y has {T.shape[1]} target columns but the network has "
                             f"{spec.n_outputs} outputs")
        return T, None
    classes, indices = _label_indices(y, spec.n_outputs)
    if spec.n_outputs == 1:
        return indices.reshape(-1, 1).astype(spec.dtype), classes
    T = np.zeros((n_samples, spec.n_outputs), dtype=spec.dtype)
    T[np.arange(n_samples), indices] = 1
    return T, classes


def _label_indices(y, n_outputs):
    n_classes = max(n_outputs, 2)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity")
    if y.dtype.kind == "c":
        raise TypeError(f"class labels must not be complex; got dtype {y.dtype}")
    try:
        found = np.unique(y)
    except TypeError as exc:
        raise TypeError(f"class labels must be comparable with each other: {exc}") from exc
    integral = y.dtype.kind in "biu" or (y.dtype.kind == "f" and np.all(found == np.round(found)))
    if integral and found.size and found[0] >= 0 and found[-1] < n_classes:
        return np.arange(n_classes), np.asarray(y, dtype=np.int64)
    if found.size != n_classes:
        raise ValueError(f"y has {found.size} distinct class labels, but the network's "
                         f"{n_outputs} output(s) need {n_classes} (or integer labels "
                         f"0..{n_classes - 1})")
    return found, np.searchsorted(found, y).astype(np.int64)


def output_indices(Y):
    """The class index each output row predicts: argmax, or ``Y > 0.5`` for one output.

    Parameters
    ----------
    Y : ndarray, shape (n_samples, n_outputs)

    Returns
    -------
    ndarray of int64, shape (n_samples,)
    """
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.int64)
    return np.argmax(Y, axis=1).astype(np.int64)


# --- the training drivers (MLP.fit and the estimators) -----------------------------------


def fit_network(backend, spec, params, X, y, options, seed=None, progress=False,
                sample_weight=None):
    """Train a copy of ``params``: the work behind :meth:`fastnn.MLP.fit`.

    Parameters
    ----------
    backend : Backend
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
        Not modified.
    X : ndarray or scipy.sparse.csr_matrix, shape (n_samples, n_inputs)
        Validated inputs.
    y : array-like, shape (n_samples,) or (n_samples, n_outputs)
        Labels or targets (see :func:`encode_targets`).
    options : fastnn.hyperparameters.TrainingOptions
    seed : int, numpy.random.Generator or None
    progress : bool
    sample_weight : ndarray, shape (n_samples,), or None
        Validated non-negative weights with a positive sum.

    Returns
    -------
    params : ndarray, shape (n_params,)
        The trained parameters.
    classes : ndarray or None
    history : dict of str -> list of float
        ``loss`` per epoch (per iteration for ``lbfgs``); with a validation set also
        ``val_loss`` and, for a classifier, ``val_accuracy``.
    """
    T, classes = encode_targets(y, spec, X.shape[0])
    rng = np.random.default_rng(seed)
    if options.optimizer in FULL_BATCH_SOLVERS:
        losses = []
        trained, _, _ = fit_full_batch(backend, spec, params, X, T, options, sample_weight,
                                       on_iteration=losses.append)
        return trained, classes, {"loss": losses}
    validating = options.validation_fraction > 0
    if validating:
        train_index, val_index = validation_split(X.shape[0], options.validation_fraction, rng)
        X, X_val, T, T_val = X[train_index], X[val_index], T[train_index], T[val_index]
        if sample_weight is not None:
            sample_weight, weight_val = sample_weight[train_index], sample_weight[val_index]
        else:
            weight_val = None
    classify = is_classifier(spec, classes)
    trained = params.copy()

    def evaluate(current, loss):
        figures = {"loss": float(loss)}
        if validating:
            figures["val_loss"] = batch_loss(backend, spec, current, X_val, T_val,
                                             weight_val) * loss_scale(spec, options)
            if classify:
                predicted = output_indices(network_outputs(backend, spec, current, X_val))
                hits = predicted == output_indices(T_val)
                figures["val_accuracy"] = float(np.average(hits, weights=weight_val))
        return figures

    run = StochasticRun(backend, spec, X, T, options,
                        make_optimizer(options, trained.size, trained.dtype), sample_weight)
    history, _ = run.epochs(trained, options.epochs,
                            lambda: epoch_order(X.shape[0], options.shuffle, rng), evaluate,
                            ImprovementTracker(options.tol, options.patience),
                            "val_loss" if validating else "loss",
                            keep_best=validating and options.patience is not None,
                            progress=progress)
    return trained, classes, history


class StochasticRun:
    """Mini-batch training of one network on one data set: the driver that
    :func:`fit_network` (:meth:`fastnn.MLP.fit`) and the estimators' ``sgd`` and ``adam``
    solvers (:mod:`fastnn.estimator`) both go through.

    Each epoch takes the sample order its caller draws, runs :func:`fit_epoch`, then the
    caller's ``evaluate``; between epochs the schedule of ``options`` updates the
    optimiser's rate from the samples seen so far. What differs between the front doors
    is passed in: how the order is drawn, what is evaluated, the tracker, the optimiser
    (a fresh one, or the one a ``partial_fit`` continues).

    Parameters
    ----------
    backend : Backend
    spec : NetworkSpec
    X : ndarray or scipy.sparse.csr_matrix, shape (n_samples, n_inputs)
    T : ndarray, shape (n_samples, n_outputs)
    options : fastnn.hyperparameters.TrainingOptions
    optimizer : fastnn.optimizers.Optimizer
        Its state is updated in place.
    sample_weight : ndarray, shape (n_samples,), or None
    samples_seen : int
        Training samples visited before this run (scikit-learn's ``t_``, continued).

    Attributes
    ----------
    optimizer : fastnn.optimizers.Optimizer
    schedule : fastnn.schedules.Schedule
    samples_seen : int
        Updated after every epoch.
    """

    def __init__(self, backend, spec, X, T, options, optimizer, sample_weight=None,
                 samples_seen=0):
        self.backend, self.spec, self.X, self.T = backend, spec, X, T
        self.options = options
        self.optimizer = optimizer
        self.schedule = make_schedule(options)
        self.sample_weight = sample_weight
        self.samples_seen = samples_seen
        self._mask = weight_mask(spec.layer_sizes)

    def epochs(self, params, epochs, next_order, evaluate, tracker, monitor, keep_best=False,
               progress=False, on_stall=None, go_on_diverged=False):
        """Run up to ``epochs`` epochs on ``params`` (updated in place): :func:`train_loop`.

        Parameters
        ----------
        params : ndarray, shape (n_params,)
        epochs : int
        next_order : callable
            ``next_order()`` -> ndarray of int64, shape (n_samples,): the order of the
            next epoch, drawn at its start.
        evaluate, tracker, monitor, keep_best, progress, go_on_diverged
            As :func:`train_loop`.
        on_stall : callable or None
            ``on_stall(ending)`` when the tracker says stop, with the sentence the
            schedule's verdict appends to scikit-learn's verbose line.

        Returns
        -------
        history : dict of str -> list of float
        stopped_early : bool
        """

        def one_epoch(current):
            return fit_epoch(self.backend, self.spec, current, self.X, self.T, next_order(),
                             self.options, self.optimizer, self._mask, self.sample_weight)

        def end_epoch():
            self.samples_seen += self.X.shape[0]
            self.schedule.epoch_ended(self.optimizer, self.samples_seen)

        def stalled():
            stop, ending = self.schedule.stalled(self.optimizer)
            if on_stall is not None:
                on_stall(ending)
            return stop

        return train_loop(one_epoch, params, epochs, evaluate, tracker, monitor,
                          keep_best=keep_best, progress=progress, end_epoch=end_epoch,
                          stalled=stalled, go_on_diverged=go_on_diverged)


def fit_full_batch(backend, spec, params, X, T, options, sample_weight=None,
                   on_iteration=None):
    """Full-batch L-BFGS-B (:mod:`fastnn.lbfgs`) from ``params``: ``MLP.fit`` with
    ``optimizer="lbfgs"`` and the estimators' ``lbfgs`` solver.

    Every sample, no validation split, no shuffling; at most ``options.epochs``
    iterations and ``options.max_fun`` evaluations, converged at ``options.tol``.

    Parameters
    ----------
    backend : Backend
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
        Not modified.
    X : ndarray or scipy.sparse.csr_matrix, shape (n_samples, n_inputs)
    T : ndarray, shape (n_samples, n_outputs)
    options : fastnn.hyperparameters.TrainingOptions
    sample_weight : ndarray, shape (n_samples,), or None
    on_iteration : callable or None
        ``on_iteration(loss)`` after every iteration.

    Returns
    -------
    params : ndarray, shape (n_params,)
    loss : float
        The objective at the end point.
    n_iter : int

    Raises
    ------
    TrainingDiverged
        If the parameters are not finite at the end.
    """
    from fastnn import lbfgs

    weight_total = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    objective = lbfgs.objective(
        lambda current: batch_gradients(backend, spec, current, X, T, sample_weight),
        spec, options.alpha, weight_total, loss_scale(spec, options))
    trained, loss, n_iter = lbfgs.minimize(objective, params, options.epochs, options.max_fun,
                                           options.tol, on_iteration=on_iteration)
    if not np.isfinite(trained).all():
        raise TrainingDiverged("lbfgs produced non-finite parameters; try scaled inputs")
    return trained, loss, n_iter
