"""The README's library example trains real classifiers: check what its comments promise."""

import re
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_training_example_reaches_the_accuracy_it_states(tmp_path, monkeypatch):
    section = (ROOT / "README.md").read_text().split("## Use as a library", 1)[1]
    example = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the example must run without warnings
        exec(compile(example, "README example", "exec"), namespace)
    assert namespace["accuracy"] > 0.95
    assert namespace["pipeline_accuracy"] > 0.95
    curves = namespace["curves"]
    assert set(curves) == {"loss", "val_loss", "val_accuracy"}
    assert len(curves["loss"]) == len(curves["val_accuracy"]) <= 100
