"""All process-wide state of skhisto in one object, with one ``clear``.

Built backbones, resolved hub weights, file digests and the forward counter
live here and nowhere else, so one call frees them all, and each table's key
is built from what determines its value (a file's identity, a backbone's
fingerprint with its weights digest), so an entry can never be served for
something that changed since it was stored.
"""

import os
from collections import Counter, OrderedDict

from ._constraints import PATH
from ._sklearn_compat import validate_params


@validate_params({"path": PATH}, prefer_skip_nested_validation=True)
def file_identity(path):
    """Key of a file's current content: real path, device, inode, size, mtime and ctime.

    A file rewritten or replaced at the same path gets another identity, so
    anything memoised under it is computed again.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skhisto.utils import file_identity
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.bin"
    >>> _ = path.write_bytes(b"one")
    >>> before = file_identity(path)
    >>> _ = path.write_bytes(b"three")
    >>> file_identity(path) == before
    False
    """
    stat = os.stat(path)
    return (
        os.path.realpath(path),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )


class ProcessStore:
    """The caches and counters that skhisto keeps for the life of a process.

    Parameters
    ----------
    max_models : int, default=2
        Built backbones kept in memory, least recently used dropped first
        (large ViTs take GBs each).

    Attributes
    ----------
    models : OrderedDict
        Built backbones by ``(fingerprint id, device)``; the fingerprint holds
        the weights digest, so a weights file replaced at the same path never
        reuses the old model.
    weights : dict
        Hub weights ``(path, digest)`` by weights source (hub id, URL, loader,
        file names), looked up once per process.
    digests : dict
        SHA-256 of files by :func:`file_identity`.
    forwards : collections.Counter
        Images embedded by backbones, by model id.
    builds : collections.Counter
        Times each model key was built, so a test can check that a worker
        (a Dask worker, a joblib process) built each backbone once.
    caches : dict
        Open embedding caches by fingerprint directory, so every clone in the
        process shares one index (:func:`skhisto.embedding.open_cache`).
    slides : dict
        Geometry of slide files by :func:`file_identity`, so a patch table
        over thousands of slides opens each slide once.
    swept : set
        Folders already cleared of the temporary files of killed writers
        (:func:`skhisto.utils.sweep_orphans`).
    reported : set
        Cache folders and shards already warned about (world-writable,
        unreadable, of an untrusted owner), so each is reported once.

    Examples
    --------
    >>> from skhisto.utils import ProcessStore
    >>> store = ProcessStore()
    >>> store.model(("fp", "cpu"), lambda: "built")
    'built'
    >>> store.memo("digests", "key", lambda: "abc")
    'abc'
    >>> store.clear()
    >>> len(store.models), len(store.digests)
    (0, 0)
    """

    def __init__(self, max_models=2):
        self.max_models = max_models
        self.models = OrderedDict()
        self.weights = {}
        self.digests = {}
        self.forwards = Counter()
        self.builds = Counter()
        self.caches = {}
        self.slides = {}
        self.swept = set()
        self.reported = set()

    def model(self, key, build):
        """The model stored under ``key``, made by ``build()`` on first use."""
        if key in self.models:
            self.models.move_to_end(key)
            return self.models[key]
        model = self.models[key] = build()
        self.builds[key] += 1
        while len(self.models) > self.max_models:
            self.models.popitem(last=False)
        return model

    def memo(self, table, key, compute):
        """``compute()`` stored in ``table`` (a table name such as ``"digests"``) under ``key``."""
        values = getattr(self, table)
        if key not in values:
            values[key] = compute()
        return values[key]

    def count_forwards(self, model_id, n_images):
        """Record ``n_images`` embedded by the model ``model_id``."""
        self.forwards[model_id] += n_images

    def clear(self):
        """Forget every model, weights look-up, digest, open cache and slide; reset the counters."""
        tables = (
            *(self.models, self.weights, self.digests, self.caches, self.slides),
            *(self.swept, self.reported),
            *(self.forwards, self.builds),
        )
        for table in tables:
            table.clear()


#: The one store of the process.
STORE = ProcessStore()


def clear_caches():
    """Free every process-wide cache of skhisto.

    Drops the built backbones (their memory is freed), the hub weights
    look-ups, the file digests, the open embedding caches' indexes, and resets
    :func:`skhisto.embedding.forward_count`. Nothing on disk is touched: the
    embedding cache stays, use a new ``cache=`` directory to start afresh.

    Examples
    --------
    >>> from skhisto.utils import STORE, clear_caches
    >>> clear_caches()  # the next transform builds its backbone afresh
    >>> len(STORE.models), sum(STORE.forwards.values())
    (0, 0)
    """
    STORE.clear()
