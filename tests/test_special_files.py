"""Special files never hang a run: FIFOs, devices and sockets are refused by name.

A FIFO with no writer blocks ``open``; ``/dev/zero`` behind a symlink never ends a hash.
Every place skhisto reads a user's file refuses anything but a regular file, before any
work (issue 21, class 5).
"""

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from skhisto import FoundationEmbedder
from skhisto.io import ImageReadError, read_image
from skhisto.utils import NotRegularFileError, file_digest

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")


@pytest.fixture(autouse=True)
def _no_hang():
    # A regression would hang, not fail: fail it after 60 s instead.
    def timeout(*_):
        raise TimeoutError("reading a special file hung")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(params=["fifo", "dev-zero", "socket"])
def special(request, tmp_path):
    path = tmp_path / "special.png"
    if request.param == "fifo":
        os.mkfifo(path)
    elif request.param == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        import socket

        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        request.addfinalizer(server.close)
    return path


@pytest.fixture
def folder_with(lc25000_dir, tmp_path, special):
    folder = tmp_path / "images" / "tumour"
    folder.mkdir(parents=True)
    for source in sorted((lc25000_dir / "lung_scc").iterdir())[:2]:
        shutil.copy(source, folder / source.name)
    os.replace(special, folder / "zz_special.png")
    return folder.parent, folder / "zz_special.png"


def test_embedding_refuses_a_special_file_before_any_work(folder_with, tmp_path):
    root, special = folder_with
    paths = sorted(str(p) for p in (root / "tumour").iterdir())  # the special file comes last
    assert paths[-1] == str(special)
    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=32, cache=tmp_path / "cache", random_state=0
    )
    with pytest.raises(NotRegularFileError, match=r"zz_special\.png' is a .*not a regular file"):
        embedder.fit_transform(paths)
    assert not any((tmp_path / "cache").rglob("shard-*"))  # nothing was embedded or cached


def test_every_reader_refuses_special_files(special):
    with pytest.raises(ImageReadError, match=r"special\.png' is a .*not a regular file"):
        read_image(special)
    with pytest.raises(NotRegularFileError, match=r"special\.png"):
        file_digest(special)


def test_weights_and_slides_refuse_special_files(tmp_path):
    from skhisto.backbones import create_backbone
    from skhisto.slides import slide_identity

    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"weights\.safetensors' is a FIFO"):
        create_backbone("resnet18", weights=fifo)
    slide = tmp_path / "slide.svs"
    slide.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFileError, match=r"slide\.svs' is a character device"):
        slide_identity(slide)


def test_cli_embed_of_a_folder_with_a_fifo_ends_with_one_line(folder_with, tmp_path):
    root, special = folder_with
    result = subprocess.run(
        [sys.executable, "-m", "skhisto", "embed", str(root), "--backbone", "resnet18"]
        + ["--no-pretrained", "--image-size", "32", "--out", str(tmp_path / "e.npz")]
        + ["--cache", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "zz_special.png" in lines[0] and "not a regular file" in lines[0]
    assert not (tmp_path / "e.npz").exists()


def test_a_symlink_to_a_regular_file_still_reads(lc25000_dir, tmp_path):
    path = sorted((lc25000_dir / "lung_n").iterdir())[0]
    link = tmp_path / "link.jpeg"
    link.symlink_to(path)
    np.testing.assert_array_equal(read_image(link), read_image(path))
    assert file_digest(link) == file_digest(path)
