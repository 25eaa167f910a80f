"""Files read safely: regular files only, trusted owners, writable folders, clear I/O errors."""

import errno
import os
import stat
import tempfile
from pathlib import Path

from ._constraints import PATH
from ._sklearn_compat import validate_params


def current_umask():
    """The process umask, read without changing it where the OS allows.

    Examples
    --------
    >>> import os
    >>> from skhisto.utils import current_umask
    >>> mask = current_umask()
    >>> mask == os.umask(mask)  # os.umask sets and returns the previous value
    True
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no race-free way elsewhere: set and restore at once
    os.umask(mask)
    return mask


class NotRegularFileError(OSError):
    """An input path is a FIFO, device, socket or directory, not a regular file.

    Reading one could hang (a FIFO without a writer) or never end (``/dev/zero``),
    so such paths are refused by name before anything is read.

    Examples
    --------
    >>> from skhisto.utils import NotRegularFileError, check_regular_file
    >>> try:
    ...     check_regular_file("/dev/null", "image")
    ... except NotRegularFileError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    The image '/dev/null' is a character device, not a regular file: ...
    """


class _DirectoryError(NotRegularFileError, IsADirectoryError):
    """A directory where a file was expected (``except IsADirectoryError`` catches it)."""

    def __reduce__(self):  # by a function: the class's shown name is its parent's
        return _directory_error, self.args


def _directory_error(*args):
    return _DirectoryError(*args)


# Shown as what it is to users: a NotRegularFileError (a FIFO shows the same name).
_DirectoryError.__name__ = _DirectoryError.__qualname__ = "NotRegularFileError"


_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def _refuse_special(mode, path, what):
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "special file")
    error = _DirectoryError if stat.S_ISDIR(mode) else NotRegularFileError
    raise error(
        f"The {what} {os.fspath(path)!r} is a {kind}, not a regular file: skhisto reads regular "
        "files only."
    )


@validate_params({"path": PATH, "what": [str]}, prefer_skip_nested_validation=True)
def check_regular_file(path, what="file"):
    """Refuse ``path`` by name if it exists and is not a regular file (symlinks followed).

    A missing path passes: whoever reads it reports it missing.

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.utils import check_regular_file
    >>> check_regular_file(tempfile.mkstemp()[1], "image")
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL or unencodable character, so no such file
        return
    _refuse_special(mode, path, what)


@validate_params({"path": PATH, "what": [str]}, prefer_skip_nested_validation=True)
def open_regular(path, what="file"):
    """Open a user's input file for binary reading, refusing anything but a regular file.

    The file is opened without blocking (a FIFO with no writer would block
    ``open`` itself) and checked on the open descriptor, so a path swapped
    for a FIFO or a device after a check is refused too.

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.utils import open_regular
    >>> path = tempfile.mkstemp()[1]
    >>> with open_regular(path, "image") as f:
    ...     f.read()
    b''
    """
    check_regular_file(path, what)  # a socket cannot even be opened: name it first
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        _refuse_special(os.fstat(fd).st_mode, path, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
        f.raw.name = os.fspath(path)  # decoders name the file, not the descriptor
        return f
    except BaseException:
        os.close(fd)
        raise


@validate_params(
    {"exc": [Exception], "action": [str], "path": PATH}, prefer_skip_nested_validation=True
)
def io_error(exc, action, path):
    """``exc`` (an OSError) again, its message naming ``action`` and ``path``.

    Keeps the OSError subclass (PermissionError, FileNotFoundError, ...) and
    errno, so callers can still catch what they expect.

    Examples
    --------
    >>> from skhisto.utils import io_error
    >>> exc = io_error(PermissionError(13, "Permission denied"), "write", "/data/out.csv")
    >>> type(exc).__name__, str(exc)
    ('PermissionError', "[Errno 13] Cannot write '/data/out.csv': Permission denied")
    """
    if isinstance(exc, NotRegularFileError):
        return type(exc)(str(exc))  # names its path already
    reason = exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        reason += " (free some space or point skhisto to another directory)"
    if isinstance(exc, OSError) and exc.errno is not None:
        return type(exc)(exc.errno, f"Cannot {action} {os.fspath(path)!r}: {reason}")
    return OSError(f"Cannot {action} {os.fspath(path)!r}: {reason}")


@validate_params({"directory": PATH, "parameter": [str]}, prefer_skip_nested_validation=True)
def ensure_writable_dir(directory, parameter):
    """Create ``directory`` if needed and prove it writable, before any work starts.

    Parameters
    ----------
    directory : str or os.PathLike
    parameter : str
        The parameter it came from, named in the error.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OSError
        Naming the parameter and the directory when it cannot be created or
        written (read-only file system, no permission, a file in the way).

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import ensure_writable_dir
    >>> folder = ensure_writable_dir(os.path.join(tempfile.mkdtemp(), "results"), "out_dir")
    >>> folder.is_dir()
    True
    """
    directory = Path(directory).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix=".skhisto-probe-"):
            pass
    except OSError as exc:
        raise io_error(exc, f"use {parameter}= directory", directory) from exc
    return directory


@validate_params({"path": PATH}, prefer_skip_nested_validation=True)
def writable_dir(path):
    """Whether files can be created in the existing directory ``path``.

    False on read-only storage and for folders the user may only read: a
    shared, precomputed cache there is served, never written.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import writable_dir
    >>> folder = tempfile.mkdtemp()
    >>> writable_dir(folder), writable_dir(os.path.join(folder, "missing"))
    (True, False)
    """
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def creatable_dir(path):
    """Whether the directory ``path`` exists writable, or could be made: its nearest
    existing ancestor is writable (a new cache root several folders deep)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return writable_dir(path)


@validate_params({"path": PATH, "folder": PATH}, prefer_skip_nested_validation=True)
def trusted_owner(path, folder):
    """Whether ``path`` was written by someone ``folder`` trusts: you, its owner or its group.

    Checksums detect damage, not forgery: a file another user planted in a
    folder they can write to (a shared cache) must not be believed, as ssh
    ignores keys others could have written. True where the OS has no POSIX
    owners (ACLs decide there) and for files that cannot be stat'ed (reading
    them reports why).

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import trusted_owner
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "shard")
    >>> _ = open(path, "wb").write(b"")
    >>> trusted_owner(path, folder)
    True
    """
    return owner_trusted(path, folder)


def owner_trusted(path, folder):
    """:func:`trusted_owner` without its argument checks, for the cache's per-shard calls."""
    if not hasattr(os, "getuid"):
        return True
    try:
        owner, home = os.stat(path), os.stat(folder)
    except OSError:
        return True
    return owner.st_uid in (os.getuid(), home.st_uid) or owner.st_gid == home.st_gid


def file_lock(path):
    """An inter-process lock on ``path`` (``flock``, released by the OS if its process dies).

    filelock sets the mode it is given with ``fchmod``, past the umask: it is
    given what the umask allows, so a group sharing a cache (umask 002) can
    take each other's locks.
    """
    from filelock import FileLock

    return FileLock(path, mode=0o666 & ~current_umask())
