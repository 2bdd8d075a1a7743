"""JAX as a peer: jitted forward, gradient and training-step functions written from the
network's weights (``fastnn.interop`` has no JAX exporter: JAX has no model object).

Threads: XLA reads its CPU threading from the ``XLA_FLAGS`` environment variable once,
when ``jax`` is first imported. fastnn imports JAX only when a JAX peer is first
prepared, and sets ``XLA_FLAGS`` just before that (adding to any flags already there):
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` for one thread,
``--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=N`` for N. The count
holds for the rest of the process: a later pass with another thread count records the
one in force. If ``jax`` was imported before (by the caller, or a test), fastnn cannot
pin it and records that; set ``XLA_FLAGS`` yourself before importing JAX in that case.
Those flags do not hold jax 0.10 to one thread, so at one thread the peer also holds every
thread of the process to one CPU while it is timed (:func:`_one_cpu_threads`).
``jax_enable_x64`` is set for each network to its dtype (on for float64, off for float32,
so that a float32 network computes in float32 throughout, as a JAX user's default).

Every peer is timed from NumPy in to NumPy out, as fastnn is: the batch (and targets)
are the case's NumPy arrays, handed to the jitted function inside the timed call, and
its results are brought back with ``np.asarray`` (which waits for them) before the call
returns. The network's parameters are the model's state and stay on the device, as
PyTorch's stay in its ``Linear`` modules.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from fastnn.bench.measure.one_cpu import one_cpu
from fastnn.bench.peers.base import Peer, PeerCall, PeerThreads
from fastnn.bench.peers.losses import ArrayFunctions, StableForms, mean_loss
from fastnn.functions import ELU_ALPHA, LEAKY_RELU_SLOPE
from fastnn.ops import LEARNING_RATE
from fastnn.optional import import_optional
from fastnn.params import flatten

XLA_FLAGS = "XLA_FLAGS"
THREAD_FLAG = "--xla_cpu_multi_thread_eigen"

# The thread count fastnn set in XLA_FLAGS before importing jax (None: it did not).
_PINNED = {"threads": None, "how": ""}


def xla_thread_flags(threads):
    """The ``XLA_FLAGS`` words that hold XLA's CPU computations to ``threads`` threads."""
    eigen = "false" if threads == 1 else "true"
    return f"{THREAD_FLAG}={eigen} intra_op_parallelism_threads={threads}"


class JaxPeer(Peer):
    """JAX on the CPU, ``jax.jit``; forward, gradients (``value_and_grad``), train_step."""

    def unsupported(self, spec, op):
        missing = [name for name in dict.fromkeys(spec.activations) if name not in ACTIVATIONS]
        return f"no JAX spelling of the {', '.join(missing)} activation" if missing else ""

    def pinned(self, threads):
        _import_jax(threads)
        if threads != 1:
            return contextlib.nullcontext(PeerThreads(_PINNED["threads"], None, _PINNED["how"]))
        return _one_cpu_threads()

    def build(self, net, case, op, threads):
        jax = _import_jax(threads)
        jax.config.update("jax_enable_x64", net.spec.dtype == "float64")
        jnp = jax.numpy
        spec = net.spec
        hidden, output = ACTIVATIONS[spec.activation](jax), ACTIVATIONS[spec.output_activation](jax)
        params = [(jnp.asarray(weights), jnp.asarray(bias))
                  for weights, bias in zip(net.weights, net.biases)]
        X, T = case.X, case.T  # NumPy, as fastnn gets them
        functions = _functions(jax)

        def pre_output(params, X):
            A = X
            for weights, bias in params[:-1]:
                A = hidden(A @ weights + bias)
            weights, bias = params[-1]
            return A @ weights + bias

        def loss_of(params, X, T):
            Z = pre_output(params, X)
            return mean_loss(spec.loss, spec.output_activation, Z, output(Z), T, functions)

        if op == "forward":
            forward = jax.jit(lambda params, X: output(pre_output(params, X)))
            call = _warmed(lambda: np.asarray(forward(params, X)))
            return PeerCall(call, np.ravel)
        value_and_grad = jax.value_and_grad(loss_of)
        if op == "gradients":
            gradients = jax.jit(value_and_grad)
            call = _warmed(lambda: to_numpy(gradients(params, X, T)))
            return PeerCall(call, lambda result: _loss_and_flat(*result))

        def step(params, X, T):
            loss, grads = value_and_grad(params, X, T)
            return loss, jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g,
                                                params, grads)

        step = jax.jit(step)
        state = {"params": params}

        def train_step():
            loss, state["params"] = step(state["params"], X, T)
            return np.asarray(loss)  # waits for the step; the parameters stay the state

        _warmed(lambda: jax.block_until_ready(step(params, X, T)))  # compiles, leaves state
        def reset():  # every timed round steps from the gated state (JAX arrays are immutable)
            state["params"] = params

        return PeerCall(train_step, lambda loss: _loss_and_flat(
            loss, jax.block_until_ready(state["params"])), reset=reset)


def to_numpy(result):
    """A JAX result (an array or a tuple / list of them, nested) as NumPy arrays.

    ``np.asarray`` of a JAX array waits for it and copies it to the host: what a caller
    holding NumPy arrays needs before using it.
    """
    if isinstance(result, (tuple, list)):
        return type(result)(to_numpy(item) for item in result)
    return np.asarray(result)


@contextlib.contextmanager
def _one_cpu_threads():
    """Every thread of the process held to one CPU while JAX is prepared and timed.

    jax 0.10 still runs large products on its Eigen pool beside the main thread with the
    one-thread ``XLA_FLAGS`` (``benchmarks/xla_thread_check.py``: 1.97 CPU seconds per
    second with the flags, 1.00 with the affinity), so the flags alone would time JAX on
    two cores. The affinity holds the whole process, fastnn's calls timed between JAX's
    included, which compute on one thread anyway.
    """
    with one_cpu() as how:
        yield PeerThreads(1, None, f"{_PINNED['how']}; {how}")


def _warmed(call):
    """``call`` after one call: jit compiles there, timed as the peer's setup."""
    call()
    return call


def _import_jax(threads):
    """Import JAX, first setting ``XLA_FLAGS`` to ``threads`` if it is not imported yet."""
    if "jax" not in sys.modules and _PINNED["threads"] is None:
        flags = os.environ.get(XLA_FLAGS, "")
        if THREAD_FLAG in flags:
            _PINNED["how"] = f"XLA_FLAGS set by the caller: {flags!r}"
        else:
            os.environ[XLA_FLAGS] = f"{flags} {xla_thread_flags(threads)}".strip()
            _PINNED["threads"] = threads
            _PINNED["how"] = (f"XLA_FLAGS={xla_thread_flags(threads)!r}, set before jax "
                              f"was imported")
    elif not _PINNED["how"]:
        _PINNED["how"] = ("not pinned: jax was imported before fastnn could set XLA_FLAGS "
                          "(set it before importing jax)")
    return import_optional("jax", extra="peers", purpose="fastnn bench --peers jax")


def _functions(jax):
    jnp = jax.numpy
    return ArrayFunctions(
        stable_logs={"sigmoid": StableForms(jax.nn.log_sigmoid,
                                            lambda Z: jax.nn.log_sigmoid(-Z)),
                     "softmax": StableForms(lambda Z: jax.nn.log_softmax(Z, axis=-1)),
                     "exp": StableForms(lambda Z: Z)},
        log=jnp.log, clip_below=jnp.maximum, total=jnp.sum)


def _loss_and_flat(loss, params):
    weights = [np.asarray(weights) for weights, _ in params]
    biases = [np.asarray(bias) for _, bias in params]
    return np.concatenate([[float(loss)], flatten(weights, biases, "float64")])


# fastnn's activations in jax.numpy (:mod:`fastnn.functions` holds their definitions);
# each entry takes the jax module, imported late.
ACTIVATIONS = {
    "sigmoid": lambda jax: jax.nn.sigmoid,
    "tanh": lambda jax: jax.numpy.tanh,
    "relu": lambda jax: jax.nn.relu,
    "leaky_relu": lambda jax: lambda Z: jax.numpy.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z),
    "elu": lambda jax: lambda Z: jax.nn.elu(Z, ELU_ALPHA),
    "softplus": lambda jax: lambda Z: jax.numpy.logaddexp(0, Z),
    "silu": lambda jax: lambda Z: Z * jax.nn.sigmoid(Z),
    "identity": lambda jax: lambda Z: Z,
    "exp": lambda jax: jax.numpy.exp,
    "softmax": lambda jax: lambda Z: jax.nn.softmax(Z, axis=-1),
}
