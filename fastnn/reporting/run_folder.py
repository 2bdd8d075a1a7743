"""The run folder: built in a hidden staging folder, renamed into place when complete.

Every command that writes a report (``fastnn bench``, ``report``, ``reproduce``) writes
through :class:`RunFolder`. Files go (each atomically) into a staging folder next to
the target; only when the block succeeds does the staging folder take the target's
place, so a run that fails or is interrupted leaves nothing behind and the previous
folder untouched. The target is checked before any work starts, so a bad ``--out``
fails fast.

One replace policy: an existing folder is never replaced without ``force`` (it may be
a saved baseline), except a folder of report files that the caller declares its own
(``replaces=``): ``fastnn reproduce`` replaces its report folder as a whole by default,
and refuses a folder holding anything else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from fastnn.atomic import atomic_write, atomic_write_bytes, atomic_write_text

# Report files are for reading by anyone (the temporary files they start as are private).
FILE_MODE = 0o644
FOLDER_MODE = 0o755
# The suffixes of a folder fastnn reproduce may replace without --force.
REPORT_SUFFIXES = (".md", ".png", ".json")


class RunFolder:
    """A staging folder that becomes ``path`` when the ``with`` block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        The final folder, e.g. ``reports/baseline``. Missing parents are created on
        commit.
    force : bool
        Replace an existing folder, whatever it holds.
    replaces : tuple of str or None
        Suffixes of the files of a folder this caller may replace without ``force``
        (e.g. :data:`REPORT_SUFFIXES`); an existing folder holding anything else is
        refused. None: an existing folder is refused unless ``force``.

    Raises
    ------
    FileExistsError
        If ``path`` exists, ``force`` is False and ``replaces`` is None.
    ValueError
        If ``path`` is not a folder, holds files that are not ours to replace, or lies
        under a file.
    PermissionError
        If the folder it would go into cannot be written.

    Examples
    --------
    >>> with RunFolder("reports/run") as staging:   # doctest: +SKIP
    ...     staging.write_text("report.md", text)
    """

    def __init__(self, path, force=False, replaces=None):
        self.path = Path(path)
        self.target = self.path.absolute()
        self.force = force
        self.replaces = replaces
        self.staging = None
        self._check_replaceable()
        self._anchor = _nearest_existing_folder(self.target.parent, self.path)
        if not os.access(self._anchor, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write the output folder {self.path}: "
                                  f"{self._anchor} is not writable")

    def __enter__(self):
        try:
            folder = tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=self._anchor)
        except OSError as exc:
            raise ValueError(f"cannot write the output folder {self.path}: "
                             f"{exc.strerror or exc}") from None
        self.staging = Staging(Path(folder), self.target)
        return self.staging

    def __exit__(self, exc_type, exc, traceback):
        try:
            if exc_type is None:
                self._commit()
        finally:
            shutil.rmtree(self.staging.path, ignore_errors=True)
        return False

    def _check_replaceable(self):
        target = self.target
        if not target.exists():
            if target.is_symlink():
                raise ValueError(f"--out {self.path} is a broken symbolic link")
            return
        if not target.is_dir():
            raise ValueError(f"--out {self.path} exists and is not a folder")
        if self.force:
            return
        if self.replaces is None:
            raise FileExistsError(f"{self.path} exists (a saved run or baseline); choose "
                                  f"another --out or pass --force to replace it")
        foreign = sorted(entry.name for entry in target.iterdir()
                         if not entry.is_file() or entry.suffix not in self.replaces)
        if foreign:
            raise ValueError(f"refusing to replace {self.path}: it holds files that are not "
                             f"its report ({', '.join(foreign[:5])}); choose another --out")

    def _commit(self):
        existed = self.target.exists()
        try:
            self._check_replaceable()
        except FileExistsError:
            raise FileExistsError(f"{self.path} appeared while the run was being written; "
                                  f"refusing to replace it") from None
        created = _make_parents(self.target.parent)
        _publish_permissions(self.staging.path)
        old = None
        if existed or self.target.exists():
            old = self.staging.path.with_name(self.staging.path.name + ".old")
            os.replace(self.target, old)
        try:
            os.replace(self.staging.path, self.target)
        except BaseException:
            if old is not None:
                os.replace(old, self.target)
            _remove_folders(created)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


class Staging:
    """The folder being written; ``staging / "name"`` is the path of a file in it.

    Attributes
    ----------
    path : Path
        The staging folder itself.
    target : Path
        Where it will be renamed to (absolute).
    """

    def __init__(self, path, target):
        self.path = path
        self.target = target

    def __truediv__(self, name):
        return self.path / name

    def __fspath__(self):
        return str(self.path)

    def write_text(self, name, text):
        """Write ``name`` (UTF-8) into the folder, atomically."""
        atomic_write_text(self._file(name), text)

    def write_bytes(self, name, data):
        """Write ``name`` into the folder, atomically."""
        atomic_write_bytes(self._file(name), data)

    def write_figure(self, name, figure, dpi=100):
        """Save a matplotlib Figure as PNG, atomically."""
        with atomic_write(self._file(name), "wb") as handle:
            figure.savefig(handle, format="png", dpi=dpi)

    def _file(self, name):
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def __repr__(self):
        return f"<Staging {self.path} -> {self.target}>"


def _nearest_existing_folder(path, shown):
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ValueError(f"cannot write the output folder {shown}: {candidate} "
                                 f"is a file, not a folder")
            return candidate
    raise ValueError(f"cannot write the output folder {shown}: no existing folder above it")


def _make_parents(folder):
    """Create ``folder`` and its missing parents; returns those created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for created in missing:
        created.mkdir()
    return missing


def _remove_folders(folders):
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _publish_permissions(folder):
    """Readable by anyone: mkdtemp and the atomic writes make private folders and files."""
    os.chmod(folder, FOLDER_MODE)
    for path in Path(folder).rglob("*"):
        os.chmod(path, FOLDER_MODE if path.is_dir() else FILE_MODE)


class LiveFolder(Staging):
    """A run folder written in place, for a sweep that must keep its finished parts.

    A distributed sweep writes each case as it finishes, so that Ctrl-C or a lost
    scheduler leaves them for ``--resume``: its folder cannot be a staging folder that
    vanishes on failure. The same checks as :class:`RunFolder` apply before it is made.
    """

    @classmethod
    def create(cls, path, force=False):
        """Make the folder ``path`` (replacing an existing one only if ``force``)."""
        checked = RunFolder(path, force=force)
        if checked.target.exists():
            shutil.rmtree(checked.target)
        _make_parents(checked.target)
        return cls(checked.target, checked.target)

    @classmethod
    def reopen(cls, path):
        """The existing folder ``path``, to be written further."""
        target = Path(path).absolute()
        return cls(target, target)

    def publish(self):
        """Make the folder and its files readable by anyone (as :class:`RunFolder` does)."""
        _publish_permissions(self.path)
