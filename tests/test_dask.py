"""Scale-out on Dask: grid searches and embed_dataset on a two-worker LocalCluster, Zarr stores
that resume chunk by chunk, and the errors of a store that cannot be resumed."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skhisto import FoundationEmbedder, MLPHead, NoisyLabelClassifier, UniformNoise
from skhisto.embedding import _dataset, embed_dataset, forward_count, open_store, prepare_store
from skhisto.exceptions import CheckpointMismatchError

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

SMALL = dict(backbone="resnet18", pretrained=False, image_size=32, random_state=0, batch_size=8)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def tiles(lc25000_dir):
    from skhisto.datasets import load_image_folder

    return load_image_folder(lc25000_dir, max_per_class=12, random_state=0)


def _builds(client):
    """Backbone builds per model key on each worker (imported there: nothing of ours pickled)."""
    return client.run(lambda: dict(__import__("skhisto.utils").utils.STORE.builds))


@pytest.mark.slow
def test_embed_dataset_on_a_cluster_equals_the_single_process_result(client, tiles, tmp_path):
    embedder = FoundationEmbedder(**SMALL)
    reference = FoundationEmbedder(**SMALL).fit(tiles.paths).transform(tiles.paths)
    local = embed_dataset(tiles, embedder, tmp_path / "local.zarr", chunk_size=8)
    remote = embed_dataset(tiles, embedder, tmp_path / "dask.zarr", client=client, chunk_size=8)
    assert not hasattr(embedder, "fingerprint_")  # the caller's embedder is not fitted
    for store in (local, remote):
        np.testing.assert_array_equal(store["embeddings"][:], reference)
        assert store["paths"][:].tolist() == [str(p) for p in tiles.paths]
        assert store["labels"][:].tolist() == [tiles.target_names[t] for t in tiles.target]
        assert store["embeddings"].chunks == (8, 512) and store.attrs["complete"]
    assert remote.attrs["fingerprint"] == local.attrs["fingerprint"]
    assert all(count == 1 for builds in _builds(client).values() for count in builds.values())


@pytest.mark.slow
def test_grid_search_on_dask_equals_the_local_one(client, tiles, tmp_path):
    pipe = Pipeline(
        [
            ("embed", FoundationEmbedder(**SMALL, cache=tmp_path / "cache")),
            (
                "clf",
                NoisyLabelClassifier(
                    MLPHead(max_epochs=5, random_state=0), UniformNoise(0.2, random_state=0)
                ),
            ),
        ]
    )
    grid = {"clf__noise__rate": [0.0, 0.4], "clf__estimator__hidden_layer_sizes": [(32,), (64,)]}
    local = GridSearchCV(pipe, grid, cv=3).fit(tiles.paths, tiles.target)
    client.run(lambda: __import__("skhisto.utils").utils.clear_caches())
    pipe.set_params(embed__cache=tmp_path / "shared-cache")  # empty: the workers embed
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=3).fit(tiles.paths, tiles.target)
    for key, values in local.cv_results_.items():
        if "time" not in key:
            np.testing.assert_array_equal(remote.cv_results_[key], values, err_msg=key)
    fingerprint_builds = [n for b in _builds(client).values() for n in b.values()]
    assert fingerprint_builds and all(n == 1 for n in fingerprint_builds)


KILL_LAST_CHUNK = """
import os, signal, sys
import numpy as np
import zarr
from skhisto import FoundationEmbedder
from skhisto.datasets import load_image_folder
from skhisto.embedding import _dataset

real = _dataset.embed_chunk

def dies_mid_write(out, index, embedder):
    group = zarr.open_group(out, mode="r+")
    if index == group["done"].shape[0] - 1:  # the last chunk: half its rows, then kill -9
        start = index * group.attrs["chunk_size"]
        group["embeddings"][start : start + 2] = np.ones((2, group["embeddings"].shape[1]))
        os.kill(os.getpid(), signal.SIGKILL)
    return real(out, index, embedder)

_dataset.embed_chunk = dies_mid_write
data = load_image_folder(sys.argv[1], max_per_class=12, random_state=0)
embedder = FoundationEmbedder(**{small!r})
_dataset.embed_dataset(data, embedder, sys.argv[2], chunk_size=8)
"""


@pytest.mark.slow
def test_a_chunk_killed_mid_write_is_redone_on_resume_and_nothing_else(
    tiles, lc25000_dir, tmp_path
):
    out = tmp_path / "emb.zarr"
    script = textwrap.dedent(KILL_LAST_CHUNK.format(small=SMALL))
    run = subprocess.run(
        [sys.executable, "-c", script, str(lc25000_dir), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -9, run.stderr
    done = zarr.open_group(str(out), mode="r")["done"][:]
    assert done.tolist() == [True] * 4 + [False]  # 36 images: 4 chunks kept, the 5th cut short
    before = forward_count()
    store = embed_dataset(tiles, FoundationEmbedder(**SMALL), out, chunk_size=8)
    assert forward_count() - before == 4  # the last chunk's 4 images, nothing else
    reference = FoundationEmbedder(**SMALL).fit(tiles.paths).transform(tiles.paths)
    np.testing.assert_array_equal(store["embeddings"][:], reference)


def test_a_store_is_only_resumed_with_what_made_it(tiles, tmp_path):
    out = tmp_path / "emb.zarr"
    paths = tiles.paths[:6]
    embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)
    before = forward_count()
    embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)  # complete: no work
    assert forward_count() == before
    other_seed = FoundationEmbedder(**{**SMALL, "random_state": 1})
    cases = [
        (dict(inputs=paths, embedder=other_seed), "embedder weights and settings: not the same"),
        (dict(inputs=tiles.paths[:7]), "n_images=6 there, 7 now"),
        (dict(inputs=paths[::-1]), "image paths: not the same"),
        (dict(inputs=paths, labels=list("abcdef")), "labels: not the same"),
        (dict(inputs=paths, chunk_size=2), "chunk_size=4 there, 2 now"),
    ]
    for changed, reason in cases:
        args = {"inputs": paths, "embedder": FoundationEmbedder(**SMALL), "chunk_size": 4}
        args.update(changed)
        # The one resume protocol's error, as ActiveLearner's and SimCLREmbedder's.
        with pytest.raises(CheckpointMismatchError, match=rf"Store '{out}' belongs to .*{reason}"):
            embed_dataset(args.pop("inputs"), args.pop("embedder"), out, **args)
    with pytest.raises(CheckpointMismatchError, match=r"To start afresh, remove it or pass"):
        embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=2)


def test_the_store_is_prepared_and_opened_through_public_functions(tiles, tmp_path):
    """What a caller (the CLI) checks before a cluster starts, and reads back after."""
    out, paths = tmp_path / "emb.zarr", tiles.paths[:6]
    before = forward_count()
    store = prepare_store(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)
    assert store["done"][:].tolist() == [False, False] and forward_count() == before
    assert open_store(out).attrs["complete"] is False
    with pytest.raises(CheckpointMismatchError, match="chunk_size=4 there, 2 now"):
        prepare_store(paths, FoundationEmbedder(**SMALL), out, chunk_size=2)
    embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)
    assert open_store(out).attrs["complete"] is True
    with pytest.raises(FileNotFoundError, match="No store at"):
        open_store(tmp_path / "missing.zarr")
    (tmp_path / "notes").mkdir()
    with pytest.raises(FileExistsError, match="not a Zarr store written by embed_dataset"):
        open_store(tmp_path / "notes")


def test_bad_inputs_are_refused_before_anything_is_written(tiles, tmp_path):
    embedder = FoundationEmbedder(**SMALL)
    out = tmp_path / "emb.zarr"
    with pytest.raises(TypeError, match="single path"):
        embed_dataset(str(tiles.paths[0]), embedder, out)
    with pytest.raises(TypeError, match="must be image paths"):
        embed_dataset(np.zeros((2, 8, 8, 3), np.uint8), embedder, out)
    with pytest.raises(ValueError, match="labels has 2 entries for 3 images"):
        embed_dataset(tiles.paths[:3], embedder, out, labels=["a", "b"])
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        embed_dataset(tiles.paths[:3], embedder, out, chunk_size=0)
    with pytest.raises(TypeError, match="FoundationEmbedder"):
        embed_dataset(tiles.paths[:3], MLPHead(), out)
    assert not out.exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a Zarr store written by embed_dataset"):
        embed_dataset(tiles.paths[:3], embedder, tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_a_bad_image_names_its_file_and_chunk_and_keeps_finished_chunks(tiles, tmp_path):
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(b"not a jpeg")
    paths = [*tiles.paths[:4], broken]
    out = tmp_path / "emb.zarr"
    with pytest.raises(Exception, match="broken.jpeg") as info:
        embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)
    assert "while embedding chunk 1 (images 4 to 7)" in "".join(info.value.__notes__)
    assert zarr.open_group(str(out), mode="r")["done"][:].tolist() == [True, False]


def test_a_relative_or_home_out_is_made_absolute_for_the_workers(tiles, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    seen = []
    real = _dataset.embed_chunk

    def spy(out, index, embedder):
        seen.append((out, embedder.cache))
        return real(out, index, embedder)

    monkeypatch.setattr(_dataset, "embed_chunk", spy)
    embedder = FoundationEmbedder(**SMALL, cache="rel-cache")
    embed_dataset(tiles.paths[:2], embedder, "~/emb.zarr", chunk_size=2)
    assert seen == [(str(tmp_path / "home" / "emb.zarr"), str(tmp_path / "rel-cache"))]
    assert embedder.cache == "rel-cache"  # the caller's embedder is untouched
