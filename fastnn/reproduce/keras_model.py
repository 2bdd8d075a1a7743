"""Tutorial C's Keras model, as the tutorial wrote it, and the same model in fastnn.

The tutorial's Keras code::

    model = Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=1000)          # batch_size: Keras's default, 32

Keras 3 runs on the JAX backend here (the ``keras`` extra installs ``keras`` and ``jax``):
:func:`import_keras` sets ``KERAS_BACKEND=jax`` before the first import of keras, unless
the user has set ``KERAS_BACKEND`` themselves (then theirs is used and reported).

The fastnn model (:func:`fastnn_model`, :func:`fit_fastnn`) is the same network: 64 ReLU
hidden units, softmax, mean categorical cross-entropy, Adam with Keras's defaults
(learning rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7), batches of 32, no L2
penalty, Keras's default initialisation (Glorot uniform weights, zero biases) drawn from
``numpy.random.default_rng(seed)``. fastnn's Adam step is Keras 3's: both fold the bias
correction into the step size, ``lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, and add
epsilon to ``sqrt(v)`` (Keras 3's ``Adam.update_step``; fastnn's ``optimizers.Adam``);
only the default epsilon differs (scikit-learn's 1e-8), so it is passed explicitly.

Two differences remain, both Keras's:

- Keras computes in float32; fastnn trains here in float32 too (``dtype="float32"``).
- Keras's ``categorical_crossentropy`` clips probabilities to [1e-7, 1 - 1e-7] before
  the log. The gradient is zero where the clip is active, so a training image whose
  class probability exceeds 1 - 1e-7 stops contributing to Keras's updates; fastnn
  keeps the true gradient. :func:`clipped_fraction` measures how many training images
  that concerns at the end of a run.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from fastnn.optional import import_optional

KERAS_BACKEND = "KERAS_BACKEND"
DEFAULT_KERAS_BACKEND = "jax"
HIDDEN = 64
BATCH_SIZE = 32
# Keras's Adam defaults (fastnn's epsilon default, scikit-learn's, is 1e-8).
ADAM = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
# Keras's backend.epsilon(): the clip of categorical_crossentropy.
KERAS_CLIP = 1e-7


def import_keras():
    """Import keras, on the JAX backend unless the user chose another.

    Sets ``KERAS_BACKEND=jax`` only if keras is not imported yet and the variable is not
    set (a user's explicit choice is kept).

    Returns
    -------
    module
        keras.

    Raises
    ------
    ImportError
        keras (or its backend) is not installed; the message says
        ``pip install "fastnn[keras]"``.
    """
    if "keras" not in sys.modules:
        os.environ.setdefault(KERAS_BACKEND, DEFAULT_KERAS_BACKEND)
    return import_optional("keras", purpose="fastnn reproduce's Keras comparison")


def keras_model(keras, seed, n_inputs, n_outputs):
    """The tutorial's Sequential model, compiled as the tutorial compiles it.

    Parameters
    ----------
    keras : module
    seed : int
        ``keras.utils.set_random_seed(seed)`` before the layers are built (initial
        weights and, in ``fit``, the shuffles). Keras's call also seeds Python's
        ``random`` and NumPy's global generator; fastnn never draws from those.
    n_inputs, n_outputs : int

    Returns
    -------
    keras.Model
    """
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([keras.Input((n_inputs,)),
                              layers.Dense(HIDDEN, activation="relu"),
                              layers.Dense(n_outputs, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_parameters(model):
    """The model's weights and biases in fastnn's layout (Keras's kernel is (n_in, n_out)).

    Returns
    -------
    weights : list of ndarray, shapes (n_in, n_out)
    biases : list of ndarray, shapes (n_out,)
    """
    arrays = model.get_weights()
    return [np.array(a) for a in arrays[0::2]], [np.array(a) for a in arrays[1::2]]


def fit_keras(model, X, T, epochs, shuffle=True):
    """``model.fit`` with the tutorial's arguments (batch size Keras's default, 32).

    Returns
    -------
    ndarray, shape (epochs,)
        Keras's training loss per epoch (batch losses before each step, weighted by
        batch size).
    """
    history = model.fit(X, T, epochs=epochs, batch_size=BATCH_SIZE, shuffle=shuffle, verbose=0)
    return np.asarray(history.history["loss"], dtype=np.float64)


def keras_accuracy(model, X, y):
    """Fraction of ``X`` whose argmax output is ``y``."""
    return float(np.mean(np.argmax(model.predict(X, verbose=0), axis=1) == y))


def glorot_uniform(rng, layer_sizes, dtype="float32"):
    """Keras's default initialisation: weights U(-l, l), l = sqrt(6 / (n_in + n_out)); biases 0.

    Returns
    -------
    weights : list of ndarray, shapes (n_in, n_out)
    biases : list of ndarray, shapes (n_out,)
    """
    weights, biases = [], []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype))
        biases.append(np.zeros(n_out, dtype=dtype))
    return weights, biases


def fastnn_model(layer_sizes, backend, seed=None, dtype="float32"):
    """The same network in fastnn: ReLU hidden, softmax output, cross-entropy.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_inputs, 64, n_outputs)``.
    backend : str
    seed : int or None
        Draws Keras's default initialisation from ``default_rng(seed)``; None leaves
        fastnn's own (the caller then sets the parameters).
    dtype : str

    Returns
    -------
    fastnn.MLP
    """
    from fastnn.model import MLP

    net = MLP(list(layer_sizes), activation="relu", output_activation="softmax",
              loss="cross_entropy", backend=backend, dtype=dtype)
    if seed is not None:
        net.set_params(*glorot_uniform(np.random.default_rng(seed), layer_sizes, dtype))
    return net


def fit_fastnn(net, X, T, epochs, seed=None, shuffle=True):
    """Train ``net`` as Keras trains: Adam with Keras's defaults, batches of 32, no L2.

    Returns
    -------
    ndarray, shape (epochs,)
        Training loss per epoch (batch losses before each step, weighted by batch size).
    """
    net.fit(X, T, epochs=epochs, batch_size=BATCH_SIZE, optimizer="adam", alpha=0.0,
            shuffle=shuffle, seed=seed, **ADAM)
    return np.asarray(net.history_["loss"], dtype=np.float64)


def clipped_fraction(probabilities, T):
    """Fraction of rows whose true-class probability is beyond Keras's clip (1 - 1e-7).

    Keras's clipped cross-entropy has zero gradient for those rows.

    Parameters
    ----------
    probabilities : ndarray, shape (m, n_classes)
    T : ndarray, shape (m, n_classes)
        One-hot targets.
    """
    p_true = np.sum(np.asarray(probabilities, dtype=np.float64) * T, axis=1)
    return float(np.mean(p_true > 1.0 - KERAS_CLIP))
