"""The shared file layer: atomic writes, digests, run identities."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from skhisto.exceptions import CheckpointMismatchError
from skhisto.utils import (
    atomic_write,
    check_identity,
    digest_arrays,
    ensure_writable_dir,
    file_digest,
    run_identity,
)


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_write_gives_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "shard.npz") as f:
            f.write(b"data")
    finally:
        os.umask(old)
    assert (tmp_path / "shard.npz").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("fault", [RuntimeError, KeyboardInterrupt])
def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, fault):
    target = tmp_path / "checkpoint.npz"
    target.write_bytes(b"finished work")
    with pytest.raises(fault):
        with atomic_write(target) as f:
            f.write(b"half")
            raise fault()
    assert target.read_bytes() == b"finished work"
    assert _leftovers(tmp_path) == []


def test_disk_full_names_the_file_and_keeps_errno(tmp_path, monkeypatch):
    target = tmp_path / "shard.npz"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"Cannot write .*shard\.npz.*No space left") as info:
        with atomic_write(target) as f:
            f.write(b"x")
    assert info.value.errno == errno.ENOSPC
    assert not target.exists() and _leftovers(tmp_path) == []


def test_missing_directory_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Cannot write .*nowhere.*out\.bin"):
        with atomic_write(tmp_path / "nowhere" / "out.bin") as f:
            f.write(b"x")


def test_kill_mid_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "state.bin"
    target.write_bytes(b"previous")
    script = textwrap.dedent(
        f"""
        import time
        from skhisto.utils import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"partial")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"previous"


def test_concurrent_writers_never_mix(tmp_path):
    target = tmp_path / "shared.bin"
    payloads = [bytes([i]) * 200_000 for i in range(8)]

    def write(payload):
        for _ in range(5):
            with atomic_write(target) as f:
                f.write(payload)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_bytes() in payloads
    assert _leftovers(tmp_path) == []


def test_ensure_writable_dir_names_the_parameter(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match=r"Cannot use checkpoint_dir= directory .*file"):
        ensure_writable_dir(blocker / "sub", "checkpoint_dir")
    assert ensure_writable_dir(tmp_path / "new" / "dir", "cache").is_dir()


def test_file_digest_sees_a_file_replaced_at_the_same_path(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"a" * 64)
    first = file_digest(path)
    replacement = tmp_path / "other"
    replacement.write_bytes(b"b" * 64)  # same size
    os.replace(replacement, path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_digest(path) != first


def test_digest_arrays_tells_contents_shapes_and_dtypes_apart():
    a = np.arange(6)
    assert digest_arrays(a) == digest_arrays(a.copy())
    assert digest_arrays(a) != digest_arrays(a.reshape(2, 3))
    assert digest_arrays(a) != digest_arrays(a.astype(np.int32))
    assert digest_arrays(np.array(["a", 1], dtype=object)) == digest_arrays(np.array(["a", "1"]))


def test_check_identity_says_what_differs_and_how_to_restart():
    saved = run_identity({"batch_size": 10, "n_rounds": 5}, data="aaa")
    check_identity(saved, dict(saved), "run.npz", restart="delete it")
    current = run_identity({"batch_size": 20, "n_rounds": 5}, data="bbb")
    with pytest.raises(CheckpointMismatchError) as info:
        check_identity(saved, current, "run.npz", restart="delete it")
    message = str(info.value)
    assert "'run.npz'" in message and "batch_size=10 there, 20 now" in message
    assert "data: not the same" in message and "n_rounds" not in message
    assert message.endswith("To start afresh, delete it.")
    with pytest.raises(CheckpointMismatchError, match="another version"):
        check_identity(None, current, "run.npz", restart="delete it")


def _scorer(estimator, X, y):
    return 0.0


def test_run_identity_is_stable_for_objects_without_a_stable_repr():
    from sklearn.linear_model import LogisticRegression

    params = {"estimator": LogisticRegression(C=2.0), "scoring": _scorer}
    assert run_identity(params) == run_identity(
        {"estimator": LogisticRegression(C=2.0), "scoring": _scorer}
    )
    assert run_identity({"random_state": np.random.RandomState(0)}) == run_identity(
        {"random_state": np.random.RandomState(1)}
    )
    assert '"C": "2.0"' in run_identity(params)["param:estimator"]
    assert run_identity(params) != run_identity({**params, "estimator": LogisticRegression()})
