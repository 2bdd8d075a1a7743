"""The stochastic solvers ``sgd`` and ``adam`` on the driver of ``MLP.fit``
(:class:`fastnn.train.StochasticRun`): scikit-learn's sample order, stopping rules and
early-stopping split, and the records they keep (``loss_curve_``, ``n_iter_``, ``t_``,
``best_loss_``, ``validation_scores_``, ``best_validation_score_``)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastnn import train
from fastnn.optimizers import make_optimizer


class StochasticSolverMixin:
    """Epochs of mini-batch training with scikit-learn's stopping rules and records."""

    def _fit_stochastic(self, spec, backend, params, X, T, sample_weight, incremental):
        """Epochs of sgd or adam through :class:`fastnn.train.StochasticRun` (the driver of
        ``MLP.fit`` too), with scikit-learn's order, split, stopping rules and records;
        returns the parameters."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            X, T, sample_weight, validation = self._validation_split(X, T, sample_weight)
        options = self._training_options(X.shape[0], incremental)
        if incremental and getattr(self, "_optimizer", None) is not None:
            optimizer = copy.deepcopy(self._optimizer)  # a failed call must not change it
        else:
            optimizer = make_optimizer(options, params.size, spec.dtype)
        run = train.StochasticRun(backend, spec, X, T, options, optimizer, sample_weight,
                                  samples_seen=self.t_)
        # scikit-learn shuffles the previous epoch's order again, from its random state.
        order = [np.arange(X.shape[0], dtype=np.int64)]

        def next_order():
            if self.shuffle:
                order[0] = _shuffled(order[0], self._random_state)
            return order[0]

        epochs_done = [0]

        def evaluate(current, loss):
            epochs_done[0] += 1
            if self.verbose:
                print(f"Iteration {epochs_done[0]}, loss = {loss:.8f}")
            figures = {"loss": float(loss)}
            if early_stopping:
                figures["validation_score"] = self._validation_score(backend, spec, current,
                                                                     *validation)
                if self.verbose:
                    print(f"Validation score: {figures['validation_score']:f}")
            return figures

        def on_stall(ending):
            if self.verbose:
                print(self._stall_message(early_stopping) + ending)

        tracker = self._tracker(options, early_stopping)
        history, stopped = run.epochs(
            params, 1 if incremental else self.max_iter, next_order, evaluate, tracker,
            "validation_score" if early_stopping else "loss", keep_best=early_stopping,
            on_stall=on_stall, go_on_diverged=early_stopping)
        self._record_epochs(history, tracker, early_stopping, run.samples_seen)
        self._optimizer = optimizer
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=4)
        return params

    def _start_records(self):
        """Empty epoch records for a first fit, as scikit-learn initialises them."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _validation_split(self, X, T, sample_weight):
        """scikit-learn's early-stopping split: ``train_test_split`` on its random state,
        stratified for a single-output classifier."""
        stratify = T.astype(bool) if (self._is_classifier() and T.shape[1] == 1) else None
        arrays = (X, T) if sample_weight is None else (X, T, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, T_train, T_val = parts[:4]
        weight_train, weight_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        return (X_train, np.ascontiguousarray(T_train), weight_train,
                (X_val, T_val, weight_val))

    def _validation_score(self, backend, spec, params, X_val, T_val, weight_val):
        Y = train.network_outputs(backend, spec, params, X_val)
        if not np.isfinite(Y).all():
            return np.nan
        return float(self._score_outputs(Y, T_val, weight_val))

    def _tracker(self, options, early_stopping):
        """scikit-learn's no-improvement count, continued from the previous fit."""
        tracker = train.ImprovementTracker(self.tol, options.patience,
                                           higher_is_better=early_stopping, nan_counts=False)
        previous_best = self.best_validation_score_ if early_stopping else self.best_loss_
        if previous_best is not None:
            tracker.best = -previous_best if early_stopping else previous_best
        tracker.epochs_without_improvement = getattr(self, "_no_improvement_count", 0)
        return tracker

    def _stall_message(self, early_stopping):
        what = "Validation score" if early_stopping else "Training loss"
        return (f"{what} did not improve more than tol={self.tol:f} for "
                f"{int(self.n_iter_no_change)} consecutive epochs.")

    def _record_epochs(self, history, tracker, early_stopping, samples_seen):
        # As scikit-learn: n_iter_ counts the epochs of this call, t_ every sample seen.
        self.n_iter_ = len(history["loss"])
        self.t_ = samples_seen
        self.loss_curve_ = list(getattr(self, "loss_curve_", None) or []) + history["loss"]
        self.loss_ = self.loss_curve_[-1]
        self._no_improvement_count = tracker.epochs_without_improvement
        if early_stopping:
            self.validation_scores_ = (list(getattr(self, "validation_scores_", None) or [])
                                       + history["validation_score"])
            self.best_validation_score_ = tracker.best_value
            if not hasattr(self, "best_loss_"):
                self.best_loss_ = None
        else:
            self.best_loss_ = tracker.best_value
            for name in ("validation_scores_", "best_validation_score_"):
                if not hasattr(self, name):
                    setattr(self, name, None)


def _shuffled(order, random_state):
    """``sklearn.utils.shuffle(order, random_state=random_state)``: the same permutation
    from the same draws, without its input checks (a tenth of a small epoch)."""
    permutation = np.arange(order.shape[0])
    random_state.shuffle(permutation)
    return order[permutation]
