"""Optional dependencies: imported only by the converters that need them, with a clear
error naming the pip extra when they are missing."""

import subprocess
import sys

import pytest

import fastnn
from fastnn.optional import import_optional

OPTIONAL = ("torch", "onnx", "onnxruntime", "skl2onnx", "onnxscript")


def test_import_fastnn_imports_no_optional_package():
    code = ("import sys, fastnn, fastnn.interop, fastnn.optional; "
            f"print([name for name in {OPTIONAL!r} if name in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_import_optional_returns_the_module():
    assert import_optional("json").dumps([1]) == "[1]"


def test_a_missing_package_names_the_extra_to_install():
    with pytest.raises(ImportError, match=r'pip install "fastnn\[onnx\]"') as info:
        import_optional("fastnn_no_such_package", extra="onnx", purpose="the test")
    assert "the test needs the optional package 'fastnn_no_such_package'" in str(info.value)
    with pytest.raises(ImportError, match="pip install fastnn_no_such_package"):
        import_optional("fastnn_no_such_package")


@pytest.mark.parametrize("package, extra, convert", [
    ("onnx", "onnx", lambda net: fastnn.interop.onnx.to_onnx(net)),
    ("onnx", "onnx", lambda net: fastnn.MLP.from_onnx(b"")),
    ("torch", "torch", lambda net: fastnn.interop.torch.to_torch(net)),
    ("torch", "torch", lambda net: fastnn.MLP.from_torch(None)),
])
def test_converters_without_their_package_say_what_to_install(monkeypatch, package, extra,
                                                              convert):
    import fastnn.interop  # noqa: F401  (the converters' modules import nothing optional)

    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    net = fastnn.MLP([2, 1], backend="numpy")
    with pytest.raises(ImportError, match=rf'pip install "fastnn\[{extra}\]"'):
        convert(net)
