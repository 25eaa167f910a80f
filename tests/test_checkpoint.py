"""The one checkpoint module: arrays plus JSON written whole, read without unpickling."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import child_env

from skhisto.exceptions import CheckpointError, CheckpointMismatchError
from skhisto.utils import (
    CHECKPOINT_FILE,
    checkpoint_file,
    load_checkpoint,
    resume_checkpoint,
    run_identity,
    save_checkpoint,
)


def test_a_state_round_trips_with_its_types(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    state = {
        "identity": run_identity({"lr": 0.1}, data="ab"),
        "labels": np.array(["a", "b"]),
        "weights": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)},
        "half": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        "rng": torch.Generator().manual_seed(0).get_state(),
        "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}, "betas": (0.9, 0.999)},
        "history": [{"loss": float("nan"), "score": None, "n": np.int64(4)}],
        "__odd": True,
    }
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    np.testing.assert_array_equal(loaded["labels"], state["labels"])
    assert torch.equal(loaded["weights"]["w"], state["weights"]["w"])
    assert loaded["half"].dtype == torch.bfloat16 and torch.equal(loaded["half"], state["half"])
    assert torch.equal(loaded["rng"], state["rng"]) and loaded["rng"].dtype == torch.uint8
    assert loaded["optimizer"] == {"state": {0: {"step": torch.tensor(3.0)}}, "betas": (0.9, 0.999)}
    assert np.isnan(loaded["history"][0]["loss"]) and loaded["history"][0]["n"] == 4
    assert loaded["identity"] == state["identity"] and loaded["__odd"] is True


def test_nothing_pickled_is_written_or_read(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    with pytest.raises(TypeError, match="dtype object"):
        save_checkpoint(path, {"labels": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(TypeError, match="got set"):
        save_checkpoint(path, {"classes": {1, 2}})
    assert not path.exists()
    # A file whose array member is a pickle is refused, not unpickled.
    save_checkpoint(path, {"labels": np.arange(3)})
    with np.load(path) as members:
        members = dict(members)
    members["array_0"] = np.array([{"a": 1}], dtype=object)
    np.savez(path, **members)
    with pytest.raises(CheckpointError, match=rf"Checkpoint '{path}' cannot be read"):
        load_checkpoint(path)
    torch.save({"identity": {}}, path)  # a torch (pickle) file in its place
    with pytest.raises(CheckpointError, match="not a skhisto checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign-npz", "bad-json"])
def test_a_corrupt_file_is_named_and_kept(tmp_path, damage):
    path = tmp_path / CHECKPOINT_FILE
    save_checkpoint(path, {"weights": np.ones(1000), "epoch": 1})
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    elif damage == "foreign-npz":
        np.savez(path, weights=np.ones(3))
    else:
        np.savez(path, checkpoint=np.array("{not json"))
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=rf"Checkpoint '{path}' cannot be read") as info:
        load_checkpoint(path, parameter="checkpoint")
    assert "To start afresh" not in str(info.value)  # one sentence: "...; to start afresh"
    assert "to start afresh, delete it or pass another checkpoint=" in str(info.value)
    assert path.read_bytes() == before


def test_another_run_is_refused_naming_the_difference(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    assert resume_checkpoint(path, run_identity({"lr": 0.1})) is None  # no file: a fresh start
    assert resume_checkpoint(None, run_identity({"lr": 0.1})) is None  # no checkpoint at all
    save_checkpoint(path, {"identity": run_identity({"lr": 0.1}, data="aa"), "epoch": 2})
    assert resume_checkpoint(path, run_identity({"lr": 0.1}, data="aa"))["epoch"] == 2
    before = path.read_bytes()
    with pytest.raises(
        CheckpointMismatchError,
        match=rf"Checkpoint '{path}' belongs to another run and is not resumed: data: not the "
        r"same; lr=0\.1 there, 0\.2 now\. To start afresh, delete it or pass another "
        r"checkpoint_dir=\.",
    ):
        resume_checkpoint(path, run_identity({"lr": 0.2}, data="bb"))
    assert path.read_bytes() == before


def test_another_versions_file_is_refused(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    save_checkpoint(path, {"epoch": 1})
    with np.load(path) as members:
        members = dict(members)
    header = json.loads(str(members["checkpoint"]))
    members["checkpoint"] = np.array(json.dumps(dict(header, version=2)))
    np.savez(path, **members)
    with pytest.raises(CheckpointMismatchError, match="another version of skhisto"):
        load_checkpoint(path)
    save_checkpoint(path, {"epoch": 1})  # this version's, without an identity
    with pytest.raises(CheckpointMismatchError, match="another version of skhisto"):
        resume_checkpoint(path, run_identity({}))


def test_checkpoint_file_is_prepared_before_any_work(tmp_path):
    assert checkpoint_file(None) is None
    path = checkpoint_file(tmp_path / "new" / "run")
    assert path == tmp_path / "new" / "run" / CHECKPOINT_FILE and path.parent.is_dir()
    (tmp_path / "blocker").write_text("")
    with pytest.raises(OSError, match=r"Cannot use checkpoint_dir= directory .*blocker/run"):
        checkpoint_file(tmp_path / "blocker" / "run")
    (tmp_path / "taken" / CHECKPOINT_FILE).mkdir(parents=True)
    with pytest.raises(ValueError, match="which is not a file"):
        checkpoint_file(tmp_path / "taken")


@pytest.mark.parametrize("fault", ["disk-full", "ctrl-c"])
def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, fault):
    path = tmp_path / CHECKPOINT_FILE
    save_checkpoint(path, {"epoch": 1, "weights": np.ones(3)})

    def failing(file, **members):
        file.write(b"PK\x03\x04partial")
        raise KeyboardInterrupt if fault == "ctrl-c" else OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", failing)
    with pytest.raises(KeyboardInterrupt if fault == "ctrl-c" else OSError):
        save_checkpoint(path, {"epoch": 2, "weights": np.zeros(3)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [CHECKPOINT_FILE]  # no temporary left
    assert load_checkpoint(path)["epoch"] == 1


_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from skhisto.utils import save_checkpoint

path = sys.argv[1]
save_checkpoint(path, {"epoch": 1, "weights": np.ones(100_000)})
real = np.savez

def die_halfway(file, **members):
    file.write(b"PK\\x03\\x04" + bytes(100_000))  # half a file on disk, then kill -9
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)

np.savez = die_halfway
save_checkpoint(path, {"epoch": 2, "weights": np.zeros(100_000)})
"""


def test_a_writer_killed_mid_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), str(path)],
        env=child_env(),
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and state["weights"].sum() == 100_000
    [left] = [p for p in tmp_path.iterdir() if p != path]  # the killed writer's temporary
    os.utime(left, (0, 0))  # long dead; the next write in the folder sweeps it
    from skhisto.utils import STORE

    STORE.swept.discard(os.path.realpath(tmp_path))
    save_checkpoint(path, {"epoch": 2})
    assert os.listdir(tmp_path) == [CHECKPOINT_FILE] and load_checkpoint(path)["epoch"] == 2


def test_the_former_contrastive_names_warn_and_work(tmp_path):
    from skhisto.contrastive import load_checkpoint as old_load
    from skhisto.contrastive import save_checkpoint as old_save

    path = tmp_path / CHECKPOINT_FILE
    moved = r"skhisto.contrastive.save_checkpoint moved to skhisto.utils.*removed in 0\.3"
    with pytest.warns(FutureWarning, match=moved) as caught:
        old_save(path, {"epoch": 4})
    assert caught[0].filename == __file__
    with pytest.warns(FutureWarning, match="load_checkpoint moved to skhisto.utils"):
        assert old_load(path)["epoch"] == 4


def test_a_folder_or_fifo_given_as_the_checkpoint_file_is_named(tmp_path):
    import os

    from skhisto.utils import CHECKPOINT_FILE, NotRegularFileError, load_checkpoint

    with pytest.raises(
        IsADirectoryError, match=rf"is a folder; pass the file in it .*{CHECKPOINT_FILE}"
    ):
        load_checkpoint(tmp_path)
    fifo = tmp_path / "run.npz"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="FIFO"):
        load_checkpoint(fifo)


def test_what_cannot_be_stored_or_hashed_is_named(tmp_path):
    import pickle

    from skhisto.utils import check_regular_file, new_digest, save_checkpoint

    with pytest.raises(
        TypeError,
        match=r"cannot store state\['history'\]\[0\]\['f'\]: .* got builtin_function_or_method",
    ):
        save_checkpoint(tmp_path / "c.npz", {"history": [{"f": len}]})
    assert not (tmp_path / "c.npz").exists()
    with pytest.raises(TypeError, match="part 1 is str .* .encode()"):
        new_digest("key", b"ok", "text")
    with pytest.raises(IsADirectoryError) as caught:
        check_regular_file(tmp_path, "image")
    assert type(caught.value).__name__ == "NotRegularFileError"  # no private name shown
    assert isinstance(pickle.loads(pickle.dumps(caught.value)), IsADirectoryError)
