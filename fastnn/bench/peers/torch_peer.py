"""PyTorch as a peer: the network from :func:`fastnn.interop.torch.to_torch`, eager mode.

``forward`` runs the ``Sequential`` under ``torch.inference_mode()`` on the NumPy
batch (``torch.from_numpy`` shares its memory, so no copy is timed); ``gradients``
differentiates fastnn's loss (:mod:`fastnn.bench.peers.losses`) with
``torch.autograd.grad``; ``train_step`` is the loop a PyTorch user writes: zero the
gradients, forward, loss, ``backward()``, ``torch.optim.SGD.step()``. Threads:
``torch.set_num_threads(n)`` for the pass (restored after), and
``torch.set_num_interop_threads(n)``, which PyTorch allows once per process, before
any inter-op work: later passes record the count that stuck.
"""

from __future__ import annotations

import contextlib

import numpy as np

from fastnn.bench.peers.base import Peer, PeerCall, PeerThreads, Unsupported
from fastnn.bench.peers.losses import ArrayFunctions, StableForms, mean_loss
from fastnn.interop.torch import BY_NAME
from fastnn.ops import LEARNING_RATE
from fastnn.optional import import_optional
from fastnn.params import flatten


class TorchPeer(Peer):
    """PyTorch, eager mode, float64 and float32; forward, gradients and train_step."""

    def unsupported(self, spec, op):
        missing = [name for name in dict.fromkeys(spec.activations)
                   if name not in BY_NAME and name != "identity"]
        if missing:
            return f"PyTorch has no torch.nn module for the {', '.join(missing)} activation"
        return ""

    @contextlib.contextmanager
    def pinned(self, threads):
        torch = _torch()
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # allowed once per process (see above)
            torch.set_num_interop_threads(threads)
        inter = torch.get_num_interop_threads()
        how = f"torch.set_num_threads({threads}), interop threads {inter}"
        if inter != threads:
            how += " (set_num_interop_threads works once per process, before inter-op work)"
        try:
            yield PeerThreads(torch.get_num_threads(), torch.get_num_interop_threads(), how)
        finally:
            torch.set_num_threads(previous)

    def build(self, net, case, op, threads):
        torch = _torch()
        try:
            module = net.to_torch()
        except ValueError as exc:
            raise Unsupported(str(exc)) from None
        X, T = torch.from_numpy(case.X), torch.from_numpy(case.T)
        if op == "forward":
            return _forward_call(torch, module, case.X)
        body, head, linears = _split(module, torch)
        parameters = [tensor for linear in linears for tensor in (linear.weight, linear.bias)]
        functions = _functions(torch)
        spec = net.spec

        def mean_loss_of_batch():
            Z = body(X)
            return mean_loss(spec.loss, spec.output_activation, Z, head(Z), T, functions)

        if op == "gradients":
            def gradients():
                loss = mean_loss_of_batch()
                return loss, torch.autograd.grad(loss, parameters)
            return PeerCall(gradients, lambda result: _loss_and_gradients(*result))
        optimizer = torch.optim.SGD(parameters, lr=LEARNING_RATE)
        start = [tensor.detach().clone() for tensor in parameters]

        def reset():
            with torch.no_grad():
                for tensor, value in zip(parameters, start):
                    tensor.copy_(value)

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            loss = mean_loss_of_batch()
            loss.backward()
            optimizer.step()
            return loss
        return PeerCall(train_step, lambda loss: _loss_and_parameters(loss, linears),
                        reset=reset)


def _torch():
    return import_optional("torch", extra="peers", purpose="fastnn bench --peers torch")


def _forward_call(torch, module, X):
    def forward():
        with torch.inference_mode():
            return module(torch.from_numpy(X)).numpy()
    return PeerCall(forward, np.ravel)


def _split(module, torch):
    """The layers up to the output's pre-activation, the output activation, the Linears."""
    positions = [index for index, child in enumerate(module)
                 if isinstance(child, torch.nn.Linear)]
    last = positions[-1]
    return module[:last + 1], module[last + 1:], [module[index] for index in positions]


def _functions(torch):
    logsigmoid = torch.nn.functional.logsigmoid
    return ArrayFunctions(
        stable_logs={"sigmoid": StableForms(logsigmoid, lambda Z: logsigmoid(-Z)),
                     "softmax": StableForms(
                         lambda Z: torch.nn.functional.log_softmax(Z, dim=-1)),
                     "exp": StableForms(lambda Z: Z)},
        log=torch.log, clip_below=torch.clamp_min, total=torch.sum)


def _loss_and_gradients(loss, gradients):
    # Linear's weight is (n_out, n_in): its gradient is transposed into fastnn's layout.
    dweights = [tensor.numpy().T for tensor in gradients[0::2]]
    dbiases = [tensor.numpy() for tensor in gradients[1::2]]
    return np.concatenate([[loss.item()], flatten(dweights, dbiases, "float64")])


def _loss_and_parameters(loss, linears):
    weights = [linear.weight.detach().numpy().T for linear in linears]
    biases = [linear.bias.detach().numpy() for linear in linears]
    return np.concatenate([[loss.item()], flatten(weights, biases, "float64")])
