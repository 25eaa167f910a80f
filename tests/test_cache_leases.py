"""Parallel workers sharing one cache embed each image once: leases on chunks of keys,
waits instead of duplicates, and stale leases of killed processes taken over."""

import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skhisto import FoundationEmbedder
from skhisto.embedding import EmbeddingCache, forward_count
from skhisto.embedding._keys import array_keys
from skhisto.embedding._leases import KeyLeases, Lease

SMALL = dict(backbone="resnet18", pretrained=False, image_size=32, random_state=0, batch_size=8)
IMAGES = np.random.default_rng(0).integers(0, 256, (90, 32, 32, 3), dtype=np.uint8)


def _rows(cache_dir):
    embedder = FoundationEmbedder(**SMALL).fit(IMAGES[:1])
    return EmbeddingCache(cache_dir, embedder.fingerprint_).stats()


WORKER = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from skhisto import FoundationEmbedder
from skhisto.embedding import forward_count
images = np.load(sys.argv[1])[int(sys.argv[2]) : int(sys.argv[3])]
FoundationEmbedder(**{small!r}, cache=sys.argv[4]).fit_transform(images)
print(forward_count())
"""


@pytest.mark.slow
def test_two_processes_with_overlapping_images_embed_each_once(tmp_path):
    np.save(tmp_path / "images.npy", IMAGES)
    script = textwrap.dedent(WORKER.format(small=SMALL))
    spans = [(0, 60), (30, 90)]  # 30 images in common, 90 distinct
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                str(tmp_path / "images.npy"),
                str(a),
                str(b),
                str(tmp_path / "cache"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a, b in spans
    ]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        counts.append(int(out.split()[-1]))
    assert sum(counts) == 90, counts
    stats = _rows(tmp_path / "cache")
    assert stats["rows"] == stats["entries"] == 90


def test_two_threads_with_overlapping_images_embed_each_once(tmp_path):
    before = forward_count()

    def transform(span):
        embedder = FoundationEmbedder(**SMALL, cache=tmp_path / "cache").fit(IMAGES)
        return embedder.transform(IMAGES[span[0] : span[1]])

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(transform, [(0, 60), (30, 90)])
    assert forward_count() - before == 90
    assert _rows(tmp_path / "cache")["rows"] == 90
    np.testing.assert_array_equal(first[30:], second[:30])


@pytest.mark.slow
def test_a_parallel_grid_search_on_an_empty_cache_embeds_each_image_once(lc25000_small, tmp_path):
    paths, y = lc25000_small.paths[::5], lc25000_small.target[::5]  # 60 tiles
    pipe = Pipeline(
        [
            ("embed", FoundationEmbedder(**SMALL, cache=tmp_path / "cache")),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=3, n_jobs=2).fit(paths, y)
    embedder = FoundationEmbedder(**SMALL).fit(paths)
    assert EmbeddingCache(tmp_path / "cache", embedder.fingerprint_).stats()["rows"] == 60


HOLDER = """
import sys, time, numpy as np
from pathlib import Path
from skhisto.embedding._leases import Lease
Lease(Path(sys.argv[1]), np.load(sys.argv[2]))
print("held", flush=True)
time.sleep(600)
"""


def test_a_lease_of_a_killed_process_does_not_block_the_next_run(tmp_path):
    embedder = FoundationEmbedder(**SMALL, cache=tmp_path / "cache").fit(IMAGES)
    leases = KeyLeases(EmbeddingCache(tmp_path / "cache", embedder.fingerprint_).directory)
    np.save(tmp_path / "keys.npy", array_keys(IMAGES[:10]))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(leases.folder), str(tmp_path / "keys.npy")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert len(list(leases.folder.glob("*.keys"))) == 1  # left behind by the dead process
    before = forward_count()
    embedder.transform(IMAGES[:10])
    assert forward_count() - before == 10  # embedded here, not waited for
    assert list(leases.folder.glob("*.keys")) == []


def test_a_process_waits_for_keys_another_is_embedding_and_reads_them_from_the_cache(tmp_path):
    embedder = FoundationEmbedder(**SMALL, cache=tmp_path / "cache").fit(IMAGES)
    cache = EmbeddingCache(tmp_path / "cache", embedder.fingerprint_)
    keys = array_keys(IMAGES[:10])
    lease = Lease(KeyLeases(cache.directory).folder, keys)  # "another worker" holds them
    result, before = {}, forward_count()
    waiter = threading.Thread(target=lambda: result.update(out=embedder.transform(IMAGES[:10])))
    waiter.start()
    time.sleep(1.0)
    assert waiter.is_alive() and forward_count() == before  # waiting, not embedding
    reference = FoundationEmbedder(**SMALL).fit_transform(IMAGES[:10])
    before = forward_count()
    cache.store(keys, reference)  # the other worker stores its chunk, then releases
    lease.release()
    waiter.join(timeout=60)
    assert not waiter.is_alive() and forward_count() == before
    np.testing.assert_array_equal(result["out"], reference)
