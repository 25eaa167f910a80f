"""FoundationEmbedder on real LC25000 images: determinism, sklearn contract, cache."""

import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skhisto import FoundationEmbedder
from skhisto.backbones import WeightsError, create_backbone
from skhisto.embedding import forward_count
from skhisto.embedding._shards import Shard
from skhisto.io import ImageReadError
from skhisto.utils import STORE, clear_caches

SMALL = dict(backbone="resnet18", pretrained=False, image_size=64, random_state=0)


@pytest.mark.slow
def test_acceptance_300_paths_give_identical_arrays(lc25000_small):
    paths = list(lc25000_small.paths)
    assert len(paths) == 300
    first = FoundationEmbedder(**SMALL).fit_transform(paths)
    clear_caches()  # the second embedder builds its backbone afresh
    second = FoundationEmbedder(**SMALL).fit_transform(paths)
    assert first.shape == (300, 512) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert np.isfinite(first).all() and first.std(axis=0).mean() > 0


def test_arrays_and_paths_agree_and_input_is_untouched(lc25000_small):
    from skhisto.datasets import load_image_folder

    data = load_image_folder(
        lc25000_small.paths[0].rsplit("/", 2)[0], max_per_class=4, load_images=True
    )
    images = data.images.copy()
    embedder = FoundationEmbedder(**SMALL).fit(data.images)
    from_arrays = embedder.transform(data.images)
    from_paths = embedder.transform(data.paths)
    np.testing.assert_allclose(from_arrays, from_paths, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(images, data.images)


def test_sklearn_contract(lc25000_small, tmp_path):
    paths = lc25000_small.paths[:6]
    embedder = FoundationEmbedder(**SMALL, cache=tmp_path).fit(paths)
    assert clone(embedder).get_params() == embedder.get_params()
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(paths), embedder.transform(paths))
    names = embedder.get_feature_names_out()
    assert names[0] == "resnet18_0" and len(names) == 512
    frame = embedder.set_output(transform="pandas").transform(paths)
    assert list(frame.columns[:2]) == ["resnet18_0", "resnet18_1"] and frame.shape == (6, 512)
    with pytest.raises(ValueError, match="batch_size"):
        FoundationEmbedder(batch_size=0).fit(paths)
    with pytest.raises(ValueError, match="Unknown backbone 'not-a-model'"):
        FoundationEmbedder("not-a-model").fit(paths)


def test_no_work_before_transform(lc25000_small):
    clear_caches()
    FoundationEmbedder(**SMALL)
    FoundationEmbedder(**SMALL).fit(lc25000_small.paths[:3])
    assert len(STORE.models) == 0


def test_model_is_shared_across_clones(lc25000_small):
    clear_caches()
    embedder = FoundationEmbedder(**SMALL).fit(lc25000_small.paths[:2])
    embedder.transform(lc25000_small.paths[:2])
    clone(embedder).fit(lc25000_small.paths[:2]).transform(lc25000_small.paths[:2])
    assert len(STORE.models) == 1


def test_cached_second_pass_never_loads_the_backbone(lc25000_small, tmp_path):
    paths = list(lc25000_small.paths[:40])
    first = FoundationEmbedder(**SMALL, cache=tmp_path).fit_transform(paths)
    clear_caches()
    before = forward_count()
    second = FoundationEmbedder(**SMALL, cache=tmp_path).fit_transform(paths[::-1])
    assert forward_count() == before and len(STORE.models) == 0
    np.testing.assert_array_equal(second, first[::-1])
    # Another backbone fingerprint does not reuse these entries.
    other = FoundationEmbedder(**{**SMALL, "random_state": 1}, cache=tmp_path).fit_transform(
        paths[:2]
    )
    assert not np.allclose(other, first[:2])


@pytest.mark.slow  # trains on real patches
def test_gridsearch_embeds_each_distinct_image_at_most_once(lc25000_small, tmp_path):
    paths, y = lc25000_small.paths[::3], lc25000_small.target[::3]
    pipe = Pipeline(
        [
            ("embed", FoundationEmbedder(**SMALL, cache=tmp_path)),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    before = forward_count()
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=5).fit(paths, y)
    assert forward_count() - before <= len(np.unique(paths))
    assert search.best_score_ > 1 / 3  # random-init features still beat chance on LC25000


def test_corrupted_shard_is_detected_and_recomputed(lc25000_small, tmp_path):
    paths = list(lc25000_small.paths[:10])
    reference = FoundationEmbedder(**SMALL, cache=tmp_path).fit_transform(paths)
    (shard,) = tmp_path.glob("*/shard-*.emb")
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    before = forward_count()
    with pytest.warns(UserWarning, match="corrupted cache shard"):
        again = FoundationEmbedder(**SMALL, cache=tmp_path).fit_transform(paths)
    assert forward_count() - before == 10
    np.testing.assert_array_equal(again, reference)


def _assert_cache_intact(root):
    assert not list(root.glob("*/.tmp-*")) + list(root.glob("*/.*.tmp")), "a partial file"
    for path in root.glob("*/shard-*.emb"):
        shard = Shard(path)  # header, keys and digests verify
        shard.read(np.arange(shard.rows), shard.take_keys())  # and so does every row


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("truncated", ImageReadError, "cut.jpeg"),
        ("missing", FileNotFoundError, "missing.jpeg"),
    ],
)
def test_bad_files_raise_and_leave_no_partial_entry(lc25000_small, tmp_path, bad, error, match):
    good = list(lc25000_small.paths[:5])
    if bad == "truncated":
        data = open(good[0], "rb").read()
        (tmp_path / "cut.jpeg").write_bytes(data[:2000])
        bad_path = str(tmp_path / "cut.jpeg")
    else:
        bad_path = str(tmp_path / "missing.jpeg")
    cache = tmp_path / "cache"
    with pytest.raises(error, match=match):
        FoundationEmbedder(**SMALL, cache=cache).fit_transform(good + [bad_path])
    _assert_cache_intact(cache)


def test_bad_arrays_and_weights_raise(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        FoundationEmbedder(**SMALL).fit(np.zeros((2, 32, 32, 3), dtype=np.float64))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 32, 32\)"):
        FoundationEmbedder(**SMALL).fit(np.zeros((2, 3, 32, 32), np.uint8))
    from safetensors.torch import save_file

    model, _ = create_backbone("resnet50", pretrained=False, random_state=0)
    save_file(model.state_dict(), tmp_path / "rn50.safetensors")
    images = np.zeros((2, 32, 32, 3), np.uint8)
    embedder = FoundationEmbedder(
        "resnet18", weights=tmp_path / "rn50.safetensors", cache=tmp_path / "c"
    )
    with pytest.raises(WeightsError, match="do not fit"):
        embedder.fit_transform(images)
    _assert_cache_intact(tmp_path / "c")


WORKER = textwrap.dedent(
    """
    import sys, numpy as np
    import torch; torch.set_num_threads(1)
    from skhisto.embedding import _foundation
    from skhisto import FoundationEmbedder
    from skhisto.datasets import load_image_folder
    _foundation.SHARD_SIZE = 16
    data = load_image_folder(sys.argv[1], max_per_class=40, random_state=0)
    out = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0,
                             batch_size=8, cache=sys.argv[2]).fit_transform(list(data.paths))
    np.save(sys.argv[3], out)
    """
)


def _spawn(tmp_path, lc25000_dir, name):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / f"{name}.npy"
    cmd = [sys.executable, str(script), str(lc25000_dir), str(tmp_path / "cache"), str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE), out


@pytest.mark.slow
def test_killed_run_resumes_from_finished_shards(tmp_path, lc25000_dir):
    proc, _ = _spawn(tmp_path, lc25000_dir, "killed")
    deadline = time.time() + 120
    while len(list(tmp_path.glob("cache/*/shard-*.emb"))) < 2 and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sum(Shard(s).rows for s in tmp_path.glob("cache/*/shard-*.emb"))
    assert 16 <= done < 120  # at least the two shards seen, not everything
    _assert_cache_intact(tmp_path / "cache")
    proc, out = _spawn(tmp_path, lc25000_dir, "resumed")
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    total = sum(Shard(s).rows for s in tmp_path.glob("cache/*/shard-*.emb"))
    assert total == 120  # the resumed run embedded only what was missing
    from skhisto.datasets import load_image_folder

    data = load_image_folder(lc25000_dir, max_per_class=40, random_state=0)
    direct = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=32, random_state=0
    ).fit_transform(list(data.paths))
    np.testing.assert_allclose(np.load(out), direct, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_two_processes_share_a_cache_safely(tmp_path, lc25000_dir):
    (a, out_a), (b, out_b) = _spawn(tmp_path, lc25000_dir, "a"), _spawn(tmp_path, lc25000_dir, "b")
    assert a.wait(timeout=300) == 0 and b.wait(timeout=300) == 0, b.stderr.read().decode()
    np.testing.assert_array_equal(np.load(out_a), np.load(out_b))
    _assert_cache_intact(tmp_path / "cache")
