"""Model exchange with ONNX, both ways, every backend; checked by onnx.checker and ONNX Runtime.

onnx, onnxruntime and skl2onnx are test requirements (no importorskip: these tests must
run in CI); only the tests of torch.onnx.export skip without PyTorch.
"""

import io
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from skl2onnx import to_onnx as skl2onnx_convert
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import fastnn
from fastnn import MLP
from fastnn.interop.onnx import MAX_MODEL_BYTES, to_onnx
from fastnn.interop.torch import BY_NAME as TORCH_ACTIVATIONS
from fastnn.spec import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

from_onnx = MLP.from_onnx

BACKENDS = fastnn.available_backends()
DTYPES = ["float64", "float32"]
ELEMENT_TYPES = {"float64": TensorProto.DOUBLE, "float32": TensorProto.FLOAT}
# ONNX Runtime has no float64 kernels for these ops; the onnx package's reference
# evaluator runs those models instead.
NO_FLOAT64_IN_ONNXRUNTIME = ("elu", "softplus")


def assert_same_outputs(actual, expected, dtype):
    """float64 to 1e-12 relative, float32 to 1e-5 (absolute floors for values near 0)."""
    rtol, atol = (1e-12, 1e-13) if dtype == "float64" else (1e-5, 1e-6)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def inputs(dtype="float64", n_samples=6, n_features=4, seed=1):
    return np.random.default_rng(seed).standard_normal((n_samples, n_features)).astype(dtype)


def network(hidden, output, backend, dtype="float64", loss="mse", sizes=(4, 5, 3, 2)):
    return fastnn.MLP(list(sizes), activation=hidden, output_activation=output, loss=loss,
                      backend=backend, dtype=dtype, init="normal", seed=5)


def run_model(data, X, activations=()):
    """The model's first output for ``X``, by ONNX Runtime where it has the kernels."""
    if X.dtype == np.float64 and set(activations) & set(NO_FLOAT64_IN_ONNXRUNTIME):
        return ReferenceEvaluator(onnx.load_from_string(data)).run(None, {"input": X})[0]
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})[0]


def backend_dtypes():
    return [(backend, dtype) for backend in BACKENDS for dtype in DTYPES
            if dtype in fastnn.backends.get(backend).dtypes]


# Every hidden activation (with an identity output), every output (after tanh layers).
ACTIVATION_PAIRS = [(hidden, "identity") for hidden in HIDDEN_ACTIVATIONS] + \
    [("tanh", output) for output in OUTPUT_ACTIVATIONS if output != "identity"]


# --- fastnn -> ONNX -> fastnn -----------------------------------------------------------


@pytest.mark.parametrize("hidden, output", ACTIVATION_PAIRS)
@pytest.mark.parametrize("backend, dtype", backend_dtypes())
def test_to_onnx_runs_as_the_network_and_reads_back(backend, dtype, hidden, output):
    net = network(hidden, output, backend, dtype=dtype)
    data = to_onnx(net)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    X = inputs(dtype)
    assert_same_outputs(run_model(data, X, (hidden, output)), net.forward(X), dtype)
    back = from_onnx(data, backend=backend)
    assert back.backend == backend
    assert back.spec == net.spec
    np.testing.assert_array_equal(back.flat_parameters, net.flat_parameters)
    assert_same_outputs(back.forward(X), net.forward(X), dtype)


def test_to_onnx_keeps_loss_and_classes_and_writes_the_file(tmp_path):
    net = network("relu", "softmax", "numpy", loss="mse", sizes=(4, 3))
    net.classes_ = np.array(["cat", "dog", "emu"])
    path = tmp_path / "net.onnx"
    data = to_onnx(net, path)
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]  # no temporary file left
    for source in (path, str(path), data, bytearray(data), memoryview(data),
                   onnx.load_from_string(data)):
        back = from_onnx(source, backend="numpy")
        assert back.spec.loss == "mse"
        np.testing.assert_array_equal(back.classes_, net.classes_)
    assert from_onnx(data, loss="cross_entropy").spec.loss == "cross_entropy"


def test_to_onnx_writes_an_exact_float64_leaky_relu():
    # ONNX's LeakyRelu takes a float32 slope; the float64 model must still match exactly.
    net = network("leaky_relu", "identity", "numpy")
    data = to_onnx(net)
    ops = [node.op_type for node in onnx.load_from_string(data).graph.node]
    assert "LeakyRelu" not in ops and "Max" in ops
    X = inputs(n_samples=40)
    np.testing.assert_allclose(run_model(data, X), net.forward(X), rtol=1e-15, atol=1e-15)
    float32_model = onnx.load_from_string(to_onnx(network("leaky_relu", "identity", "numpy",
                                                          dtype="float32")))
    assert "LeakyRelu" in [node.op_type for node in float32_model.graph.node]


# --- skl2onnx -> fastnn -----------------------------------------------------------------


def fitted(kind, dtype, activation="relu"):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 4)).astype(dtype)
    estimator, y = {
        "binary": (MLPClassifier((5,), activation=activation), rng.choice([3, 8], 24)),
        "multiclass": (MLPClassifier((5, 3), activation=activation),
                       rng.choice(["a", "b", "c"], 24)),
        "multilabel": (MLPClassifier((5,), activation=activation), rng.integers(0, 2, (24, 3))),
        "regression": (MLPRegressor(hidden_layer_sizes=(5,), activation=activation),
                       rng.standard_normal((24, 2))),
    }[kind]
    estimator.set_params(max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y), X


def network_output(estimator, X):
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        return proba[:, 1:] if estimator.n_outputs_ == 1 else proba
    return estimator.predict(X)


@pytest.mark.parametrize("kind, zipmap", [
    ("binary", True), ("binary", False), ("multiclass", True), ("multiclass", False),
    ("multilabel", True), ("multilabel", False), ("regression", None)])
@pytest.mark.parametrize("backend, dtype", backend_dtypes())
def test_from_onnx_reads_skl2onnx_models(backend, dtype, kind, zipmap):
    estimator, X = fitted(kind, dtype, activation="tanh" if kind == "binary" else "relu")
    options = None if zipmap is None else {"zipmap": zipmap}
    model = skl2onnx_convert(estimator, X[:1], options=options)
    net = from_onnx(model.SerializeToString(), backend=backend)
    assert net.spec.dtype == dtype
    assert_same_outputs(net.forward(X), network_output(estimator, X), dtype)
    if kind in ("binary", "multiclass"):
        np.testing.assert_array_equal(net.classes_, estimator.classes_)
        np.testing.assert_array_equal(net.predict(X), estimator.predict(X))
    else:
        assert net.classes_ is None
    # The model's probabilities as ONNX Runtime computes them (it has no float64 kernel
    # for the Binarizer of skl2onnx's multilabel labels).
    if zipmap is False and not (kind == "multilabel" and dtype == "float64"):
        session = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        probabilities = session.run(["probabilities"], {"X": X})[0]
        assert_same_outputs(net.predict_proba(X), probabilities, dtype)


# --- torch.onnx.export -> fastnn --------------------------------------------------------


def exported(module, X, **options):
    """``torch.onnx.export``'s model bytes for ``module`` and a sample input ``X``."""
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated
        torch.onnx.export(module, (torch.from_numpy(X),), buffer, input_names=["x"],
                          **options)
    return buffer.getvalue()


def torch_output(module, X):
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden, output", [(hidden, output) for hidden, output in ACTIVATION_PAIRS
                                            if output in TORCH_ACTIVATIONS])
def test_from_onnx_reads_the_torchscript_exporter(hidden, output, dtype):
    pytest.importorskip("torch")
    from fastnn.interop.torch import to_torch

    net = network(hidden, output, "numpy", dtype=dtype)
    module, X = to_torch(net), inputs(dtype)
    data = exported(module, X, dynamo=False, dynamic_axes={"x": {0: "N"}})
    back = from_onnx(data, backend="numpy", loss="mse")
    assert back.spec == net.spec
    np.testing.assert_array_equal(back.flat_parameters, net.flat_parameters)
    assert_same_outputs(back.forward(X), torch_output(module, X), dtype)


@pytest.mark.parametrize("hidden", [name for name in ("relu", "silu", "softplus")
                                    if name in HIDDEN_ACTIVATIONS])
def test_from_onnx_reads_the_dynamo_exporter(hidden):
    """The torch.export-based exporter (the default): no-bias Gemm, x * Sigmoid(x), and
    PyTorch's softplus threshold as Where(x > 20, x, Softplus(x))."""
    pytest.importorskip("onnxscript")  # this exporter needs it
    torch = pytest.importorskip("torch")
    nn = torch.nn
    activation = getattr(nn, TORCH_ACTIVATIONS[hidden].module)  # with PyTorch's default settings
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 5), activation(), nn.Linear(5, 3, bias=False),
                           activation(), nn.Linear(3, 2), nn.Softmax(dim=-1)).double()
    X = inputs()
    net = from_onnx(exported(module, X, dynamo=True, verbose=False), backend="numpy")
    assert (net.spec.activation, net.spec.output_activation) == (hidden, "softmax")
    assert_same_outputs(net.forward(X), torch_output(module, X), "float64")


# --- bad input --------------------------------------------------------------------------


def test_from_onnx_refuses_malformed_bytes():
    with pytest.raises(ValueError, match="not an ONNX model|not a valid ONNX model"):
        from_onnx(b"\x08\x07this is not a protobuf \xff\xff\xff")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        from_onnx(b"")


def test_from_onnx_refuses_every_truncation():
    data = to_onnx(network("relu", "softmax", "numpy", sizes=(3, 4, 2)))
    for length in range(0, len(data), max(1, len(data) // 60)):
        with pytest.raises(ValueError):
            from_onnx(data[:length])


def test_from_onnx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        from_onnx(tmp_path / "missing.onnx")


def test_from_onnx_refuses_huge_files_before_reading_them(tmp_path):
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as handle:
        handle.truncate(MAX_MODEL_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(ValueError, match="above the limit"):
        from_onnx(path)
    data = to_onnx(network("relu", "identity", "numpy"))
    with pytest.raises(ValueError, match="above the limit"):
        from_onnx(data, max_bytes=len(data) - 1)
    assert from_onnx(data, max_bytes=len(data)).spec.layer_sizes == (4, 5, 3, 2)


def test_from_onnx_refuses_other_sources():
    with pytest.raises(TypeError, match="path, bytes or an onnx.ModelProto"):
        from_onnx([1, 2, 3])


def test_from_onnx_refuses_external_data(tmp_path):
    model = onnx.load_from_string(to_onnx(network("relu", "identity", "numpy")))
    (tmp_path / "weights.bin").write_bytes(b"\0" * 4096)
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location="weights.bin")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    tensor.ClearField("double_data")
    path = tmp_path / "external.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ValueError, match="external data"):
        from_onnx(path)


def graph_model(nodes, initializers, n_inputs=3, n_outputs=2, dtype="float64", extra_inputs=()):
    element = ELEMENT_TYPES[dtype]
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info("x", element, ["N", n_inputs]), *extra_inputs],
        [helper.make_tensor_value_info("y", element, ["N", n_outputs])],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


W = {"W": np.ones((3, 2)), "b": np.zeros(2)}


@pytest.mark.parametrize("nodes, initializers, match", [
    ([helper.make_node("Conv", ["x", "W"], ["y"])], W, "ONNX node 'Conv' is not supported"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]), helper.make_node("Gelu", ["z"], ["y"])],
     W, "ONNX node 'Gelu' is not supported"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]),
      helper.make_node("LeakyRelu", ["z"], ["y"], alpha=0.2)],
     W, "'LeakyRelu' with alpha=0.2"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]),
      helper.make_node("Elu", ["z"], ["y"], alpha=0.5)],
     W, "'Elu' with alpha=0.5"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]),
      helper.make_node("Softmax", ["z"], ["y"], axis=0)],
     W, "'Softmax' with axis=0"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["y"], alpha=2.0)], W, "'Gemm'.*not supported"),
    ([helper.make_node("MatMul", ["x", "W"], ["y"])], {"W": np.ones((4, 2))},
     "input 'x' has 3 features but the first layer's weights take 4"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["y"])], {"W": np.ones((3, 2)), "b": np.ones(3)},
     r"bias of shape \(3,\)"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]),
      helper.make_node("Gemm", ["z", "W2", "b"], ["y"])],
     {**W, "W2": np.ones((3, 2))}, "layer 1 takes 3 inputs but the layer before it gives 2"),
    ([helper.make_node("MatMul", ["x", "W"], ["y"])], {"W": np.ones((3, 2), dtype=np.int64)},
     "dtype int64 are not supported"),
    ([helper.make_node("MatMul", ["x", "W"], ["y"])], {"W": np.full((3, 2), np.nan)},
     "NaN or infinity"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]), helper.make_node("Relu", ["z"], ["r"]),
      helper.make_node("Tanh", ["r"], ["y"])], W, "two activations in a row"),
    ([helper.make_node("Gemm", ["x", "W", "b"], ["z"]), helper.make_node("Relu", ["z"], ["y"]),
      helper.make_node("Tanh", ["z"], ["t"])], W, "branches at tensor 'z'"),
    ([helper.make_node("Relu", ["x"], ["y"])], {}, "'relu' does not follow a dense layer"),
    ([helper.make_node("Identity", ["x"], ["y"])], {}, "has no dense layer"),
])
def test_from_onnx_names_what_it_cannot_read(nodes, initializers, match):
    with pytest.raises(ValueError, match=match):
        from_onnx(graph_model(nodes, initializers))


def test_from_onnx_refuses_mixed_hidden_activations():
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["z0"]),
             helper.make_node("Relu", ["z0"], ["a0"]),
             helper.make_node("Gemm", ["a0", "W1", "b"], ["z1"]),
             helper.make_node("Tanh", ["z1"], ["a1"]),
             helper.make_node("Gemm", ["a1", "W1", "b"], ["y"])]
    with pytest.raises(ValueError, match=r"different activations \(relu, tanh\)"):
        from_onnx(graph_model(nodes, {**W, "W1": np.ones((2, 2))}))


def test_from_onnx_refuses_several_inputs():
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["y"])]
    extra = [helper.make_tensor_value_info("x2", TensorProto.DOUBLE, ["N", 3])]
    with pytest.raises(ValueError, match="has 2 inputs"):
        from_onnx(graph_model(nodes, W, extra_inputs=extra))


def test_from_onnx_refuses_nodes_off_the_chain():
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["y"]),
             helper.make_node("Sub", ["W", "W"], ["unused"]),
             helper.make_node("Abs", ["unused"], ["unused2"])]
    with pytest.raises(ValueError, match="ONNX node 'Abs'"):
        from_onnx(graph_model(nodes, W))


def test_from_onnx_reads_matmul_add_and_constant_nodes():
    nodes = [helper.make_node("Constant", [], ["Wc"],
                              value=numpy_helper.from_array(np.arange(6.0).reshape(3, 2))),
             helper.make_node("MatMul", ["x", "Wc"], ["m"]),
             helper.make_node("Add", ["b", "m"], ["z"]),
             helper.make_node("Identity", ["z"], ["i"]),
             helper.make_node("Sigmoid", ["i"], ["y"])]
    net = from_onnx(graph_model(nodes, {"b": np.array([[0.5, -0.5]])}), backend="numpy")
    np.testing.assert_array_equal(net.weights[0], np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(net.biases[0], [0.5, -0.5])
    assert (net.spec.output_activation, net.spec.loss) == ("sigmoid", "binary_cross_entropy")


def test_from_onnx_walks_long_chains_without_recursion():
    identities = [helper.make_node("Identity", [f"i{k}"], [f"i{k + 1}"]) for k in range(3000)]
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["i0"]), *identities,
             helper.make_node("Identity", ["i3000"], ["y"])]
    assert from_onnx(graph_model(nodes, W), backend="numpy").spec.layer_sizes == (3, 2)
