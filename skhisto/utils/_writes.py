"""Files and folders written whole or not at all, and the leftovers of killed writers.

Everything skhisto writes (cache shards, checkpoints, encoders, downloads,
stores, results) is made under a temporary name beside its target and moved
into place when complete, so a crash, a full disk or a second writer never
leaves a partial or foreign file behind, and files in a shared folder get the
permissions the user's umask asks for. The temporary holds an ``flock`` for
as long as its writer lives; a ``kill -9`` leaves it behind unlocked, and the
next writer in that folder removes it (:func:`sweep_orphans`).
"""

import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from ._constraints import PATH
from ._files import current_umask, io_error
from ._sklearn_compat import StrOptions, validate_params
from ._store import STORE

try:
    import fcntl
except ImportError:  # Windows: no flock; leftovers are not swept there
    fcntl = None

#: Names of skhisto's temporaries: ``.<target name>.<12 hex>.tmp``.
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")

#: A temporary untouched this long whose lock is free belongs to a dead writer.
#: (A live one locks it within microseconds of making it.)
ORPHAN_AGE_S = 60.0


def _lock(fd):
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass  # gone already, or another user's in a sticky folder


@validate_params({"path": PATH, "folder": ["boolean"]}, prefer_skip_nested_validation=True)
@contextmanager
def temporary_beside(path, *, folder=False):
    """A new temporary file or folder beside ``path``, removed on exit unless moved.

    It is named ``.<name>.<12 hex>.tmp`` in ``path``'s folder (one
    filesystem, so :func:`os.replace` moves it atomically), made with the
    permissions the umask allows, and locked for as long as this process
    lives, so :func:`sweep_orphans` never takes a live writer's file.

    Parameters
    ----------
    path : str or os.PathLike
        The target; its folder must exist.
    folder : bool, default=False
        Make a folder (a store built whole, then moved into place).

    Yields
    ------
    tmp : pathlib.Path
    fd : int
        An open descriptor of it, holding the lock (opened for writing when it
        is a file; None for a folder where there is no flock). Closed on exit:
        wrap it with ``os.fdopen(fd, mode, closefd=False)``.

    Raises
    ------
    OSError
        When the temporary cannot be made (callers name their target).

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> from skhisto.utils import temporary_beside
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "store.zarr"
    >>> with temporary_beside(target, folder=True) as (tmp, fd):
    ...     _ = (tmp / "data").write_text("complete")
    ...     os.replace(tmp, target)
    >>> (target / "data").read_text(), os.listdir(target.parent)
    ('complete', ['store.zarr'])
    """
    path = Path(path)
    sweep_orphans(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    if folder:
        os.mkdir(tmp, 0o777 & ~current_umask())
        fd = os.open(tmp, os.O_RDONLY) if fcntl is not None else None
    else:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~current_umask())
    try:
        if fd is not None:
            _lock(fd)
        yield tmp, fd
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)
        if fd is not None:
            os.close(fd)  # only now: the lock lasts until the temporary is moved or removed


@validate_params({"folder": PATH}, prefer_skip_nested_validation=True)
def sweep_orphans(folder):
    """Remove the temporaries that killed writers left in ``folder``, once per process.

    A temporary (``.<name>.<12 hex>.tmp``, file or folder) is removed when no
    process holds its lock and it has not changed for :data:`ORPHAN_AGE_S`
    seconds; anything else, and anything skhisto did not name, is left
    alone. Called by every write (:func:`temporary_beside`).

    Parameters
    ----------
    folder : str or os.PathLike

    Returns
    -------
    list of str
        The names removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import sweep_orphans
    >>> folder = tempfile.mkdtemp()
    >>> orphan = os.path.join(folder, ".run.npz.0123456789ab.tmp")
    >>> _ = open(orphan, "wb").write(b"half a checkpoint")
    >>> os.utime(orphan, (0, 0))  # left long ago by a killed process
    >>> sweep_orphans(folder)
    ['.run.npz.0123456789ab.tmp']
    """
    key = os.path.realpath(folder)
    if fcntl is None or key in STORE.swept:
        return []
    STORE.swept.add(key)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        if _TEMPORARY.match(entry.name) and _is_orphan(entry):
            _remove(entry.path)
            removed.append(entry.name)
    return sorted(removed)


def _is_orphan(entry):
    try:
        if not (entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False)):
            return False  # a FIFO or device is not ours, and opening it could block
        if time.time() - entry.stat(follow_symlinks=False).st_mtime < ORPHAN_AGE_S:
            return False
        fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        _lock(fd)
    except OSError:
        return False  # a live writer holds it
    else:
        return True
    finally:
        os.close(fd)


@validate_params(
    {"path": PATH, "mode": [StrOptions({"wb", "w"})]}, prefer_skip_nested_validation=True
)
@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` that replaces ``path`` on success.

    The temporary (:func:`temporary_beside`) has a unique name in the target
    folder (so several writers never share one), gets the permissions
    ``0o666 & ~umask`` (a shared folder stays readable by the group the umask
    allows), is fsynced, then moved over ``path`` with :func:`os.replace`. On
    any exception, ``KeyboardInterrupt`` included, it is removed and ``path``
    is untouched; after a ``kill -9`` the next write in the folder removes
    it. OS errors are re-raised naming ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Final file. Its directory must exist.
    mode : {"wb", "w"}, default="wb"

    Yields
    ------
    file object
        The open temporary file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skhisto.utils import atomic_write
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "result.txt"
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    try:
        with temporary_beside(path) as (tmp, fd), os.fdopen(fd, mode, closefd=False) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # still open, still locked: no sweeper takes it
    except OSError as exc:
        raise io_error(exc, "write", path) from exc
    _fsync_directory(path.parent)


def _fsync_directory(directory):
    # Makes the rename itself durable; not possible on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
