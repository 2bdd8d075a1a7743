"""The report folder, replaced only as a whole.

Files are written (each atomically) into a hidden temporary folder next to the target;
only when every file is written does the temporary folder take the target's place. A
run that fails, or is interrupted, leaves the previous report untouched. The target is
checked before any work starts, so a bad ``--out`` fails fast.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from fastnn.atomic import atomic_write, atomic_write_text

# What a report folder may hold; anything else means it is not ours to replace.
REPORT_SUFFIXES = (".md", ".png", ".json")
# Report files are for reading by anyone (the temporary files they start as are private).
FILE_MODE = 0o644
FOLDER_MODE = 0o755


class ReportFolder:
    """A temporary folder that becomes ``target`` on :meth:`commit`.

    Parameters
    ----------
    target : str or os.PathLike
        The report folder. It may exist only as a folder of report files (``.md``,
        ``.png``, ``.json``); missing parent folders are created on commit.

    Raises
    ------
    ValueError
        If ``target`` is a file, holds anything but report files, or sits under a file.
    PermissionError
        If the folder it would go into cannot be written.
    """

    def __init__(self, target):
        self.target = Path(target).absolute()
        _check_replaceable(self.target)
        anchor = _nearest_existing_folder(self.target.parent)
        if not os.access(anchor, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write the report to {self.target}: "
                                  f"{anchor} is not writable")
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".tmp",
                                          dir=anchor))

    def write_text(self, name, text):
        """Write ``name`` (UTF-8) into the folder, atomically."""
        atomic_write_text(self.path / name, text)
        os.chmod(self.path / name, FILE_MODE)

    def write_figure(self, name, figure):
        """Save a matplotlib figure as PNG, atomically."""
        with atomic_write(self.path / name, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
        os.chmod(self.path / name, FILE_MODE)

    def commit(self):
        """Put the written folder in the target's place (replacing an old report)."""
        _check_replaceable(self.target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, FOLDER_MODE)
        old = None
        if self.target.exists():
            old = self.path.with_name(self.path.name + ".old")
            os.replace(self.target, old)
        try:
            os.replace(self.path, self.target)
        except BaseException:
            if old is not None:
                os.replace(old, self.target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self):
        """Remove the temporary folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def report_folder(target):
    """A :class:`ReportFolder` committed if the block succeeds and discarded if it fails."""
    folder = ReportFolder(target)
    try:
        yield folder
        folder.commit()
    finally:
        folder.discard()


def _check_replaceable(target):
    if not target.exists():
        if target.is_symlink():
            raise ValueError(f"--out {target} is a broken symbolic link")
        return
    if not target.is_dir():
        raise ValueError(f"--out {target} exists and is not a folder")
    foreign = sorted(entry.name for entry in target.iterdir()
                     if not entry.is_file() or entry.suffix not in REPORT_SUFFIXES)
    if foreign:
        raise ValueError(f"refusing to replace {target}: it holds files that are not a "
                         f"reproduce report ({', '.join(foreign[:5])}); choose another --out")


def _nearest_existing_folder(path):
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ValueError(f"cannot write the report under {candidate}: it is a file, "
                                 f"not a folder")
            return candidate
    raise ValueError(f"no existing folder above {path}")
