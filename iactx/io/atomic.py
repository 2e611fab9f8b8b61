"""Output files that appear only when complete."""

from __future__ import annotations

import errno
import functools
import os
import shutil
import tempfile
import warnings
from pathlib import Path

__all__ = ["AtomicOutput", "AtomicTextFile", "writes"]

#: a write that fails with less free space than this [bytes] is reported as a full file system: the HDF5
#: library behind netCDF4 and PyTables says only "HDF error", without the system's errno
LOW_SPACE_BYTES = 64 * 2**20


def writes(method):
    """Decorate a method of an :class:`AtomicOutput` that writes to its file.

    An ``OSError`` with ``ENOSPC`` or ``EDQUOT``, or a ``RuntimeError`` (an
    HDF5 failure) while less than :data:`LOW_SPACE_BYTES` are free, becomes
    ``OSError(ENOSPC)`` naming the output file and the free space.
    """

    @functools.wraps(method)
    def writing(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (OSError, RuntimeError) as err:
            try:
                free = shutil.disk_usage(self.path.parent).free
            except OSError:
                free = None
            full = isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)
            if full or (isinstance(err, RuntimeError) and free is not None and free < LOW_SPACE_BYTES):
                free_text = "" if free is None else f"; {free / 1e6:.1f} MB free in {self.path.parent}"
                raise OSError(errno.ENOSPC, f"no space left on device: {self.path} not written{free_text}") from err
            raise

    return writing


class AtomicOutput:
    """Base of writers whose file is written under a temporary name and renamed when complete.

    The temporary file, ``.<name>.<random>.part`` beside ``path``, is
    ``self._tmp``; :meth:`_publish` gives it the usual permissions and moves it
    to ``path`` -- without ``overwrite`` only if no other run created
    ``path`` meanwhile; :meth:`abort` removes it. Used as a context manager,
    an error or interruption inside the ``with`` block aborts, a normal end
    closes. Temporary files that a killed run left beside ``path`` are named
    in a warning. Methods that write are decorated with :func:`writes`, so
    that a full file system is reported as such.

    Parameters
    ----------
    path : str or Path
        The output file.
    overwrite : bool
        Replace an existing file (only once the new one is complete).

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    IsADirectoryError
        ``path`` is a directory.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """

    def __init__(self, path, *, overwrite=False):
        path = Path(os.fspath(path)).expanduser()
        if path.is_dir():
            raise IsADirectoryError(f"output {path} is a directory; give a file name")
        if path.exists() and not overwrite:
            raise FileExistsError(f"output file exists: {path} (pass overwrite=True to replace it)")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"output directory does not exist: {path.parent}")
        stale = sorted(p for p in path.parent.glob(f".{path.name}.*.part")  # not those of "<name>.<suffix>"
                       if "." not in p.name[len(path.name) + 2:-len(".part")])
        if stale:
            warnings.warn(f"temporary files of an interrupted run beside {path}: {', '.join(map(str, stale))} "
                          "(delete them unless another run is writing it now)", stacklevel=3)
        self.path = path
        self.overwrite = overwrite
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
        self._tmp = Path(tmp)

    def close(self):
        """Finish the file and move it to its final name; return the path.

        On an error the temporary file is removed.
        """
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        return self._publish()

    def _finish(self):
        """Write what remains to the temporary file and close it (subclasses)."""
        raise NotImplementedError

    def _publish(self):
        """Move the complete temporary file to ``path``; return ``path``.

        Raises
        ------
        FileExistsError
            Without ``overwrite``, when another run created ``path`` since
            this one started (the temporary file is removed).
        """
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual mode
        if self.overwrite:
            os.replace(self._tmp, self.path)
            return self.path
        try:
            os.link(self._tmp, self.path)  # fails if path exists: no run replaces another's output
        except FileExistsError:
            self.abort()
            raise FileExistsError(f"output file exists: {self.path} (another run wrote it while this one ran; "
                                  "pass overwrite=True to replace it)") from None
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if self.path.exists():  # a file system without hard links: check, then rename
                self.abort()
                raise FileExistsError(f"output file exists: {self.path} (pass overwrite=True to replace it)")
            os.replace(self._tmp, self.path)
            return self.path
        self._tmp.unlink()
        return self.path

    def abort(self):
        """Remove the temporary file; nothing is left behind.

        It is emptied first: after a failed close (a full disk) the HDF5
        library keeps its descriptor open, which would hold the file's
        space until the process ends.
        """
        try:
            os.truncate(self._tmp, 0)
        except FileNotFoundError:
            return
        self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class AtomicTextFile(AtomicOutput):
    """A text file (a log, say) that appears only complete, under the rules of :class:`AtomicOutput`.

    Examples
    --------
    >>> with AtomicTextFile("run.log", overwrite=True) as log:     # doctest: +SKIP
    ...     log.write("done\n")
    """

    @writes
    def write(self, text):
        """Write ``text`` to the file (it replaces what an earlier call wrote)."""
        self._tmp.write_text(text)

    def _finish(self):
        """Nothing to add: :meth:`write` wrote the file."""
