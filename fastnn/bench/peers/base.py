"""What every peer adapter is: its capabilities, its prepared call, and the gate it passes.

A peer is another library computing the same network (PyTorch, JAX, ONNX Runtime,
scikit-learn). An adapter declares what it can do (:class:`Peer`: the ops, the dtypes,
the library and its pip extra) and builds, for one case and op, a :class:`PeerCall`:
the zero-argument call to time, the function flattening its result the way
:data:`fastnn.ops.OP_TABLE` flattens a backend's, the seconds its setup took
(session creation, jit compilation: reported apart, as ``compile_s`` is for Numba) and
the thread counts in force. The call then passes the same correctness gate as the
backends (:func:`gated_call`) before it is timed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import time
from dataclasses import dataclass

from fastnn.bench.measure.gate import gate
from fastnn.bench.peers.losses import LOSSES as PEER_LOSSES


class Unsupported(Exception):
    """This peer cannot compute this case (an activation, dtype or op it lacks).

    Reported as a skipped point, not as an error.
    """


@dataclass(frozen=True)
class PeerThreads:
    """The thread counts a peer computes with, recorded with every row.

    Attributes
    ----------
    intra : int or None
        Threads inside one op (PyTorch's ``get_num_threads``, ONNX Runtime's
        ``intra_op_num_threads``, XLA's intra-op threads, the BLAS threads for
        scikit-learn); None where unknown.
    inter : int or None
        Threads running independent ops at once; None where the peer has no such pool.
    how : str
        How they were set, or why they could not be.
    """

    intra: int | None
    inter: int | None
    how: str

    def columns(self):
        """The ``extra`` columns of a row."""
        return {"peer_threads": self.intra, "peer_interop_threads": self.inter,
                "peer_pinning": self.how}


@dataclass
class PeerCall:
    """One op of one peer on one case, built and warmed up, ready for the gate.

    Attributes
    ----------
    call : callable with no arguments
        What is timed.
    extract : callable, return value of ``call`` -> ndarray, shape (k,)
        The flat result, laid out as the backends' (see :data:`fastnn.ops.OP_TABLE`).
    setup_s : float
        Seconds to build the peer's model and warm it up (session creation, jit
        compilation and its first run); filled in by :meth:`Peer.prepare`.
    threads : PeerThreads or None
    reset : callable with no arguments or None
        Puts the peer's model back to the parameters the call started from
        (``train_step`` updates them): called before every timed round, so that every
        round times a step from the state that was gated, as the backends' are.
    """

    call: object
    extract: object
    setup_s: float = 0.0
    threads: PeerThreads | None = None
    reset: object = None


@dataclass(frozen=True)
class Peer:
    """A peer library's declared capabilities; subclasses build its calls.

    Attributes
    ----------
    name : str
        The name ``--peers`` takes.
    module : str
        The module to import.
    distribution : str
        The pip distribution whose version is recorded.
    extra : str
        The fastnn pip extra that installs it.
    ops : tuple of str
        The ops it times (keys of :data:`fastnn.ops.OP_TABLE`).
    dtypes : tuple of str
    description : str
        What is timed, in a few words.
    needs : tuple of str
        Other modules the peer needs besides ``module`` (``onnx``, which writes the
        model ONNX Runtime and OpenVINO run).
    """

    name: str
    module: str
    distribution: str
    extra: str
    ops: tuple = ("forward",)
    dtypes: tuple = ("float64", "float32")
    description: str = ""
    needs: tuple = ()

    def installed(self):
        """Whether the library and the modules it needs can be found (without importing)."""
        return all(_found(module) for module in (self.module, *self.needs))

    def version(self):
        """The installed version (read from the package metadata, not by importing)."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def missing_note(self):
        """The note of a row this peer could not run because it is not installed."""
        if self.needs:
            return (f"{self.name} is not installed (it needs {self.distribution} and "
                    f"{' and '.join(self.needs)}: pip install \"fastnn[{self.extra}]\")")
        return (f"{self.name} is not installed (pip install \"fastnn[{self.extra}]\" or "
                f"pip install {self.distribution})")

    def skip_reason(self, spec, op):
        """Why this peer does not time ``op`` on ``spec``, or ``""``."""
        if op not in self.ops:
            return f"{self.name} times {', '.join(self.ops)} only"
        if spec.dtype not in self.dtypes:
            return f"{self.name} computes in {', '.join(self.dtypes)} only"
        if op != "forward" and spec.loss not in PEER_LOSSES:
            return f"unsupported: fastnn's {spec.loss!r} loss is not written for the peers"
        return self.unsupported(spec, op)

    def unsupported(self, spec, op):
        """A peer-specific reason it cannot compute ``spec`` (an activation), or ``""``."""
        return ""

    def pinned(self, threads):
        """A context manager holding this peer's threads at ``threads``; yields PeerThreads.

        The default pins nothing and says so.
        """
        return contextlib.nullcontext(PeerThreads(None, None, "not pinned by fastnn"))

    def prepare(self, net, case, op, threads):
        """Build and warm up the call, timing that apart.

        Parameters
        ----------
        net : fastnn.MLP
            The case's network (float64 or float32), on any backend.
        case : fastnn.bench.workload.cases.Case
        op : str
        threads : int
            The thread count of this pass.

        Returns
        -------
        PeerCall

        Raises
        ------
        Unsupported
            If the peer cannot compute this network.
        """
        start = time.perf_counter()
        prepared = self.build(net, case, op, threads)
        prepared.setup_s = time.perf_counter() - start
        return prepared

    def build(self, net, case, op, threads):  # pragma: no cover - every adapter has one
        raise NotImplementedError


def _found(module):
    """Whether ``module`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def gated_call(prepared, dtype, reference, expected, origin=None):
    """Call a peer's prepared op once, time it, and compare it with the reference.

    The same test as :func:`fastnn.bench.measure.gate.checked_call` applies to the backends:
    the flat result within :data:`fastnn.testing.TOLERANCE` of the reference's; for a
    training step, the step itself (``origin``, :func:`fastnn.bench.measure.gate.step_origin`).

    Parameters
    ----------
    prepared : PeerCall
    dtype : str
        The case's dtype (chooses the tolerance).
    reference : str
        The reference backend's name, for the note.
    expected : ndarray, shape (k,)
        The reference's flat result.
    origin : ndarray, shape (k,) or None
        For ``train_step``, the loss 0 and the parameters before the step.

    Returns
    -------
    fastnn.bench.measure.gate.CheckedCall
        With the peer's ``reset``, for the timer's setup.
    """
    checked = gate(prepared.call, prepared.extract, dtype, reference, expected, origin=origin)
    return dataclasses.replace(checked, reset=prepared.reset)
