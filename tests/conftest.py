"""Shared fixtures: the real H&E data in ../shared/data (or $SKHISTO_DATA)."""

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

# No network here or in CI: fail Hub look-ups at once instead of retrying for 30 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Two cores are shared by pytest-xdist workers: one torch thread each avoids oversubscription.
torch.set_num_threads(1)

DATA_ROOT = Path(
    os.environ.get("SKHISTO_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
LC25000 = DATA_ROOT / "lc25000_lung"
KATHER = DATA_ROOT / "kather_samples"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _require(path):
    if not path.is_dir():
        pytest.skip(
            f"real H&E data not found at {path} (set SKHISTO_DATA to the shared data folder)"
        )
    return path


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory):
    """Commands that cache by default (``skhisto embed``) write under pytest's tmp, not ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKHISTO_CACHE", str(tmp_path_factory.mktemp("user-cache")))
        yield


@pytest.fixture(scope="session")
def lc25000_dir():
    """Root of the LC25000 lung ImageFolder (3 classes x 4,000 JPEGs, 224 px)."""
    return _require(LC25000)


@pytest.fixture(scope="session")
def kather_dir():
    """Root of the Kather colorectal samples (TIFF/PNG, 150 and 224 px)."""
    return _require(KATHER)


@pytest.fixture(scope="session")
def lc25000_small(lc25000_dir):
    """300 LC25000 paths (100 per class) with labels, fixed draw."""
    from skhisto.datasets import load_image_folder

    return load_image_folder(lc25000_dir, max_per_class=100, random_state=0)


# scikit-learn's checks train a net per check: MLPHead's (about 20 s together), the MIL heads'
# (50 epochs of 8-bag batches: minutes together) and every head's training checks run in the
# full lane, not in the fast one (`-m "not slow"`); LinearHead's other checks keep the heads'
# contract in the fast lane.
SLOW_ESTIMATOR_CHECKS = (
    "Head(random_state=0)-check_classifiers_train",
    "[MLPHead(random_state=0)-",
    "[ABMILHead(random_state=0)-",
    "[MeanPoolHead(random_state=0)-",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if any(check in item.nodeid for check in SLOW_ESTIMATOR_CHECKS):
            item.add_marker(pytest.mark.slow)


class CliResult:
    """Exit code, stdout and stderr of one `skhisto` run (see the ``run_cli`` fixture)."""

    def __init__(self, command, code, out, err):
        self.command, self.code, self.out, self.err = command, code, out, err

    def assert_one_line_error(self, code, *words):
        """The run exited with ``code`` and one stderr line, no traceback, naming ``words``."""
        assert self.code == code, (self.code, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith(f"skhisto {self.command}: error: "), lines[0]
        assert "Traceback" not in self.err
        for word in words:
            assert word in lines[0], (word, lines[0])


@pytest.fixture
def run_cli(capsys):
    """``run_cli("embed", INPUT, "--out", ...)``: run `skhisto` in-process, return a CliResult."""
    from skhisto.cli import main

    def run(*argv):
        capsys.readouterr()  # drop what earlier steps printed
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return CliResult(str(argv[0]), code, captured.out, captured.err)

    return run


@pytest.fixture
def embeddings_file(tmp_path):
    """``embeddings_file(labels=True)``: a .npz as `skhisto embed` writes (90 x 16, 3 classes)."""
    import numpy as np
    from sklearn.datasets import make_classification

    def write(labels=True, name="emb.npz"):
        X, y = make_classification(
            n_samples=90, n_features=16, n_informative=6, n_classes=3, random_state=0
        )
        names = np.array(["adenocarcinoma", "benign", "squamous"])[y] if labels else [""] * len(y)
        path = tmp_path / name
        np.savez(
            path,
            embeddings=X.astype(np.float32),
            paths=np.array([f"tile_{i}.png" for i in range(len(y))]),
            labels=np.asarray(names, dtype=str),
        )
        return path

    return write


@pytest.fixture
def blocker(tmp_path):
    """A file where a folder should be: no path under it can be created, even by root."""
    path = tmp_path / "blocker"
    path.write_text("a file where a folder should be")
    return path


@pytest.fixture
def tiny_folder(tmp_path):
    """2 classes x 3 random PNGs."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("benign", "tumour"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


def unlabeled_csv(tiny_folder):
    """A CSV listing the benign images of ``tiny_folder`` without a label column."""
    listing = tiny_folder.parent / "tiles.csv"
    listing.write_text("path\n" + "".join(f"images/benign/{i}.png\n" for i in range(3)))
    return listing


@pytest.fixture
def bad_input_names(tmp_path, embeddings_file, tiny_folder, blocker):
    """The ``{name}`` placeholders of the commands' bad command lines (see ``fill_argv``)."""
    return {
        "tmp": tmp_path,
        "unlabeled": embeddings_file(labels=False),
        "csv": unlabeled_csv(tiny_folder),
        "folder": tiny_folder,
        "blocker": blocker,
    }


def assert_fails_before_embedding(run_cli, argv, code, words, never_written):
    """``run_cli(*argv)`` with a tiny random backbone fails in one line naming ``words``, having
    embedded nothing and written no ``never_written`` file."""
    from skhisto.embedding import forward_count

    forwards = forward_count()
    result = run_cli(*argv, "--no-pretrained", "--image-size", "16")
    result.assert_one_line_error(code, *words)
    assert forward_count() == forwards, "nothing was embedded"
    assert not never_written.exists()


def fill_argv(argv, out_dir, **names):
    """``argv`` with its ``{name}`` placeholders filled, plus ``--out-dir out_dir`` unless given."""
    argv = [arg.format(**names) for arg in argv]
    return argv if "--out-dir" in argv else [*argv, "--out-dir", str(out_dir)]


def child_env(**extra):
    """The environment of a child Python (docs build, notebook kernel, README scripts).

    It imports this checkout, stays offline, and runs torch on one thread: two
    pytest-xdist workers each starting a multi-threaded child on two cores
    oversubscribe them (a 30 s notebook took 9 minutes).
    """
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


@pytest.fixture
def bench(monkeypatch, tmp_path):
    """``bench("bench_x")``: a fresh import of benchmarks/bench_x.py, its results under tmp_path."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    common = importlib.import_module("_common")
    monkeypatch.setattr(common, "RESULTS", tmp_path)

    def load(name):
        sys.modules.pop(name, None)
        return importlib.import_module(name)

    return load
