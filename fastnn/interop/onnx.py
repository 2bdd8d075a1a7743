"""Exchange networks with ONNX: read graphs of dense layers, write them.

Reading parses the protobuf with the ``onnx`` package (no pickle, no code runs), checks
it with ``onnx.checker`` and walks the graph from its input along a chain of dense
layers: ``MatMul`` (+ ``Add``) or ``Gemm``, each followed by at most one activation
(:data:`ACTIVATION_NODES`, ``x * Sigmoid(x)`` for silu, and the two-node forms
:func:`to_onnx` and ``torch.onnx.export`` write for leaky_relu and softplus). It reads
the graphs skl2onnx writes for ``MLPClassifier`` / ``MLPRegressor`` (the probability
path, with or without ZipMap; the label path after it is ignored), those
``torch.onnx.export`` writes for a ``Sequential`` (either exporter) and those
:func:`to_onnx` writes. Everything is validated before the network is built: a bad
model is a ValueError and nothing is half-loaded. Models that reference external data
files are refused (nothing is read from other paths), as are files larger than
:data:`MAX_MODEL_BYTES`.

ONNX is optional (``pip install "fastnn[onnx]"``) and imported only when a function
here is called.
"""

from __future__ import annotations

import json
import numbers
import os

import numpy as np

import fastnn
from fastnn.atomic import atomic_write_bytes
from fastnn.functions import ELU_ALPHA, LEAKY_RELU_SLOPE
from fastnn.interop._network import network_layers, network_parts, paired_layers
from fastnn.optional import import_optional

# Files (or bytes) above this size are refused before they are read: the largest
# network fastnn runs well is a few MB, and protobuf itself stops at 2 GiB.
MAX_MODEL_BYTES = 256 * 2**20

# Opset of the models to_onnx writes: the oldest with Softmax over the last axis
# (opset 13), so that older runtimes read them too.
TARGET_OPSET = 13
INPUT_NAME = "input"
OUTPUT_NAME = "output"
# Model metadata to_onnx writes and read_onnx reads back (JSON values).
METADATA_LOSS = "fastnn.loss"
METADATA_CLASSES = "fastnn.classes"

# Single-node activations: ONNX op -> (fastnn name, {attribute: (default, accepted values)}).
ACTIVATION_NODES = {
    "Sigmoid": ("sigmoid", {}),
    "Tanh": ("tanh", {}),
    "Relu": ("relu", {}),
    "LeakyRelu": ("leaky_relu", {"alpha": (0.01, (LEAKY_RELU_SLOPE,))}),
    "Elu": ("elu", {"alpha": (1.0, (ELU_ALPHA,))}),
    "Softplus": ("softplus", {}),
    "Softmax": ("softmax", {"axis": (-1, (-1, 1))}),
    "Exp": ("exp", {}),
}
# Ops that may follow the network's output: the label and probability post-processing
# skl2onnx adds (ArgMax, ZipMap, the binary [1 - p, p] columns, label casts).
TAIL_OPS = ("ArgMax", "ZipMap", "ArrayFeatureExtractor", "Binarizer", "Reshape", "Cast",
            "Concat", "Sub", "Identity", "Constant")
STANDARD_DOMAINS = ("", "ai.onnx")
TAIL_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")

# torch.onnx.export writes Softplus with PyTorch's threshold as Where(z > t, z, Softplus(z)):
# accepted for t >= 20, where the two differ by less than e^-t (see fastnn.interop.torch).
MIN_SOFTPLUS_THRESHOLD = 20.0

SUPPORTED = ("MatMul, Gemm, Add, " + ", ".join(ACTIVATION_NODES)
             + ", Identity, x * Sigmoid(x) (silu)")


def read_onnx(source, dtype=None, loss=None, max_bytes=None):
    """The network an ONNX graph of dense layers computes (behind ``MLP.from_onnx``).

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or onnx.ModelProto
        A ``.onnx`` file or its contents.
    dtype : {"float64", "float32"} or None
        None: the dtype of the weights.
    loss : str or None
        None: the loss a fastnn-written model records, else the one the output
        activation is normally trained with (softmax: ``cross_entropy``, sigmoid:
        ``binary_cross_entropy``, exp: ``poisson``, else ``mse``).
    max_bytes : int or None
        Larger models are refused before they are read; None: :data:`MAX_MODEL_BYTES`.

    Returns
    -------
    NetworkParts
        The network built from them, ``net.forward(X)``, equals the graph's network
        output for ``X`` of shape (n_samples, n_inputs): for skl2onnx graphs, the
        probabilities before ZipMap (one column for a binary classifier) or the
        regression output. ``classes_`` come from the model (fastnn metadata, or
        skl2onnx's class labels for a single-label classifier).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        Malformed, truncated or oversized model, external data, an unsupported node
        (named), wrongly shaped or non-float initializers, or a graph that is not a
        chain of dense layers.
    TypeError
        For a source of another type.
    """
    onnx = import_optional("onnx", purpose="fastnn.MLP.from_onnx")
    model = _parse(onnx, source, _checked_max_bytes(max_bytes))
    reader = _GraphReader(onnx, model.graph)
    layers, classes = reader.read()
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    if loss is None:
        loss = _metadata_json(metadata, METADATA_LOSS, str)
    saved_classes = _metadata_json(metadata, METADATA_CLASSES, list)
    if saved_classes is not None:
        classes = np.asarray(saved_classes)
    elif layers and layers[-1].activation == "sigmoid" and layers[-1].weights.shape[1] > 1:
        classes = None  # several sigmoid outputs: multilabel, as from_sklearn reads them
    return network_parts(layers, source="the ONNX graph", loss=loss, dtype=dtype,
                         classes=classes)


def to_onnx(net, path=None):
    """The network as an ONNX model.

    One ``Gemm`` per layer (weights ``(n_in, n_out)``), then its activation: the ONNX
    op of the same name, ``x * Sigmoid(x)`` for silu, and for float64 leaky_relu
    ``Max(x, 0.01 * x)`` with a float64 slope (ONNX's ``LeakyRelu`` takes its slope
    as a float32 attribute, which would change float64 results by ~2e-8). The input
    is ``"input"`` of shape (N, n_inputs), the output ``"output"`` of shape
    (N, n_outputs), both of the network's dtype; the loss and ``classes_`` are kept
    in the model's metadata. ONNX Runtime has no float64 kernels for ``Elu`` and
    ``Softplus``: such float64 models are valid ONNX but need another runtime (or
    a float32 network).

    Parameters
    ----------
    net : MLP
    path : str, os.PathLike or None
        If given, the bytes are also written there (atomically).

    Returns
    -------
    bytes
        The serialized ``ModelProto`` (opset :data:`TARGET_OPSET`), checked with
        ``onnx.checker``.

    Raises
    ------
    ValueError
        If ``classes_`` cannot be stored as JSON.
    """
    onnx = import_optional("onnx", purpose="fastnn.MLP.to_onnx")
    model = _GraphWriter(onnx, net).model()
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    if path is not None:
        atomic_write_bytes(path, data)
    return data


# --- reading ---------------------------------------------------------------------------


def _parse(onnx, source, max_bytes):
    from google.protobuf.message import DecodeError

    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
    else:
        data = _read_bytes(source, max_bytes)
        model = onnx.ModelProto()
        try:
            model.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise ValueError(f"not an ONNX model (malformed or truncated protobuf): {exc}") \
                from exc
    _refuse_external_data(onnx, model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ValueError(f"not a valid ONNX model (is it truncated?): {exc}") from exc
    return model


def _read_bytes(source, max_bytes):
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_size(len(data), max_bytes, "the model bytes")
        return data
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"MLP.from_onnx reads a path, bytes or an onnx.ModelProto; got "
                        f"{type(source).__name__}")
    if os.path.isdir(source):
        raise ValueError(f"{os.fspath(source)} is a directory; MLP.from_onnx reads an .onnx "
                         f"file (or its bytes)")
    with open(source, "rb") as handle:
        _check_size(os.fstat(handle.fileno()).st_size, max_bytes, os.fspath(source))
        # Read at most one byte more than allowed: a file growing while it is read (or a
        # device reporting size 0) cannot make this read unbounded.
        data = handle.read(max_bytes + 1)
    _check_size(len(data), max_bytes, os.fspath(source))
    return data


def _checked_max_bytes(max_bytes):
    """``max_bytes`` as a positive int (None: :data:`MAX_MODEL_BYTES`)."""
    if max_bytes is None:
        return MAX_MODEL_BYTES
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral):
        raise TypeError(f"max_bytes must be an integer number of bytes (or None for "
                        f"{MAX_MODEL_BYTES}); got {max_bytes!r}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1; got {max_bytes}")
    return int(max_bytes)


def _check_size(size, max_bytes, what):
    if size > max_bytes:
        raise ValueError(f"{what} is {size} bytes, above the limit of {max_bytes} bytes for an "
                         f"ONNX model (raise it with max_bytes=)")


def _refuse_external_data(onnx, model):
    graph = model.graph
    tensors = list(graph.initializer) + [sparse.values for sparse in graph.sparse_initializer]
    for node in graph.node:
        for attribute in node.attribute:
            tensors.extend([attribute.t] if attribute.HasField("t") else [])
            tensors.extend(attribute.tensors)
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise ValueError(f"the ONNX model keeps tensor {tensor.name!r} in an external data "
                             f"file; fastnn reads only self-contained models (nothing is "
                             f"loaded from other paths)")


def _metadata_json(metadata, key, kind):
    if key not in metadata:
        return None
    try:
        value = json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the ONNX model's metadata {key!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, kind):
        raise ValueError(f"the ONNX model's metadata {key!r} must be a {kind.__name__}; "
                         f"got {type(value).__name__}")
    if kind is list and not all(isinstance(item, (str, int, float, bool)) for item in value):
        raise ValueError(f"the ONNX model's metadata {key!r} must list plain labels")
    return value


class _GraphReader:
    """Walks one ONNX graph from its input along the chain of dense layers.

    Parameters
    ----------
    onnx : module
    graph : onnx.GraphProto
        Already checked by ``onnx.checker``.
    """

    def __init__(self, onnx, graph):
        self._onnx = onnx
        self._graph = graph
        self._constants = {tensor.name: tensor for tensor in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in STANDARD_DOMAINS:
                self._constants.update({name: node for name in node.output})
        self._consumers = {}
        for node in graph.node:
            for name in node.input:
                if name:
                    self._consumers.setdefault(name, []).append(node)
        self._used = set()  # ids of the nodes the layers were read from

    def read(self):
        """The dense layers and the class labels skl2onnx recorded (or None).

        Returns
        -------
        layers : list of DenseLayer
        classes : ndarray, shape (n_classes,), or None
        """
        tensor = self._input_name()

        def steps():
            nonlocal tensor
            first = True
            while (step := self._step(tensor, first=first)) is not None:
                kind, value, tensor = step
                if kind != "pass":  # Identity, Cast and the like change no layer
                    first = False
                    yield kind, value

        layers = paired_layers(steps(), lambda name: (
            f"ONNX activation {name!r} does not follow a dense layer (two activations in a "
            f"row, or one before the first MatMul/Gemm)"))
        self._check_output(tensor)
        self._check_input_shape(layers)
        return layers, self._tail_classes()

    # --- the chain ----------------------------------------------------------------------

    def _input_name(self):
        inputs = [value for value in self._graph.input if value.name not in self._constants]
        if len(inputs) != 1:
            raise ValueError(f"the ONNX graph has {len(inputs)} inputs "
                             f"({', '.join(value.name for value in inputs)}); fastnn reads a "
                             f"graph with one input, a batch of shape (N, n_inputs)")
        return inputs[0].name

    def _step(self, tensor, first):
        """The next link after ``tensor``: ``(kind, value, output tensor)``, or None at the end."""
        consumers = self._consumers.get(tensor, [])
        if self._only_tail_after(tensor) and not (first and consumers):
            return None
        if len(consumers) == 1:
            return self._single(consumers[0], tensor, first)
        ops = sorted(node.op_type for node in consumers)
        if all(node.domain in STANDARD_DOMAINS for node in consumers):
            if ops == ["Mul", "Sigmoid"]:
                return self._silu(consumers, tensor)
            if ops == ["Max", "Mul"]:
                return self._leaky_relu(consumers, tensor)
            if ops == ["Greater", "Softplus", "Where"]:
                return self._thresholded_softplus(consumers, tensor)
        for node in consumers:
            _check_supported(node)
        raise ValueError(f"the ONNX graph branches at tensor {tensor!r} (into "
                         f"{', '.join(ops)}); fastnn reads a chain of dense layers")

    def _only_tail_after(self, tensor):
        """Whether every node downstream of ``tensor`` is post-processing (:data:`TAIL_OPS`)."""
        # A stack, not recursion: a long chain of nodes must not exhaust Python's stack.
        stack, seen = [tensor], set()
        while stack:
            for node in self._consumers.get(stack.pop(), []):
                if id(node) in seen:
                    continue
                if not _is_tail(node):
                    return False
                seen.add(id(node))
                stack.extend(node.output)
        return True

    def _single(self, node, tensor, first):
        _check_supported(node, first)
        self._used.add(id(node))
        if node.op_type == "Identity":
            return "pass", None, node.output[0]
        if node.op_type == "Cast":
            return self._input_cast(node)
        if node.op_type == "MatMul":
            return self._matmul(node, tensor)
        if node.op_type == "Gemm":
            return self._gemm(node, tensor)
        name, attributes = ACTIVATION_NODES[node.op_type]
        for attribute, (default, accepted) in attributes.items():
            value = self._attribute(node, attribute, default)
            if not any(np.float32(value) == np.float32(ok) for ok in accepted):
                raise ValueError(f"ONNX node {node.op_type!r} with {attribute}={value!r} is "
                                 f"not supported: fastnn's {name} needs {attribute} in "
                                 f"{list(accepted)}")
        return "activation", name, node.output[0]

    def _input_cast(self, node):
        target = self._attribute(node, "to", None)
        if target not in (self._onnx.TensorProto.FLOAT, self._onnx.TensorProto.DOUBLE):
            raise ValueError(f"ONNX node 'Cast' to type {target} at the input is not "
                             f"supported; fastnn computes in float32 or float64")
        self._input_type = target
        return "pass", None, node.output[0]

    def _matmul(self, node, tensor):
        if node.input[0] != tensor:
            raise ValueError(f"ONNX node 'MatMul' {node.name!r} multiplies with the weights "
                             f"first; fastnn reads X @ W")
        weights = self._constant(node.input[1], node)
        return self._with_bias(weights, None, node.output[0])

    def _gemm(self, node, tensor):
        settings = {name: self._attribute(node, name, default)
                    for name, default in (("alpha", 1.0), ("beta", 1.0), ("transA", 0),
                                          ("transB", 0))}
        if node.input[0] != tensor or settings["transA"] or settings["alpha"] != 1.0 \
                or settings["beta"] != 1.0:
            raise ValueError(f"ONNX node 'Gemm' {node.name!r} with {settings} is not "
                             f"supported; fastnn reads X @ B + C (alpha = beta = 1, X not "
                             f"transposed)")
        weights = self._constant(node.input[1], node)
        if settings["transB"] and weights.ndim == 2:
            weights = weights.T
        has_bias = len(node.input) > 2 and node.input[2]
        bias = self._constant(node.input[2], node) if has_bias else None
        return self._with_bias(weights, bias, node.output[0])

    def _with_bias(self, weights, bias, tensor):
        """A dense layer's parameters, taking a following ``Add`` of a constant as its bias."""
        consumers = self._consumers.get(tensor, [])
        if bias is None and len(consumers) == 1 and consumers[0].op_type == "Add" \
                and consumers[0].domain in STANDARD_DOMAINS:
            add = consumers[0]
            other = [name for name in add.input if name != tensor]
            if len(other) == 1 and other[0] in self._constants:
                self._used.add(id(add))
                bias, tensor = self._constant(other[0], add), add.output[0]
        if weights.ndim != 2:
            raise ValueError(f"ONNX dense layer weights of shape {weights.shape}; expected a "
                             f"matrix")
        if bias is None:
            bias = np.zeros(weights.shape[1], dtype=weights.dtype)
        elif bias.ndim == 2 and bias.shape[0] == 1:
            bias = bias[0]  # skl2onnx writes intercepts of shape (1, n_out)
        return "dense", (weights, bias), tensor

    def _silu(self, consumers, tensor):
        sigmoid = _only(consumers, "Sigmoid")
        multiply = _only(consumers, "Mul")
        if sorted(multiply.input) != sorted([tensor, sigmoid.output[0]]):
            raise ValueError(f"ONNX node 'Mul' {multiply.name!r} beside a Sigmoid is not "
                             f"x * Sigmoid(x) (silu); the graph branches at {tensor!r}")
        self._used.update({id(sigmoid), id(multiply)})
        return "activation", "silu", multiply.output[0]

    def _leaky_relu(self, consumers, tensor):
        multiply = _only(consumers, "Mul")
        maximum = _only(consumers, "Max")
        slope_name = [name for name in multiply.input if name != tensor]
        slope = self._constant(slope_name[0], multiply) if len(slope_name) == 1 else None
        if slope is None or slope.size != 1 \
                or slope.reshape(()) != np.asarray(LEAKY_RELU_SLOPE, dtype=slope.dtype) \
                or sorted(maximum.input) != sorted([tensor, multiply.output[0]]):
            raise ValueError(f"ONNX nodes 'Mul' and 'Max' after {tensor!r} are not "
                             f"Max(x, {LEAKY_RELU_SLOPE} * x) (leaky_relu)")
        self._used.update({id(multiply), id(maximum)})
        return "activation", "leaky_relu", maximum.output[0]

    def _thresholded_softplus(self, consumers, tensor):
        softplus = _only(consumers, "Softplus")
        greater = _only(consumers, "Greater")
        where = _only(consumers, "Where")
        threshold = self._constant(greater.input[1], greater) \
            if greater.input[0] == tensor else None
        if threshold is None or threshold.size != 1 \
                or list(where.input) != [greater.output[0], tensor, softplus.output[0]]:
            raise ValueError(f"ONNX nodes 'Softplus', 'Greater' and 'Where' after {tensor!r} "
                             f"are not Where(x > t, x, Softplus(x))")
        if float(threshold.reshape(())) < MIN_SOFTPLUS_THRESHOLD:
            raise ValueError(f"ONNX softplus with threshold {float(threshold.reshape(()))} is "
                             f"not supported: fastnn's softplus matches thresholds >= "
                             f"{MIN_SOFTPLUS_THRESHOLD:g}")
        self._used.update({id(softplus), id(greater), id(where)})
        return "activation", "softplus", where.output[0]

    # --- checks at the ends ---------------------------------------------------------------

    def _check_output(self, tensor):
        """Every node not read as a layer must be post-processing after the network output."""
        outputs = {value.name for value in self._graph.output}
        if tensor not in outputs and not self._consumers.get(tensor):
            raise ValueError(f"the network output {tensor!r} is not an output of the ONNX graph")
        downstream = {tensor} | set(self._constants)
        for node in self._graph.node:
            if id(node) in self._used:
                continue
            _check_supported(node, tail=True)
            if not _is_tail(node) or not all(name in downstream for name in node.input if name):
                raise ValueError(f"ONNX node {node.op_type!r} {node.name!r} is not on the chain "
                                 f"of dense layers from the input; fastnn reads graphs whose "
                                 f"only other nodes post-process the network output")
            downstream.update(node.output)

    def _check_input_shape(self, layers):
        value = next(value for value in self._graph.input if value.name not in self._constants)
        if not value.type.HasField("tensor_type") or not layers:
            return
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            return
        dims = tensor_type.shape.dim
        if len(dims) != 2:
            raise ValueError(f"the ONNX graph input {value.name!r} has {len(dims)} dimensions; "
                             f"fastnn reads a batch of shape (N, n_inputs)")
        n_inputs = layers[0].weights.shape[0]
        if dims[1].HasField("dim_value") and dims[1].dim_value != n_inputs:
            raise ValueError(f"the ONNX graph input {value.name!r} has {dims[1].dim_value} "
                             f"features but the first layer's weights take {n_inputs}")
        self._check_types(value, layers)

    def _check_types(self, value, layers):
        """The batch reaches the layers in their weights' type, one type throughout: a
        graph whose declared types disagree is one no runtime runs (ONNX's type rules).
        """
        types = {np.dtype(array.dtype) for layer in layers
                 for array in (layer.weights, layer.bias)}
        if any(kind.kind != "f" for kind in types):
            return  # refused later, naming the type (network_parts)
        if len(types) != 1:
            raise ValueError(f"the ONNX graph's layers mix {', '.join(sorted(map(str, types)))} "
                             f"weights; an ONNX graph of dense layers has one type")
        declared = getattr(self, "_input_type", None) or value.type.tensor_type.elem_type
        expected = self._onnx.helper.np_dtype_to_tensor_dtype(types.pop())
        if declared and declared != expected:
            name = self._onnx.TensorProto.DataType.Name
            raise ValueError(f"the ONNX graph input {value.name!r} is {name(declared)} but its "
                             f"layers compute in {name(expected)} (with no Cast between)")

    def _tail_classes(self):
        """skl2onnx's class labels: the table ArrayFeatureExtractor maps ArgMax through, or
        ZipMap's labels."""
        for node in self._graph.node:
            if id(node) in self._used:
                continue
            if node.op_type == "ArrayFeatureExtractor" and node.input[0] in self._constants:
                return _labels(self._constant(node.input[0], node))
            for attribute in ("classlabels_int64s", "classlabels_strings"):
                labels = self._attribute(node, attribute, None) if node.op_type == "ZipMap" \
                    else None
                if labels:
                    return _labels(np.asarray(labels))
        return None

    # --- values -----------------------------------------------------------------------------

    def _constant(self, name, node):
        source = self._constants.get(name)
        if source is None:
            raise ValueError(f"ONNX node {node.op_type!r} {node.name!r} reads {name!r}, which is "
                             f"not an initializer or constant (is the model truncated?)")
        if isinstance(source, self._onnx.NodeProto):
            self._used.add(id(source))
            tensor = self._attribute(source, "value", None)
            if tensor is None:
                raise ValueError(f"ONNX node 'Constant' {source.name!r} is supported only with "
                                 f"a 'value' tensor")
            source = tensor
        try:
            return self._onnx.numpy_helper.to_array(source)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"ONNX tensor {name!r} could not be read: {exc}") from exc

    def _attribute(self, node, name, default):
        for attribute in node.attribute:
            if attribute.name == name:
                return self._onnx.helper.get_attribute_value(attribute)
        return default


def _is_tail(node):
    return node.op_type in TAIL_OPS and node.domain in TAIL_DOMAINS


def _check_supported(node, first=False, tail=False):
    known = tail and _is_tail(node)
    known = known or (node.domain in STANDARD_DOMAINS
                      and (node.op_type in ACTIVATION_NODES
                           or node.op_type in ("MatMul", "Gemm", "Identity")
                           or (first and node.op_type == "Cast")))
    if not known:
        where = "" if node.domain in STANDARD_DOMAINS else f" of domain {node.domain!r}"
        raise ValueError(f"ONNX node {node.op_type!r}{where} is not supported here "
                         f"(node {node.name!r}); fastnn reads {SUPPORTED}")


def _only(nodes, op_type):
    return next(node for node in nodes if node.op_type == op_type)


def _labels(values):
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind in "OS":
        values = np.asarray([value.decode() if isinstance(value, bytes) else str(value)
                             for value in values])
    return values


# --- writing ---------------------------------------------------------------------------


class _GraphWriter:
    """Builds the ONNX model of one network (see :func:`to_onnx`)."""

    def __init__(self, onnx, net):
        self._onnx = onnx
        self._net = net
        self._element_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(net.spec.dtype))
        self._nodes, self._initializers = [], []

    def model(self):
        helper = self._onnx.helper
        spec = self._net.spec
        layers = network_layers(self._net)
        tensor = INPUT_NAME
        for index, layer in enumerate(layers):
            last = index == len(layers) - 1
            tensor = self._dense(index, layer, tensor,
                                 OUTPUT_NAME if last and layer.activation == "identity" else None)
            if layer.activation != "identity":
                tensor = self._activation(index, layer.activation, tensor,
                                          OUTPUT_NAME if last else f"a{index}")
        graph = helper.make_graph(
            self._nodes, "fastnn_mlp",
            [helper.make_tensor_value_info(INPUT_NAME, self._element_type, ["N", spec.n_inputs])],
            [helper.make_tensor_value_info(OUTPUT_NAME, self._element_type,
                                           ["N", spec.n_outputs])],
            self._initializers)
        opsets = [helper.make_opsetid("", TARGET_OPSET)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="fastnn",
                                  producer_version=fastnn.__version__,
                                  doc_string=repr(self._net))
        # The oldest IR version that holds this opset: readable by older runtimes too.
        model.ir_version = helper.find_min_ir_version_for(opsets)
        helper.set_model_props(model, self._metadata())
        return model

    def _metadata(self):
        metadata = {METADATA_LOSS: json.dumps(self._net.spec.loss)}
        classes = self._net.classes_
        if classes is not None:
            try:
                metadata[METADATA_CLASSES] = json.dumps(np.asarray(classes).tolist())
            except TypeError as exc:
                raise ValueError(f"classes_ of dtype {np.asarray(classes).dtype} cannot be "
                                 f"stored in an ONNX model (JSON metadata): {exc}") from exc
        return metadata

    def _dense(self, index, layer, tensor, output):
        weights, bias = f"W{index}", f"b{index}"
        self._constant(weights, layer.weights)
        self._constant(bias, layer.bias)
        output = output or f"z{index}"
        self._node("Gemm", [tensor, weights, bias], output, f"dense{index}")
        return output

    def _activation(self, index, name, tensor, output):
        prefix = f"{name}{index}"
        if name == "silu":
            self._node("Sigmoid", [tensor], f"{prefix}_sigmoid", f"{prefix}_sigmoid")
            self._node("Mul", [tensor, f"{prefix}_sigmoid"], output, prefix)
        elif name == "leaky_relu" and self._net.spec.dtype == "float64":
            # LeakyRelu's alpha is a float32 attribute; a float64 slope keeps float64 exact.
            self._constant(f"{prefix}_slope", np.asarray(LEAKY_RELU_SLOPE))
            self._node("Mul", [tensor, f"{prefix}_slope"], f"{prefix}_scaled",
                       f"{prefix}_scaled")
            self._node("Max", [tensor, f"{prefix}_scaled"], output, prefix)
        else:
            op_type = next((op for op, (fastnn_name, _) in ACTIVATION_NODES.items()
                            if fastnn_name == name), None)
            if op_type is None:
                raise ValueError(f"ONNX has no op for fastnn's {name!r} activation")
            attributes = {attribute: accepted[0] for attribute, (_, accepted)
                          in ACTIVATION_NODES[op_type][1].items()}
            self._node(op_type, [tensor], output, prefix, **attributes)
        return output

    def _node(self, op_type, inputs, output, name, **attributes):
        self._nodes.append(self._onnx.helper.make_node(op_type, inputs, [output], name=name,
                                                       **attributes))

    def _constant(self, name, values):
        values = np.ascontiguousarray(values, dtype=self._net.spec.dtype)
        self._initializers.append(self._onnx.numpy_helper.from_array(values, name))
