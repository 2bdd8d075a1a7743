"""Readers refuse what they cannot represent, with an error naming why (issue 20, item 2).

Each case here was accepted (or failed with an unrelated error) before: a Sequential
subclass or one Linear used twice was read as another network, a plain ``.npy`` file
raised a TypeError about context managers, version 1.5 loaded as version 1, a
directory or a float ``max_bytes`` raised unrelated errors, a file name given to
``from_sklearn`` raised an AttributeError from inside scikit-learn.
"""

import io
import json
import zipfile

import numpy as np
import pytest

from fastnn import MLP


def test_a_plain_npy_file_is_named_as_such(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match=r"single NumPy array \(\.npy\)"):
        MLP.load(path)


def test_a_directory_is_not_a_model_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        MLP.load(tmp_path)


@pytest.mark.parametrize("version", [1.5, 1.0, True])
def test_a_version_that_is_not_the_integer_1_is_refused(tmp_path, version):
    path, contents = _saved_model(tmp_path)
    np.savez(path, **{**contents, "version": np.array(version)})
    with pytest.raises(ValueError, match="model file version"):
        MLP.load(path)


def test_an_extra_member_is_named(tmp_path):
    path, contents = _saved_model(tmp_path)
    np.savez(path, **contents, script=np.array("print(1)"))
    with pytest.raises(ValueError, match="field 'script'"):
        MLP.load(path)


def test_a_spec_field_of_the_wrong_type_is_named(tmp_path):
    path, contents = _saved_model(tmp_path)
    spec = json.loads(str(contents["spec"]))
    contents["spec"] = np.array(json.dumps({**spec, "layer_sizes": [2, "3", 1]}))
    np.savez(path, **contents)
    with pytest.raises(ValueError, match="field 'spec.layer_sizes'"):
        MLP.load(path)


def test_a_header_larger_than_its_bytes_is_refused_before_allocating(tmp_path):
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    members = {f"{key}.npy": value for key, value in np.load(path).items()}
    header = io.BytesIO()  # params.npy claiming 2**50 float64 values, holding 13
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**50,)})
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in members.items():
            if name == "params.npy":
                archive.writestr(name, header.getvalue() + value.tobytes())
            else:
                buffer = io.BytesIO()
                np.save(buffer, value)
                archive.writestr(name, buffer.getvalue())
    with pytest.raises(ValueError, match="declares shape"):
        MLP.load(path)


def test_from_onnx_on_a_directory_is_a_clear_error(tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="is a directory"):
        MLP.from_onnx(tmp_path)


def test_from_onnx_refuses_an_input_type_its_layers_do_not_compute_in():
    """Found by tests/test_fuzz_files.py: no runtime runs such a graph; fastnn read it."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load_from_string(MLP([2, 3, 1], backend="numpy", seed=0).to_onnx())
    model.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    with pytest.raises(ValueError, match="is FLOAT but its layers compute in DOUBLE"):
        MLP.from_onnx(model.SerializeToString())


@pytest.mark.parametrize("max_bytes", [1e6, "1000", 10.0, True])
def test_from_onnx_wants_an_integer_max_bytes(max_bytes):
    pytest.importorskip("onnx")
    data = MLP([2, 3, 1], backend="numpy", seed=0).to_onnx()
    with pytest.raises(TypeError, match="max_bytes must be an integer"):
        MLP.from_onnx(data, max_bytes=max_bytes)
    with pytest.raises(ValueError, match="max_bytes must be at least 1"):
        MLP.from_onnx(data, max_bytes=0)
    assert MLP.from_onnx(data, max_bytes=np.int64(10**6)).layer_sizes == (2, 3, 1)


@pytest.mark.parametrize("source", ["model.pkl", b"model.pkl"])
def test_from_sklearn_on_a_file_name_names_what_it_expects(source, tmp_path):
    with pytest.raises(TypeError, match="not a file name.*never unpickles"):
        MLP.from_sklearn(source)
    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
        MLP.from_sklearn(object())
    with pytest.raises(TypeError, match="not a file name"):
        MLP.from_sklearn(tmp_path / "model.pkl")


class TestTorch:
    @pytest.fixture(autouse=True)
    def torch(self):
        return pytest.importorskip("torch")

    def test_a_sequential_subclass_with_its_own_forward_is_refused(self, torch):
        class Scaled(torch.nn.Sequential):
            def forward(self, x):
                return 2 * super().forward(x)

        with pytest.raises(ValueError, match="subclass of torch.nn.Sequential"):
            MLP.from_torch(Scaled(torch.nn.Linear(2, 3)))
        nested = torch.nn.Sequential(torch.nn.Linear(2, 3), Scaled(torch.nn.Linear(3, 1)))
        with pytest.raises(ValueError, match="position 1 is a Scaled"):
            MLP.from_torch(nested)

    def test_one_linear_used_twice_is_refused(self, torch):
        linear = torch.nn.Linear(3, 3)
        with pytest.raises(ValueError, match="Linear is used twice"):
            MLP.from_torch(torch.nn.Sequential(linear, torch.nn.ReLU(), linear))
        inner = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh())
        with pytest.raises(ValueError, match="used twice"):
            MLP.from_torch(torch.nn.Sequential(inner, inner))

    def test_a_forward_overridden_on_the_instance_is_refused(self, torch):
        """Found in review: only the class was checked, so these built other networks."""
        module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(),
                                     torch.nn.Linear(3, 1))
        original = module.forward
        module.forward = lambda x: 2 * original(x)
        with pytest.raises(ValueError, match="the module overrides forward on the instance"):
            MLP.from_torch(module)
        del module.forward
        linear_forward = module[2].forward
        module[2].forward = lambda x: linear_forward(x) + 1
        with pytest.raises(ValueError, match="Linear at position 2 overrides forward"):
            MLP.from_torch(module)
        del module[2].forward
        activation_forward = module[1].forward
        module[1].forward = lambda x: activation_forward(x) * 3
        with pytest.raises(ValueError, match="Tanh at position 1 overrides forward"):
            MLP.from_torch(module)

    def test_a_network_that_differs_on_the_probe_batch_is_refused(self, torch):
        from fastnn.interop.torch import check_equivalence, read_torch

        module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(),
                                     torch.nn.Linear(3, 1)).double()
        parts = read_torch(module)
        check_equivalence(module, parts, torch)  # what it built: the same outputs
        with torch.no_grad():
            module[2].bias += 1e-6  # a network that differs slightly
        with pytest.raises(ValueError, match="on a probe batch its output .* differs"):
            check_equivalence(module, parts, torch)

    def test_one_activation_module_shared_between_layers_is_read(self, torch):
        """``act = nn.ReLU()`` used after every layer is a common, correct pattern."""
        act = torch.nn.ReLU()
        module = torch.nn.Sequential(torch.nn.Linear(2, 4), act, torch.nn.Linear(4, 3), act,
                                     torch.nn.Linear(3, 1)).double()
        net = MLP.from_torch(module, backend="numpy")
        assert net.spec.activation == "relu" and net.spec.layer_sizes == (2, 4, 3, 1)
        X = np.random.default_rng(1).standard_normal((6, 2))
        with torch.no_grad():
            expected = module(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(net.forward(X), expected, rtol=1e-12, atol=1e-14)

    def test_forward_hooks_are_refused(self, torch):
        module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(),
                                     torch.nn.Linear(3, 1))
        handle = module[2].register_forward_hook(lambda mod, inputs, output: 2 * output)
        with pytest.raises(ValueError, match="forward hooks"):
            MLP.from_torch(module)
        handle.remove()
        net = MLP.from_torch(module, backend="numpy")
        X = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
        with torch.no_grad():
            expected = module(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(net.forward(X), expected, rtol=1e-5, atol=1e-6)

    def test_shared_weights_in_distinct_modules_are_read(self, torch):
        first = torch.nn.Linear(3, 3, dtype=torch.float64)
        second = torch.nn.Linear(3, 3, dtype=torch.float64)
        second.weight = first.weight  # distinct modules, one parameter: computed as written
        module = torch.nn.Sequential(first, torch.nn.Tanh(), second)
        net = MLP.from_torch(module, backend="numpy")
        X = np.random.default_rng(1).standard_normal((4, 3))
        with torch.no_grad():
            np.testing.assert_allclose(net.forward(X), module(torch.from_numpy(X)).numpy(),
                                       rtol=1e-12)


def _write_members(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            buffer = io.BytesIO()
            np.save(buffer, value)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def test_unknown_members_are_refused_before_any_data_is_read(tmp_path, monkeypatch):
    """A small deflated archive of large junk members was inflated in full (253 MB for
    197 KB) before the schema refused their names; now no member's data is read."""
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    members = {**dict(np.load(path)), "junk": np.zeros(2**16)}
    _write_members(path, members)
    reads = []
    monkeypatch.setattr(np, "frombuffer",
                        lambda *args, **kwargs: reads.append(args) or pytest.fail("read"))
    with pytest.raises(ValueError, match="field 'junk' is not a field"):
        MLP.load(path)
    assert reads == []


def test_the_params_member_is_bounded_by_the_spec(tmp_path):
    """A params member holding more values than the spec's parameter count is refused
    from its header, before its (deflated, large) data is inflated."""
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    members = {**dict(np.load(path)), "params": np.zeros(2**20)}
    _write_members(path, members)
    with pytest.raises(ValueError, match=r"declares shape \(1048576,\).*expected 13 values"):
        MLP.load(path)


def test_a_large_metadata_member_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    members = {**dict(np.load(path)), "spec": np.array("x" * 2**18)}
    _write_members(path, members)
    with pytest.raises(ValueError, match="member 'spec' is .* bytes, above the limit"):
        MLP.load(path)


def _saved_model(tmp_path):
    """A small network's model file and its members, to be rewritten by a test."""
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    with np.load(path) as archive:
        return path, dict(archive)
