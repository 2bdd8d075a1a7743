"""The README's promises: CI runs its test command, and its library example runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _shell_commands(text):
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = _shell_commands(setup)
    assert len(commands) == 2
    assert "fastnn bench" in commands[0]
    assert commands[1].endswith("pytest")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_library_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use as a library", 1)[1]
    example = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example, "README example", "exec"), namespace)
    assert namespace["Y"].shape == (32, 10)
    assert (tmp_path / "digits.npz").exists()


def test_model_exchange_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Exchange models", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example, "README exchange example", "exec"), namespace)
    X, fitted, net = namespace["X"], namespace["fitted"], namespace["net"]
    assert abs(net.forward(X) - fitted.predict_proba(X)).max() < 1e-12
    assert (tmp_path / "model.onnx").read_bytes() == namespace["onnx_bytes"]
    again = type(net).from_onnx(tmp_path / "model.onnx")
    assert abs(again.forward(X) - net.forward(X)).max() < 1e-12
    torch = __import__("torch")
    with torch.no_grad():
        torch_output = namespace["module"](torch.from_numpy(X)).numpy()
    assert abs(torch_output - net.forward(X)).max() < 1e-12


def test_dask_search_example_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## On several machines (Dask)", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    namespace = {}
    exec(compile(example, "README Dask example", "exec"), namespace)
    assert set(namespace["best"]) == {"hidden_layer_sizes", "alpha"}
    assert namespace["search"].best_score_ > 0.5
