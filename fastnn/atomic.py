"""Atomic file writing: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a writer that fails or is killed part
way leaves the previous file (if any) untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode="wb", overwrite=True):
    """Open a temporary file that replaces ``path`` when the block exits cleanly.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text (UTF-8) mode.
    overwrite : bool
        If False, raise FileExistsError rather than replace an existing file.

    Yields
    ------
    file object
        Write the content to it; do not close it yourself.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if not overwrite and path.exists():
            raise FileExistsError(f"{path} appeared while writing; refusing to overwrite it")
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path, text, overwrite=True):
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path, "w", overwrite=overwrite) as handle:
        handle.write(text)


def atomic_write_bytes(path, data, overwrite=True):
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        handle.write(data)
