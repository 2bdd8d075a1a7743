"""Peers: other libraries raced against fastnn in ``fastnn bench --peers``.

Each peer is an adapter (:class:`fastnn.bench.peers.base.Peer`) that declares its
capabilities, as the backends do: the ops and dtypes it times, the library and its
version, and how it pins its threads. It builds the same network from fastnn's
parameters (through :mod:`fastnn.interop`, or written from the weights for JAX), passes
the same correctness gate against the reference backend, and is timed in the same
interleaved rounds as the backends (:mod:`fastnn.bench.peers.measure`).

=============  ======================================  =================================
name           what is timed                           threads
=============  ======================================  =================================
torch          eager ``Sequential``; autograd; SGD     ``set_num_threads`` (+ interop)
jax            ``jax.jit`` forward, grad, SGD step     ``XLA_FLAGS`` before import
onnxruntime    ``InferenceSession.run``                ``SessionOptions`` intra/inter
openvino       ``InferRequest.infer`` (float32 only)   ``INFERENCE_NUM_THREADS``
sklearn        ``predict_proba`` / ``predict``         threadpoolctl (BLAS)
=============  ======================================  =================================
"""

from __future__ import annotations

from fastnn.bench.peers.base import Peer, PeerCall, PeerThreads, Unsupported, gated_call
from fastnn.bench.peers.jax_peer import JaxPeer
from fastnn.bench.peers.onnxruntime_peer import OnnxRuntimePeer
from fastnn.bench.peers.openvino_peer import OpenVinoPeer
from fastnn.bench.peers.sklearn_peer import SklearnPeer
from fastnn.bench.peers.torch_peer import TorchPeer
from fastnn.ops import PEER_OPS

PEERS = {
    "torch": TorchPeer("torch", "torch", "torch", "peers", ops=PEER_OPS,
                       description="PyTorch eager: Sequential, autograd, torch.optim.SGD"),
    "jax": JaxPeer("jax", "jax", "jax", "peers", ops=PEER_OPS,
                   description="JAX: jax.jit of the forward, value_and_grad and the SGD step"),
    "onnxruntime": OnnxRuntimePeer("onnxruntime", "onnxruntime", "onnxruntime", "onnx",
                                   needs=("onnx",),
                                   description="ONNX Runtime InferenceSession, CPU provider"),
    "openvino": OpenVinoPeer("openvino", "openvino", "openvino", "peers", dtypes=("float32",),
                             needs=("onnx",),
                             description="OpenVINO InferRequest.infer, CPU plugin, from the "
                                         "same ONNX graph"),
    "sklearn": SklearnPeer("sklearn", "sklearn", "scikit-learn", "peers",
                           description="scikit-learn MLP predict_proba / predict"),
}
# Other spellings users type for the same peers.
ALIASES = {"pytorch": "torch", "onnx": "onnxruntime", "ort": "onnxruntime",
           "scikit-learn": "sklearn", "ov": "openvino"}

__all__ = ["ALIASES", "PEERS", "Peer", "PeerCall", "PeerThreads", "Unsupported", "gated_call",
           "get", "peer_names", "peer_versions", "peers_metadata"]


def get(name):
    """The peer called ``name`` (or one of its :data:`ALIASES`).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    key = ALIASES.get(name, name)
    if key not in PEERS:
        raise ValueError(f"unknown peer {name!r}; known peers: {', '.join(PEERS)}")
    return PEERS[key]


def peer_names(names):
    """Canonical peer names, validated, without repeats (ValueError for an unknown one)."""
    return tuple(dict.fromkeys(get(name).name for name in names))


def peer_versions(names):
    """``{name: version}`` of the installed peers among ``names`` (for the machine record)."""
    versions = {}
    for name in names:
        peer = get(name)
        if peer.installed():
            versions[peer.name] = peer.version()
    return versions


def peers_metadata(names):
    """What ``results.json`` records about the peers of a run.

    Returns
    -------
    dict of str -> dict
        Per peer: ``installed``, ``version``, ``ops``, ``dtypes``, ``description``.
    """
    data = {}
    for name in names:
        peer = get(name)
        installed = peer.installed()
        data[peer.name] = {"installed": installed,
                           "version": peer.version() if installed else None,
                           "ops": list(peer.ops), "dtypes": list(peer.dtypes),
                           "description": peer.description,
                           "note": "" if installed else peer.missing_note()}
    return data
