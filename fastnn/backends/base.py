"""The interface every backend implements, and the capabilities it declares.

A backend is stateless: it receives the network description, the flat parameter
buffer and clean, validated arrays (C-contiguous, of the network's dtype, finite,
2-D with at least one row for losses). Validation happens once, in
:class:`fastnn.MLP`; backends assume clean input. That includes:

- ``sample_weight``: None, or an array of shape (m,) and the network's dtype, finite,
  ``>= 0``, with a positive sum. The loss becomes the weighted mean
  ``sum_i w_i L_i / sum_i w_i`` and the gradient its true gradient.
- A sparse ``X`` (only for backends that declare ``accepts_sparse``): a
  ``scipy.sparse`` CSR matrix (or array) in canonical form (sorted indices, no
  duplicates), ``data`` of the network's dtype and finite, ``indices``/``indptr`` int32
  or int64. The first layer is a sparse product; ``X`` is never densified whole.

A backend also *declares what it is* (class attributes below). Reports, selection,
``fastnn reproduce`` and training read these declarations; no code outside
``fastnn/backends/`` asks for a backend by name to decide what to do with it
(scikit-learn's estimator tags play the same role there).
"""

from __future__ import annotations


class Backend:
    """Base class of the forward / backprop / train-step backends.

    Attributes
    ----------
    name : str
        The registry name.
    description : str
        One line for reports and ``fastnn info``.
    dtypes : tuple of str
        The parameter dtypes this backend computes in.
    is_reference : bool
        The readable reference every other backend is checked against (the
        correctness gate compares with it wherever it runs in reasonable time).
    is_baseline : bool
        Reports give every other backend's speedup against this one (the reference
        and the plain vectorised backend).
    is_time_limited : bool
        Slow enough that harnesses estimate its time per call first and skip the
        points above a limit (``fastnn bench --python-limit``).
    compiles : bool
        :meth:`prepare` compiles code; harnesses report its cost apart from run time.
    runs_epochs : bool
        Offers :meth:`train_epoch`: a whole training epoch (every mini-batch and
        optimiser step) in one call. Training hands such a backend whole epochs.
    accepts_sparse : bool
        Takes a sparse CSR ``X`` (see above) in every method that takes ``X``.
    serial_below_rows : int
        Batches of fewer rows run another backend's kernels unchanged (a parallel
        backend's serial counterpart), so a sweep whose batches all stay below it
        would only time that backend twice; harnesses leave it out of their defaults
        then. 0: no such threshold.
    crossover_kernels : str or None
        The module of the kernels that send each matrix product to BLAS or to fused loops
        by the crossovers of :mod:`fastnn.backends.tuning`; ``fastnn tune`` measures them
        through it (:mod:`fastnn.bench.measure.crossovers`). None: no such kernels.
    """

    name = "base"
    description = ""
    dtypes = ("float64",)
    is_reference = False
    is_baseline = False
    is_time_limited = False
    compiles = False
    runs_epochs = False
    accepts_sparse = False
    serial_below_rows = 0
    crossover_kernels = None

    def prepare(self, spec):
        """Do any one-off work for ``spec`` (compilation, warm-up) ahead of timing."""

    def preload(self):
        """Import the libraries this backend's steady state uses (the default: none).

        Called when a network is bound to this backend for good
        (:func:`fastnn.backends.for_network`); the NumPy tier of ``backend="auto"``
        skips it, so that a first result does not wait for them.
        """

    def bind(self, spec, params):
        """A per-network fast path for the model's plain calls, or None (the default:
        the model calls the methods below).

        A backend that offers one returns an object with ``forward(X)``,
        ``gradients(X, T)`` and ``train_step(X, T, learning_rate)`` over ``params``
        (see :class:`fastnn.backends.numba_backend.BoundKernels`).
        """
        return None

    def forward(self, spec, params, X):
        """Network output.

        Parameters
        ----------
        spec : NetworkSpec
        params : ndarray, shape (n_params,)
            The flat parameter buffer (see :mod:`fastnn.params`).
        X : ndarray, shape (m, n_inputs), or a CSR matrix if ``accepts_sparse``

        Returns
        -------
        ndarray, shape (m, n_outputs)
        """
        raise NotImplementedError

    def loss(self, spec, params, X, T, sample_weight=None):
        """Mean loss over the ``m >= 1`` rows of ``X``; ``T`` has shape (m, n_outputs).

        With ``sample_weight`` (m,), the weighted mean ``sum_i w_i L_i / sum_i w_i``.
        """
        raise NotImplementedError

    def gradients(self, spec, params, X, T, sample_weight=None):
        """Mean (or weighted mean) loss and its gradient.

        Returns
        -------
        loss : float
        grad : ndarray, shape (n_params,)
            Same layout as ``params``.
        """
        raise NotImplementedError

    def train_step(self, spec, params, X, T, learning_rate, sample_weight=None):
        """One gradient-descent step on the (weighted) mean loss, updating ``params`` in place.

        Returns
        -------
        float
            The loss before the step.
        """
        loss, grad = self.gradients(spec, params, X, T, sample_weight)
        params -= learning_rate * grad
        return loss

    def train_epoch(self, spec, params, X, T, order, options, optimizer, sample_weight=None):
        """One training epoch in one call (only where ``runs_epochs`` is True).

        Computes exactly what :func:`fastnn.train.run_epoch` computes batch by batch.

        Parameters
        ----------
        spec : NetworkSpec
        params : ndarray, shape (n_params,)
            Updated in place.
        X : ndarray, shape (n_samples, n_inputs)
        T : ndarray, shape (n_samples, n_outputs)
        order : ndarray of int64, shape (n_samples,)
            The rows in the order this epoch visits them.
        options : fastnn.hyperparameters.TrainingOptions
        optimizer : an optimiser of :mod:`fastnn.optimizers`
            Its state is updated in place.
        sample_weight : ndarray, shape (n_samples,), or None
            Gathered in ``order`` with the rows; each mini-batch's loss is the weighted
            mean over that batch.

        Returns
        -------
        float
            The epoch's training loss.
        """
        raise NotImplementedError(f"backend {self.name!r} does not run whole epochs")

    def __repr__(self):
        return f"<fastnn backend {self.name!r}>"
