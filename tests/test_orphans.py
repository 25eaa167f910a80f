"""Temporaries of killed writers are cleaned up (issue 21, class 7).

Every write goes through a locked temporary beside its target; ``kill -9`` leaves it behind
unlocked, and the next write in that folder removes it. A live writer's temporary, and
anything skhisto did not name, is never touched.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from skhisto.utils import STORE, atomic_write, sweep_orphans, temporary_beside

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

KILLED_MID_WRITE = """
import os, signal, sys
from skhisto.utils import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""

WRITING = """
import sys, time
from skhisto.utils import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"slowly")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _age(path, seconds=3600):
    past = time.time() - seconds
    os.utime(path, (past, past))


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_write_killed_midway_leaves_a_temporary_the_next_write_removes(tmp_path):
    target = tmp_path / "run.npz"
    run = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(target)], timeout=120)
    assert run.returncode == -signal.SIGKILL
    (orphan,) = _temporaries(tmp_path)
    assert not target.exists()
    _age(tmp_path / orphan)
    STORE.swept.clear()  # a new process
    with atomic_write(tmp_path / "other.json", "w") as f:
        f.write("{}")
    assert _temporaries(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["other.json"]


def test_a_live_writers_temporary_is_never_removed(tmp_path):
    target = tmp_path / "encoder.pt"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITING, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
        (live,) = _temporaries(tmp_path)
        _age(tmp_path / live)  # looks old; its lock says it is not
        STORE.swept.clear()
        assert sweep_orphans(tmp_path) == []
        assert (tmp_path / live).exists()
    finally:
        writer.kill()
        writer.wait()


def test_only_skhistos_own_unlocked_old_temporaries_are_removed(tmp_path):
    names = {
        "notes.tmp": "not named by skhisto",
        ".run.npz.0123456789ab": "no .tmp suffix",
        ".run.npz.xyz.tmp": "not 12 hex digits",
        ".fresh.npz.0123456789ab.tmp": "too recent: a writer may be about to lock it",
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        if not name.startswith(".fresh"):
            _age(tmp_path / name)
    os.mkfifo(tmp_path / ".pipe.npz.0123456789ab.tmp")  # opening it could block: never opened
    orphans = [".old.npz.0123456789ab.tmp", ".store.zarr.abcdef012345.tmp"]
    (tmp_path / orphans[0]).write_bytes(b"half")
    (tmp_path / orphans[1]).mkdir()
    (tmp_path / orphans[1] / "embeddings").write_bytes(b"half a store")
    for orphan in orphans:
        _age(tmp_path / orphan)
    STORE.swept.clear()
    assert sweep_orphans(tmp_path) == sorted(orphans)
    assert sorted(os.listdir(tmp_path)) == sorted([*names, ".pipe.npz.0123456789ab.tmp"])
    assert sweep_orphans(tmp_path) == []  # once per folder and process


def test_a_temporary_folder_is_removed_on_error_and_moved_on_success(tmp_path):
    target = tmp_path / "store.zarr"
    with pytest.raises(KeyboardInterrupt), temporary_beside(target, folder=True) as (tmp, _):
        (tmp / "half").write_text("x")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    with temporary_beside(target, folder=True) as (tmp, _):
        (tmp / "whole").write_text("x")
        os.replace(tmp, target)
    assert os.listdir(tmp_path) == ["store.zarr"]


def test_an_embedding_cache_killed_mid_shard_is_cleaned_by_the_next_run(lc25000_small, tmp_path):
    from skhisto import FoundationEmbedder

    cache = tmp_path / "cache"
    small = dict(backbone="resnet18", pretrained=False, image_size=32, random_state=0)
    paths = list(lc25000_small.paths[:4])
    expected = FoundationEmbedder(**small, cache=cache).fit_transform(paths)
    (folder,) = [p for p in cache.iterdir() if p.is_dir() and p.name != "digests"]
    script = textwrap.dedent(KILLED_MID_WRITE)
    subprocess.run([sys.executable, "-c", script, str(folder / "shard-x.emb")], timeout=120)
    (orphan,) = _temporaries(folder)
    _age(folder / orphan)
    STORE.swept.clear()
    out = FoundationEmbedder(**small, cache=cache).fit_transform([*paths, lc25000_small.paths[4]])
    np.testing.assert_array_equal(out[:4], expected)
    assert _temporaries(folder) == []
