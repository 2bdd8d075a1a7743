"""Peak traced memory of ``MLP.load`` refusing a small deflated ``.npz`` with junk members.

The review of issue 20 found every member inflated before the schema refused unknown
names (a 197 KB file grew memory by about 250 MB). Run from the repository root:

    python benchmarks/junk_npz_peak.py
"""

import io
import os
import tempfile
import tracemalloc
import zipfile

import numpy as np

from fastnn import MLP


def junk_file(folder, n_junk=3, junk_values=2**23):
    path = os.path.join(folder, "net.npz")
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    members = dict(np.load(path))
    for index in range(n_junk):
        members[f"junk{index}"] = np.zeros(junk_values)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            buffer = io.BytesIO()
            np.save(buffer, value)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


def main():
    with tempfile.TemporaryDirectory() as folder:
        path = junk_file(folder)
        tracemalloc.start()
        try:
            MLP.load(path)
        except ValueError as exc:
            print(f"refused: {exc}")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"file {os.path.getsize(path) / 1e3:.0f} KB, peak traced memory "
              f"{peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
