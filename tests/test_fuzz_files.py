"""Fuzzing the file readers (hypothesis): model-file bytes and ONNX bytes, every backend.

A reader given any bytes either builds a network that computes, on every backend that
computes in its dtype, what the reference computes, or raises ValueError (TypeError
for a wrong argument type): never another exception, never a crash, never a network
from a file it could not represent. Each example is loaded on every backend.

The budget follows the hypothesis profile (tests/conftest.py): a fifth of its
``max_examples`` per test (30 in the default profile, 600 under ``tox -e fuzz``).
The outcomes are counted in the "fuzz outcomes" section of the run's summary.
"""

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS, FUZZ_OUTCOMES, REFERENCE
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fastnn import MLP

BUDGET = settings(max_examples=max(10, settings.default.max_examples // 5),
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
# Seed networks: the activations every other test compiles (no new Numba kernels here).
SEEDS = [MLP([3, 4, 2], activation="sigmoid", output_activation="sigmoid", seed=0,
             backend="numpy"),
         MLP([2, 3, 1], activation="tanh", output_activation="identity", seed=1,
             backend="numpy", dtype="float32")]
X = np.random.default_rng(0).random((2, 3))


def _saved_bytes(net):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.npz"
        net.save(path)
        return path.read_bytes()


SEED_FILES = [_saved_bytes(net) for net in SEEDS]


def _mutated(data, draw):
    """``data`` with a few bytes changed, a slice removed or bytes inserted, or cut."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:]
    return bytes(data)


def _check_on_every_backend(load, outcome_prefix):
    """Load on every backend; the networks built must agree with the reference's. When
    some backends load and others refuse, each refusal must be the one expected: a
    backend that does not compute in the network's dtype (the python backend and float32)."""
    built, refusals = {}, {}
    for name in BACKENDS:
        try:
            built[name] = load(name)
        except ValueError as exc:
            refusals[name] = exc
        except TypeError as exc:
            pytest.fail(f"{name}: TypeError from bytes: {exc}")
    # One outcome per example: loaded (on how many backends), or refused (why).
    FUZZ_OUTCOMES[f"{outcome_prefix}: loaded on {len(built)} of {len(BACKENDS)} backends"
                  if built else
                  f"{outcome_prefix}: refused ({_kind(next(iter(refusals.values())))})"] += 1
    if built:
        dtype = next(iter(built.values())).spec.dtype
        for name, exc in refusals.items():
            assert f"backend {name!r} computes in" in str(exc) and dtype in str(exc), \
                f"{name} refused what {', '.join(built)} loaded: {exc}"
    if not built:
        return
    reference = next(iter(built.values()))
    inputs = X[:, :reference.layer_sizes[0]] if reference.layer_sizes[0] <= 3 else \
        np.ones((2, reference.layer_sizes[0]))
    outputs = {name: net.forward(inputs.astype(net.spec.dtype)) for name, net in built.items()}
    first = outputs[REFERENCE] if REFERENCE in outputs else next(iter(outputs.values()))
    for name, out in outputs.items():
        assert np.all(np.isfinite(out)) or not np.all(np.isfinite(first)), name
        np.testing.assert_allclose(out, first, rtol=1e-4, atol=1e-6, err_msg=name)
    for net in built.values():  # every backend read the same network
        assert net.spec == reference.spec
        np.testing.assert_array_equal(net.flat_parameters, reference.flat_parameters)


def _kind(exc):
    text = str(exc)
    for marker in ("not a readable", "not a fastnn model file", "version", "spec",
                   "field", "do not match", "NaN", "computes in", "directory", "ONNX",
                   "not supported", "is not", "protobuf"):
        if marker in text:
            return marker
    return "other"


@BUDGET
@given(data=st.data())
def test_mutated_model_files_load_or_are_refused(tmp_path_factory, data):
    """The one raw-bytes target, for robustness: the zip's checksums refuse almost every
    example (no load is expected); nothing but a ValueError may come out."""
    seed = data.draw(st.sampled_from(range(len(SEED_FILES))))
    path = tmp_path_factory.mktemp("fuzz") / "net.npz"
    path.write_bytes(_mutated(SEED_FILES[seed], data.draw))
    _check_on_every_backend(lambda name: MLP.load(path, backend=name), "model file bytes")


@st.composite
def members(draw):
    """The members of a model file: mostly valid, each one possibly wrong or missing."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    spec = {"layer_sizes": sizes, "activation": "sigmoid", "output_activation": "sigmoid",
            "loss": "mse", "dtype": draw(st.sampled_from(["float64", "float32"]))}
    contents = {"format": np.array("fastnn-mlp"), "version": np.array(1),
                "spec": np.array(json.dumps(spec)),
                "params": draw(st.sampled_from([np.float64, np.float32])).__call__(
                    np.linspace(-1, 1, count))}
    for name in draw(st.sets(st.sampled_from(sorted(WRONG)), max_size=2)):
        contents[name] = draw(WRONG[name](spec, count))
    for name in draw(st.sets(st.sampled_from(sorted(contents)), max_size=1)):
        if draw(st.booleans()):
            del contents[name]
    return contents


def _spec_with(spec, change):
    return change.map(lambda value: np.array(json.dumps({**spec, **value})))


WRONG = {
    "format": lambda spec, count: st.text(max_size=12).map(np.array),
    "version": lambda spec, count: st.sampled_from(
        [np.array(1.0), np.array(1.5), np.array("1"), np.array([1]), np.array(2),
         np.array(True), np.array(-1)]),
    "spec": lambda spec, count: st.one_of(
        _spec_with(spec, st.fixed_dictionaries({"layer_sizes": st.lists(st.one_of(
            st.integers(-2, 5), st.just(10**12), st.floats(1, 4), st.text(max_size=2)),
            max_size=4)})),
        _spec_with(spec, st.fixed_dictionaries(
            {"activation": st.sampled_from(["nope", 3, None])})),
        _spec_with(spec, st.fixed_dictionaries(
            {"dtype": st.sampled_from(["int8", "float16", ""])})),
        _spec_with(spec, st.fixed_dictionaries({"extra": st.integers()})),
        st.text(max_size=20).map(np.array)),
    "params": lambda spec, count: st.sampled_from([
        np.ones(count + 1), np.ones((1, count)), np.arange(count), np.full(count, np.nan),
        np.array(["a"] * count), np.full(count, 1e300), np.ones(count, dtype=np.float16),
        np.ones(count, dtype=">f8"), np.ones(0)]),
    "extra": lambda spec, count: st.just(np.zeros(2)),
}


@BUDGET
@given(contents=members())
def test_model_files_of_random_members_load_or_are_refused(tmp_path_factory, contents):
    path = tmp_path_factory.mktemp("fuzz") / "net.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in contents.items():
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    _check_on_every_backend(lambda name: MLP.load(path, backend=name), "model file members")


def _data_offset(npy):
    """Where the data of an ``.npy`` member starts (after its magic and header)."""
    handle = io.BytesIO(npy)
    version = np.lib.format.read_magic(handle)
    (np.lib.format.read_array_header_1_0 if version == (1, 0)
     else np.lib.format.read_array_header_2_0)(handle)
    return handle.tell()


def _mutated_values(npy, draw):
    """``npy`` with a few bytes of its data replaced: same header and length, so the
    container stays valid and most mutations load (other values, possibly NaN or huge)."""
    start = _data_offset(npy)
    data = bytearray(npy)
    for _ in range(draw(st.integers(1, 3))):
        if start < len(data):
            data[draw(st.integers(start, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@BUDGET
@given(data=st.data())
def test_model_files_with_mutated_member_values_load_or_are_refused(tmp_path_factory, data):
    """Bytes changed inside a member's data (re-zipped with fresh checksums): a valid
    container holding other values; most load and are compared on every backend."""
    seed = SEED_FILES[data.draw(st.sampled_from(range(len(SEED_FILES))))]
    path = tmp_path_factory.mktemp("fuzz") / "net.npz"
    with zipfile.ZipFile(io.BytesIO(seed)) as source, zipfile.ZipFile(path, "w") as archive:
        names = source.namelist()
        # Mostly the parameters (what a corrupted file most often differs in).
        target = data.draw(st.sampled_from(["params.npy"] * 3 + sorted(names)))
        for name in names:
            content = source.read(name)
            archive.writestr(name, _mutated_values(content, data.draw) if name == target
                             else content)
    _check_on_every_backend(lambda name: MLP.load(path, backend=name), "model member values")


@pytest.fixture(scope="module")
def onnx_seeds():
    pytest.importorskip("onnx")
    return [net.to_onnx() for net in SEEDS]


@BUDGET
@given(data=st.data())
def test_onnx_models_with_mutated_initializer_values_load_or_are_refused(onnx_seeds, data):
    """Values changed inside an initializer at the proto level (a valid model holding other
    weights): most load and must agree on every backend."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load_from_string(onnx_seeds[data.draw(st.sampled_from(range(len(onnx_seeds))))])
    tensor = data.draw(st.sampled_from(list(model.graph.initializer)))
    values = onnx.numpy_helper.to_array(tensor).copy()
    raw = bytearray(values.tobytes())
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    changed = np.frombuffer(bytes(raw), dtype=values.dtype).reshape(values.shape)
    tensor.CopyFrom(onnx.numpy_helper.from_array(changed, tensor.name))
    mutated = model.SerializeToString()
    _check_on_every_backend(lambda name: MLP.from_onnx(mutated, backend=name),
                            "ONNX initializer values")


# Structural mutations of an ONNX model: what a reader could misread rather than
# fail to parse. A graph that loads must compute what ONNX Runtime computes.
ONNX_OPS = ["Relu", "Abs", "Softmax", "Gemm", "MatMul", "Add", "Identity", "Sigmoid",
            "Tanh", "LeakyRelu", "Exp", "Neg", "Mul"]


def _mutate_graph(model, draw, onnx):
    graph = model.graph
    kind = draw(st.sampled_from(["dims", "dtype", "op", "drop", "attribute", "input",
                                 "nan", "elem_type"]))
    if kind == "dims":
        tensor = draw(st.sampled_from(list(graph.initializer)))
        index = draw(st.integers(0, len(tensor.dims) - 1))
        tensor.dims[index] = draw(st.integers(0, 6))
    elif kind == "dtype":
        tensor = draw(st.sampled_from(list(graph.initializer)))
        tensor.data_type = draw(st.sampled_from([1, 6, 7, 10, 11, 8]))
    elif kind == "op":
        node = draw(st.sampled_from(list(graph.node)))
        node.op_type = draw(st.sampled_from(ONNX_OPS))
    elif kind == "drop":
        del graph.node[draw(st.integers(0, len(graph.node) - 1))]
    elif kind == "attribute":
        node = draw(st.sampled_from(list(graph.node)))
        name = draw(st.sampled_from(["alpha", "beta", "transA", "transB", "axis"]))
        value = draw(st.sampled_from([0, 1, -1, 2, 0.5, 2.0]))
        del node.attribute[:]
        node.attribute.append(onnx.helper.make_attribute(name, value))
    elif kind == "input":
        node = draw(st.sampled_from(list(graph.node)))
        if node.input:
            node.input[draw(st.integers(0, len(node.input) - 1))] = draw(
                st.sampled_from(["input", "output", "W0", "b0", "nothing"]))
    elif kind == "nan":
        tensor = draw(st.sampled_from(list(graph.initializer)))
        values = onnx.numpy_helper.to_array(tensor).copy()
        if values.size:
            values.flat[0] = np.nan
            tensor.CopyFrom(onnx.numpy_helper.from_array(values, tensor.name))
    else:
        graph.input[0].type.tensor_type.elem_type = draw(st.sampled_from([1, 6, 7, 10, 11]))
    return model


@BUDGET
@given(data=st.data())
def test_structurally_mutated_onnx_graphs_load_and_agree_with_onnxruntime_or_are_refused(
        onnx_seeds, data):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load_from_string(onnx_seeds[data.draw(st.sampled_from(range(2)))])
    for _ in range(data.draw(st.integers(1, 2))):
        try:
            model = _mutate_graph(model, data.draw, onnx)
        except ValueError:  # a second mutation that cannot apply to the first's result
            assume(False)
    mutated = model.SerializeToString()
    loaded = {}
    _check_on_every_backend(lambda name: loaded.setdefault(
        name, MLP.from_onnx(mutated, backend=name)), "ONNX graph")
    if not loaded:
        return
    net = next(iter(loaded.values()))
    inputs = np.random.default_rng(2).random((3, net.layer_sizes[0])).astype(net.spec.dtype)
    try:
        session = ort.InferenceSession(mutated, providers=["CPUExecutionProvider"])
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        # Valid ONNX that ONNX Runtime has no kernel for (LeakyRelu in float64).
        FUZZ_OUTCOMES["ONNX graph: loaded, ONNX Runtime lacks a kernel"] += 1
        return
    (expected,) = session.run(None, {session.get_inputs()[0].name: inputs})[:1]
    np.testing.assert_allclose(net.forward(inputs), expected, rtol=1e-5, atol=1e-6)
