"""Leases on chunks of cache keys, so parallel workers never embed the same image twice.

A process that misses keys claims a chunk of them: under a short lock on the
cache's ``leases/`` folder it reads the live leases, looks the keys up in the
cache, and writes a lease (``<id>.keys``, the keys it will embed) while holding
a lock on ``<id>.lock``. It stores the chunk's embeddings, and only then
releases the lease, so whoever finds no lease for a key finds its embedding.
Keys another live lease holds are waited for, not redone. The locks are
``flock`` locks (the ``filelock`` package): the OS releases them when their
process dies, so a lease whose lock can be taken is stale and its keys are
claimable again -- a killed worker never blocks the others.
"""

import time
import uuid
from pathlib import Path

import numpy as np
from filelock import Timeout

from ..utils import atomic_write
from ..utils._files import file_lock
from ._shards import KEY_DTYPE

#: Seconds between two looks at the cache while other processes embed our keys.
POLL = (0.05, 1.0)


class Lease:
    """Keys this process is embedding, announced in the cache directory."""

    def __init__(self, folder, keys):
        name = uuid.uuid4().hex
        self.keys_path = folder / f"{name}.keys"
        self.lock = file_lock(folder / f"{name}.lock")
        self.lock.acquire()  # before the keys are visible: a listed lease is never stale by mistake
        try:
            with atomic_write(self.keys_path) as f:
                f.write(np.ascontiguousarray(keys, dtype=KEY_DTYPE).tobytes())
        except BaseException:
            self.lock.release()
            raise

    def release(self):
        """Withdraw the lease (after its embeddings are stored, or on failure)."""
        self.keys_path.unlink(missing_ok=True)
        self.lock.release()
        _unlink(self.lock.lock_file)


def _unlink(path):
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        pass  # another user's: harmless, a lock file holds no keys


class KeyLeases:
    """The leases of one cache directory (see the module docstring)."""

    def __init__(self, directory):
        self.folder = directory / "leases"
        self.folder.mkdir(exist_ok=True)
        self._claims = file_lock(self.folder / ".claims.lock")

    def claim(self, keys, lookup, size):
        """Look ``keys`` up, and lease up to ``size`` of those missing and unclaimed.

        Parameters
        ----------
        keys : ndarray of S32
            Distinct keys still needed.
        lookup : callable
            ``lookup(keys) -> (found, rows)``: the cache's look-up.
        size : int
            Most keys to lease.

        Returns
        -------
        found, rows
            The keys found in the cache and their embeddings.
        mine : ndarray of int
            Indices into ``keys`` leased to this process.
        lease : Lease or None
        """
        with self._claims:
            held = self._held()  # before the look-up: a released lease's rows are visible
            found, rows = lookup(keys)
            free = ~found & ~np.isin(keys, held)
            mine = np.flatnonzero(free)[:size]
            lease = Lease(self.folder, keys[mine]) if len(mine) else None
        return found, rows, mine, lease

    def _held(self):
        """Keys of the live leases; stale ones (their process died) are removed."""
        held = []
        for keys_path in self.folder.glob("*.keys"):
            lock = file_lock(keys_path.with_suffix(".lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                try:
                    held.append(np.frombuffer(keys_path.read_bytes(), dtype=KEY_DTYPE))
                except FileNotFoundError:
                    pass  # released meanwhile
                continue
            keys_path.unlink(missing_ok=True)  # its process died: the keys are claimable
            lock.release()
            _unlink(lock.lock_file)
        return np.concatenate(held) if held else np.empty(0, dtype=KEY_DTYPE)


def wait_step(attempt):
    """Sleep before the next look at keys that other processes are embedding."""
    time.sleep(min(POLL[1], POLL[0] * 2**attempt))


def lease_size(n_missing, batch_size):
    """Keys per lease: a quarter of the work, so two to four workers share it, in whole
    batches, and at most 1,024 (one cache shard per lease)."""
    return int(min(1024, max(batch_size, -(-n_missing // 4))))
