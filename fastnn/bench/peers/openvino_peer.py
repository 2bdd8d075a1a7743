"""OpenVINO as a peer: the ONNX graph :func:`fastnn.interop.onnx.to_onnx` writes (the one
ONNX Runtime runs), read by ``openvino.Core.read_model`` and compiled for the CPU plugin.

What is timed is one synchronous ``InferRequest.infer`` from a NumPy batch to a NumPy
result (the request copies its output into a new array, as the other peers return
theirs). Compilation (graph transformations, kernel selection) and the first inference
are the peer's setup, timed apart.

Settings (:data:`COMPILE_SETTINGS`, recorded with every row): ``INFERENCE_NUM_THREADS``
set to the pass's count, one stream, the latency hint, the accuracy execution mode,
no dynamic quantization, and ``INFERENCE_PRECISION_HINT`` set to the run's dtype.
CPU pinning is left off: OpenVINO's pinning binds the threads it runs on, the caller's
included, which would change the affinity of the process that then times fastnn.

The CPU plugin has no float64 inference precision (its hint takes ``f32``, ``f16`` and
``bf16``; a float64 graph would run converted to float32): float64 points are reported
as not supported, not timed in float32.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from fastnn.bench.peers.base import Peer, PeerCall, PeerThreads, Unsupported
from fastnn.interop.onnx import INPUT_NAME
from fastnn.optional import import_optional

# The run's dtype -> OpenVINO's INFERENCE_PRECISION_HINT value.
PRECISIONS = {"float32": "f32"}
FLOAT64_NOTE = ("OpenVINO's CPU plugin does not support float64 (its inference precision "
                "hint takes f32, f16 or bf16; a float64 graph would run in float32)")


def compile_settings(threads, dtype):
    """The ``compile_model`` configuration of a pass: property name -> value.

    Parameters
    ----------
    threads : int
        ``INFERENCE_NUM_THREADS``.
    dtype : {"float32"}
        The run's dtype; its precision hint (:data:`PRECISIONS`).

    Returns
    -------
    dict of str -> str
    """
    return {"INFERENCE_NUM_THREADS": str(threads), "NUM_STREAMS": "1",
            "PERFORMANCE_HINT": "LATENCY", "EXECUTION_MODE_HINT": "ACCURACY",
            "INFERENCE_PRECISION_HINT": PRECISIONS[dtype], "ENABLE_CPU_PINNING": "NO",
            "ENABLE_HYPER_THREADING": "NO", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}


class OpenVinoPeer(Peer):
    """OpenVINO, CPU plugin, float32; forward only."""

    def skip_reason(self, spec, op):
        if op in self.ops and spec.dtype == "float64":
            return FLOAT64_NOTE
        return super().skip_reason(spec, op)

    def pinned(self, threads):
        return contextlib.nullcontext(PeerThreads(
            threads, None, f"compile_model INFERENCE_NUM_THREADS={threads}, NUM_STREAMS=1, "
                           f"PERFORMANCE_HINT=LATENCY, ENABLE_CPU_PINNING=NO"))

    def build(self, net, case, op, threads):
        if net.spec.dtype not in PRECISIONS:
            raise Unsupported(FLOAT64_NOTE)
        openvino = import_openvino()
        core = openvino.Core()
        model = core.read_model(net.to_onnx())
        settings = compile_settings(threads, net.spec.dtype)
        compiled = core.compile_model(model, "CPU", settings)
        check_settings(compiled_settings(compiled), settings)
        request = compiled.create_infer_request()
        X = case.X
        inputs = {INPUT_NAME: X}

        def forward():
            return request.infer(inputs, share_outputs=False)[0]

        forward()  # the first inference allocates the request's buffers: setup
        return PeerCall(forward, np.ravel)


def import_openvino():
    """``openvino``, imported without sending its usage telemetry.

    Importing openvino sends a usage event (the ``openvino_telemetry`` package) from a
    forked process, except where it finds itself in CI: a fork in a process that already
    runs JAX's threads can deadlock (JAX warns so), and a process started in the middle of
    a race competes with the timings for the CPUs. ``CI=true`` is telemetry's own switch
    to stay silent; it is set for the import only, and the environment restored after.

    Returns
    -------
    module

    Raises
    ------
    ImportError
        If OpenVINO is not installed, naming the extra that brings it.
    """
    if sys.modules.get("openvino") is not None:
        return sys.modules["openvino"]
    previous = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        return import_optional("openvino", extra="peers",
                               purpose="fastnn bench --peers openvino")
    finally:
        if previous is None:
            del os.environ["CI"]
        else:
            os.environ["CI"] = previous


def compiled_settings(compiled):
    """What a compiled model reports for :func:`compile_settings`' properties.

    Parameters
    ----------
    compiled : openvino.CompiledModel

    Returns
    -------
    dict of str -> str
    """
    return {name: _text(compiled.get_property(name))
            for name in ("INFERENCE_NUM_THREADS", "NUM_STREAMS", "INFERENCE_PRECISION_HINT",
                         "PERFORMANCE_HINT", "EXECUTION_MODE_HINT", "ENABLE_CPU_PINNING")}


def check_settings(reported, asked):
    """Raise RuntimeError if the compiled model does not hold the threads or precision asked.

    Parameters
    ----------
    reported : dict of str -> str
        :func:`compiled_settings`.
    asked : dict of str -> str
        :func:`compile_settings`.
    """
    for name in ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT"):
        if reported[name].lower() != asked[name].lower():
            raise RuntimeError(f"OpenVINO compiled the model with {name}={reported[name]}, "
                               f"not the {asked[name]} asked for")


def _text(value):
    """A property value as text; an element type by its short name (``f32``)."""
    return value.get_type_name() if hasattr(value, "get_type_name") else str(value)
