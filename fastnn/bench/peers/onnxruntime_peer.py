"""ONNX Runtime as a peer: the model :func:`fastnn.interop.onnx.to_onnx` writes, in an
``InferenceSession`` on the CPU execution provider.

Threads: ``SessionOptions.intra_op_num_threads`` and ``inter_op_num_threads`` are set to
the pass's count (sequential execution, so the inter-op pool is idle). Session creation
(graph optimisation included) is the peer's setup, timed apart. ONNX Runtime has no
float64 kernels for ``Elu`` and ``Softplus`` (see :mod:`fastnn.interop.onnx`): a float64
network using them is reported as unsupported.
"""

from __future__ import annotations

import contextlib

import numpy as np

from fastnn.bench.peers.base import Peer, PeerCall, PeerThreads, Unsupported
from fastnn.interop.onnx import INPUT_NAME, OUTPUT_NAME
from fastnn.optional import import_optional

# Activations whose ONNX op has no float64 kernel in ONNX Runtime.
NO_FLOAT64_KERNEL = {"elu": "Elu", "softplus": "Softplus"}


class OnnxRuntimePeer(Peer):
    """ONNX Runtime, CPU execution provider; forward only."""

    def unsupported(self, spec, op):
        if spec.dtype != "float64":
            return ""
        lacking = [NO_FLOAT64_KERNEL[name] for name in dict.fromkeys(spec.activations)
                   if name in NO_FLOAT64_KERNEL]
        if lacking:
            return f"ONNX Runtime has no float64 kernel for {', '.join(lacking)}"
        return ""

    def pinned(self, threads):
        return contextlib.nullcontext(PeerThreads(
            threads, threads, f"SessionOptions intra_op_num_threads={threads}, "
                              f"inter_op_num_threads={threads}, sequential execution"))

    def build(self, net, case, op, threads):
        try:
            session = pinned_session(net, threads)
        except Exception as exc:  # onnxruntime raises its own classes, not importable alike
            if "NOT_IMPLEMENTED" in str(exc) or type(exc).__name__ == "NotImplemented":
                raise Unsupported(f"ONNX Runtime: {str(exc).splitlines()[0]}") from None
            raise
        X = case.X
        outputs = [OUTPUT_NAME]
        return PeerCall(lambda: session.run(outputs, {INPUT_NAME: X})[0], np.ravel)


def pinned_session(net, threads):
    """An ``InferenceSession`` of ``net``'s ONNX model on the CPU execution provider, with
    ``threads`` intra- and inter-op threads and sequential execution (its input is
    :data:`fastnn.interop.onnx.INPUT_NAME`)."""
    onnxruntime = import_optional("onnxruntime", purpose="fastnn bench --peers onnxruntime")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(net.to_onnx(), options,
                                        providers=["CPUExecutionProvider"])
