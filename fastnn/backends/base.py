"""The interface every backend implements.

A backend is stateless: it receives the network description, the flat parameter
buffer and clean, validated arrays (C-contiguous, of the network's dtype, finite,
2-D with at least one row for losses). Validation happens once, in
:class:`fastnn.MLP`; backends assume clean input.
"""

from __future__ import annotations


class Backend:
    """Base class of the forward / backprop / train-step backends.

    Attributes
    ----------
    name : str
        The registry name.
    dtypes : tuple of str
        The parameter dtypes this backend computes in.
    """

    name = "base"
    dtypes = ("float64",)

    def prepare(self, spec):
        """Do any one-off work for ``spec`` (compilation, warm-up) ahead of timing."""

    def forward(self, spec, params, X):
        """Network output.

        Parameters
        ----------
        spec : NetworkSpec
        params : ndarray, shape (n_params,)
            The flat parameter buffer (see :mod:`fastnn.params`).
        X : ndarray, shape (m, n_inputs)

        Returns
        -------
        ndarray, shape (m, n_outputs)
        """
        raise NotImplementedError

    def loss(self, spec, params, X, T):
        """Mean loss over the ``m >= 1`` rows of ``X``; ``T`` has shape (m, n_outputs)."""
        raise NotImplementedError

    def gradients(self, spec, params, X, T):
        """Mean loss and its gradient.

        Returns
        -------
        loss : float
        grad : ndarray, shape (n_params,)
            Same layout as ``params``.
        """
        raise NotImplementedError

    def train_step(self, spec, params, X, T, learning_rate):
        """One gradient-descent step on the mean loss, updating ``params`` in place.

        Returns
        -------
        float
            The loss before the step.
        """
        loss, grad = self.gradients(spec, params, X, T)
        params -= learning_rate * grad
        return loss

    def __repr__(self):
        return f"<fastnn backend {self.name!r}>"
