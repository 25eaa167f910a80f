"""SimCLREmbedder: NT-Xent, augmentations, the sklearn contract, checkpoints and resume."""

import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import child_env
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skhisto import SimCLREmbedder
from skhisto.contrastive import augment_batch, nt_xent_loss
from skhisto.exceptions import CheckpointError, CheckpointMismatchError, NonFiniteError
from skhisto.io import ImageReadError, load_images
from skhisto.utils import CHECKPOINT_FILE, load_checkpoint, save_checkpoint

TINY = dict(image_size=32, batch_size=8, max_epochs=3, lr=1e-3, device="cpu", verbose=False)


def _naive_nt_xent(z1, z2, temperature):
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        sims = [torch.exp(z[i] @ z[k] / temperature) for k in range(n2) if k != i]
        total += -torch.log(torch.exp(z[i] @ z[j] / temperature) / sum(sims))
    return total / n2


def _weights(est):
    return list(est.network_.state_dict().values())


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))


@pytest.fixture(scope="module")
def images(lc25000_small):
    """16 real LC25000 patches decoded at 32 px."""
    return load_images(list(lc25000_small.paths[::19][:16]), 32)


@pytest.fixture(scope="module")
def synthetic_images():
    """16 seeded random 32 px RGB images: no data needed, and no symmetry a rotation could hide."""
    return np.random.default_rng(0).integers(0, 256, size=(16, 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def fitted(images):
    with torch.random.fork_rng():
        torch.use_deterministic_algorithms(True)
        try:
            return SimCLREmbedder(random_state=0, **TINY).fit(images)
        finally:
            torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_naive_reference(temperature):
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    expected = _naive_nt_xent(z1, z2, temperature)
    assert torch.allclose(nt_xent_loss(z1, z2, temperature).double(), expected, atol=1e-5)


def test_nt_xent_is_low_for_aligned_views_and_rejects_bad_shapes():
    z = torch.eye(4)
    assert nt_xent_loss(z, z, 0.1) < nt_xent_loss(z, z.roll(1, dims=0), 0.1)
    with pytest.raises(ValueError, match="N >= 2"):
        nt_xent_loss(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="equal shape"):
        nt_xent_loss(torch.ones(4, 3), torch.ones(4, 2))


def test_augment_keeps_shape_dtype_range_and_is_seeded(synthetic_images):
    batch = torch.from_numpy(synthetic_images).permute(0, 3, 1, 2)
    before = batch.clone()
    a = augment_batch(batch, torch.Generator().manual_seed(1))
    b = augment_batch(batch, torch.Generator().manual_seed(1))
    c = augment_batch(batch, torch.Generator().manual_seed(2))
    assert a.shape == batch.shape and a.dtype == torch.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert torch.equal(batch, before)
    small = augment_batch(batch, torch.Generator().manual_seed(1), output_size=16)
    assert small.shape == (16, 3, 16, 16)


def test_augment_geometry_is_exact_flips_and_rotations(synthetic_images):
    x = torch.from_numpy(synthetic_images).permute(0, 3, 1, 2).float() / 255
    params = dict(crop_scale=(1, 1), crop_ratio=(1, 1), p_jitter=0, p_grayscale=0, p_blur=0)
    out = augment_batch(x, torch.Generator().manual_seed(3), params=params)
    dihedral = torch.stack([torch.rot90(v, k, (2, 3)) for k in range(4) for v in (x, x.flip(-1))])
    errors = (dihedral - out[None]).abs().amax(dim=(2, 3, 4))  # (8 transforms, n images)
    assert errors.min(dim=0).values.max() < 1e-5
    matched = errors.argmin(dim=0).tolist()
    assert len(set(matched)) > 2  # several different rotations/flips were drawn


def test_augment_colour_ops_change_colour_not_geometry(synthetic_images):
    x = torch.from_numpy(synthetic_images).permute(0, 3, 1, 2).float() / 255
    params = dict(crop_scale=(1, 1), crop_ratio=(1, 1), p_jitter=1, p_grayscale=0, p_blur=0)
    gen = torch.Generator().manual_seed(4)
    out = augment_batch(x, gen, params=params)
    assert not torch.allclose(out, x, atol=0.02)
    gray = augment_batch(x, gen, params=dict(params, p_jitter=0, p_grayscale=1))
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])


def test_fit_transform_and_history(fitted, images):
    assert fitted.n_epochs_ == 3 and [r["epoch"] for r in fitted.history_] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and r["time"] > 0 for r in fitted.history_)
    Z = fitted.transform(images)
    assert Z.shape == (16, 512) and Z.dtype == np.float32
    assert fitted.get_feature_names_out()[0] == "simclrembedder0"


@pytest.mark.slow  # trains SimCLR on real patches
def test_same_random_state_same_weights_and_clone(fitted, images):
    torch.use_deterministic_algorithms(True)
    try:
        again = clone(fitted).fit(images)
    finally:
        torch.use_deterministic_algorithms(False)
    assert again.get_params() == fitted.get_params()
    assert _same_weights(again, fitted)
    other = SimCLREmbedder(random_state=1, **dict(TINY, max_epochs=1)).fit(images)
    assert not torch.equal(_weights(other)[0], _weights(fitted)[0])


def test_pickle_round_trip_gives_identical_features(fitted, images):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(images), fitted.transform(images))
    assert restored.history_ == fitted.history_


def test_warm_start_continues_training(fitted, images):
    est = pickle.loads(pickle.dumps(fitted)).set_params(warm_start=True, max_epochs=1)
    est.fit(images[:8])
    assert est.n_epochs_ == 4 and len(est.history_) == 4
    assert est.history_[:3] == fitted.history_ and est.history_[3]["n_images"] == 8
    assert not _same_weights(est, fitted)


@pytest.mark.slow  # trains SimCLR on real patches
def test_training_state_round_trips_and_continues_to_the_same_weights(fitted, images, tmp_path):
    one = dict(TINY, max_epochs=1)
    first = SimCLREmbedder(random_state=0, **one).fit(images)
    torch.save(first.get_training_state(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)  # plain tensors and containers
    restored = SimCLREmbedder(random_state=0, **one).set_training_state(state)
    np.testing.assert_array_equal(restored.transform(images), first.transform(images))
    assert restored.history_ == first.history_ and restored.n_epochs_ == 1
    # The state holds the optimizer and generators too: two more epochs give the 3-epoch fit.
    restored.set_params(warm_start=True, max_epochs=2).fit(images)
    assert restored.n_epochs_ == 3 and _same_weights(restored, fitted)


def test_training_state_of_an_unfitted_estimator_is_refused():
    with pytest.raises(NotFittedError):
        SimCLREmbedder(**TINY).get_training_state()


_KILL_CHILD = """
import os, signal, sys
import numpy as np, torch
torch.set_num_threads(1)
import skhisto.contrastive._simclr as simclr_module
from skhisto import SimCLREmbedder

original = simclr_module.save_checkpoint

def save_then_die(path, payload):
    if payload["state"]["epoch"] == {kill_epoch}:
        # Die in the middle of writing the next checkpoint: a partial temp file is left behind.
        with open(os.path.join(os.path.dirname(path), ".tmp-partial.pt"), "wb") as f:
            f.write(b"partial")
        os.kill(os.getpid(), signal.SIGKILL)
    original(path, payload)

simclr_module.save_checkpoint = save_then_die
images = np.load(sys.argv[1])
SimCLREmbedder(random_state=0, checkpoint_dir=sys.argv[2], **{tiny}).fit(images)
"""


@pytest.mark.slow
def test_killed_fit_resumes_from_last_checkpoint(fitted, images, tmp_path):
    np.save(tmp_path / "images.npy", images)
    ckpt_dir = tmp_path / "ckpt"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_KILL_CHILD.format(kill_epoch=2, tiny=repr(TINY))))
    env = child_env()
    child = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "images.npy"), str(ckpt_dir)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    checkpoint = load_checkpoint(ckpt_dir / CHECKPOINT_FILE)
    assert checkpoint["state"]["epoch"] == 1

    resumed = SimCLREmbedder(random_state=0, checkpoint_dir=ckpt_dir, **TINY).fit(images)
    assert resumed.n_epochs_ == 3
    assert resumed.history_[0] == checkpoint["state"]["history"][0]  # epoch 1 was not retrained
    # Model, optimizer and RNG states were all restored: same weights as an uninterrupted fit.
    assert _same_weights(resumed, fitted)
    assert load_checkpoint(ckpt_dir / CHECKPOINT_FILE)["state"]["epoch"] == 3


@pytest.mark.slow
def test_interrupted_epoch_resumes_to_the_same_weights(fitted, images, tmp_path, monkeypatch):
    import skhisto.contrastive._train as train_module

    real, calls = train_module.augment_batch, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # Ctrl-C in the middle of epoch 2 (4 augment calls per epoch)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "augment_batch", interrupted)
    est = SimCLREmbedder(random_state=0, checkpoint_dir=tmp_path, **TINY)
    with pytest.raises(KeyboardInterrupt):
        est.fit(images)
    assert load_checkpoint(tmp_path / CHECKPOINT_FILE)["state"]["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]
    monkeypatch.setattr(train_module, "augment_batch", real)
    torch.use_deterministic_algorithms(True)
    try:
        est.fit(images)
    finally:
        torch.use_deterministic_algorithms(False)
    assert est.n_epochs_ == 3 and _same_weights(est, fitted)


@pytest.mark.slow  # trains SimCLR on real patches
@pytest.mark.parametrize(
    ("change", "difference"),
    [
        (dict(max_epochs=2), "epochs='0 to 1' there, '0 to 2' now"),
        (dict(lr=1e-2), "lr=0.001 there, 0.01 now"),
        (dict(random_state=1), "random_state=0 there, 1 now"),
        ("other data", "data: not the same"),
    ],
)
def test_checkpoint_of_another_run_is_refused_and_left_untouched(
    images, tmp_path, change, difference
):
    first = SimCLREmbedder(random_state=0, checkpoint_dir=tmp_path, **dict(TINY, max_epochs=1))
    first.fit(images)
    saved = (tmp_path / CHECKPOINT_FILE).read_bytes()
    second = clone(first)
    data = images
    if change == "other data":
        data = images[:8]
    else:
        second.set_params(**change)
    with pytest.raises(CheckpointMismatchError, match=f"belongs to another run.*{difference}"):
        second.fit(data)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == saved
    assert not hasattr(second, "network_")


def test_checkpoint_of_an_older_format_is_refused(images, tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    save_checkpoint(path, {"identity": {"config": "{}", "data": "x", "target": "3"}})
    with pytest.raises(CheckpointMismatchError, match="belongs to another run.*To start afresh"):
        SimCLREmbedder(checkpoint_dir=tmp_path, **TINY).fit(images)
    save_checkpoint(path, {"state": [1, 2]})  # no identity at all
    with pytest.raises(CheckpointMismatchError, match="another version of skhisto"):
        SimCLREmbedder(checkpoint_dir=tmp_path, **TINY).fit(images)
    torch.save({"identity": {}}, path)  # a torch file, as versions before 0.1 wrote
    with pytest.raises(CheckpointError, match="not a skhisto checkpoint"):
        SimCLREmbedder(checkpoint_dir=tmp_path, **TINY).fit(images)


def test_corrupt_checkpoint_raises_clear_error(images, tmp_path):
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        SimCLREmbedder(checkpoint_dir=tmp_path, **TINY).fit(images)


def test_truncated_checkpoint_is_named_and_kept(images, tmp_path):
    SimCLREmbedder(random_state=0, checkpoint_dir=tmp_path, **dict(TINY, max_epochs=1)).fit(images)
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=f"Checkpoint '{path}' cannot be read"):
        SimCLREmbedder(random_state=0, checkpoint_dir=tmp_path, **dict(TINY, max_epochs=1)).fit(
            images
        )
    assert path.stat().st_size == 5000


def test_unwritable_checkpoint_dir_is_refused_before_training(images, tmp_path, monkeypatch):
    import skhisto.contrastive._simclr as simclr_module

    monkeypatch.setattr(
        simclr_module, "train_simclr", lambda *a, **k: pytest.fail("training started")
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=r"checkpoint_dir= directory '.*file/ckpt'"):
        SimCLREmbedder(checkpoint_dir=tmp_path / "file" / "ckpt", **TINY).fit(images)


def test_diverging_loss_raises_and_saves_nothing_non_finite(images, tmp_path):
    est = SimCLREmbedder(random_state=0, checkpoint_dir=tmp_path, **dict(TINY, lr=1e30))
    with pytest.raises(NonFiniteError, match=r"diverged: the loss is nan at epoch 2.*lr="):
        est.fit(images[:8])  # one step per epoch: epoch 1 finishes, epoch 2 diverges
    assert not hasattr(est, "network_")
    state = load_checkpoint(tmp_path / CHECKPOINT_FILE)["state"]
    assert state["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in state["network"].values())


def test_diverging_warm_start_keeps_the_fitted_network(fitted, images):
    est = pickle.loads(pickle.dumps(fitted)).set_params(warm_start=True, lr=1e30, max_epochs=2)
    with pytest.raises(NonFiniteError, match="epoch 4"):
        est.fit(images)
    assert est.n_epochs_ == 3 and _same_weights(est, fitted)


def test_save_encoder_errors_name_the_path_and_leave_no_file(fitted, tmp_path):
    missing = tmp_path / "no-such-dir" / "encoder.safetensors"
    with pytest.raises(FileNotFoundError, match="Cannot write '.*no-such-dir/encoder.safetensors'"):
        fitted.save_encoder(missing)
    with pytest.raises(NotFittedError):
        SimCLREmbedder(**TINY).save_encoder(tmp_path / "encoder.safetensors")
    path = fitted.save_encoder(tmp_path / "encoder.safetensors")
    again = fitted.save_encoder(path)  # replaced whole, no temporary file left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["encoder.safetensors"] and again == path


def test_saved_encoder_loads_into_foundation_embedder(fitted, images, tmp_path):
    skhisto = pytest.importorskip("skhisto")
    if not hasattr(skhisto, "FoundationEmbedder"):
        pytest.skip("FoundationEmbedder not available yet")
    path = fitted.save_encoder(tmp_path / "encoder.safetensors")
    embedder = skhisto.FoundationEmbedder(
        backbone="resnet18", weights=path, image_size=32, device="cpu", verbose=False
    )
    np.testing.assert_allclose(embedder.fit_transform(images), fitted.transform(images), atol=1e-5)


def test_bad_input_names_the_problem(images, fitted, tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        SimCLREmbedder(**TINY).fit(images.astype(np.float32))
    with pytest.raises(ValueError, match="at least 2 images"):
        SimCLREmbedder(**TINY).fit(images[:1])
    with pytest.raises(ValueError, match="temperature"):
        SimCLREmbedder(temperature=0).fit(images)
    with pytest.raises(ValueError, match="safetensors"):
        fitted.save_encoder(tmp_path / "encoder.pt")
    with pytest.raises(ValueError, match="at least one image"):
        SimCLREmbedder(**TINY).fit(np.empty((0, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(16, 32, 32\)"):
        fitted.transform(images[..., 0])
    with pytest.raises(ValueError, match="batch_size"):
        SimCLREmbedder(**dict(TINY, batch_size=1)).fit(images)


def test_truncated_image_path_is_named_before_training(lc25000_small, tmp_path):
    good = str(lc25000_small.paths[0])
    bad = tmp_path / "cut.jpeg"
    data = open(good, "rb").read()
    bad.write_bytes(data[: len(data) // 3])
    est = SimCLREmbedder(checkpoint_dir=tmp_path / "ckpt", **TINY)
    with pytest.raises(ImageReadError, match="cut.jpeg"):
        est.fit([good, str(bad)])
    assert not (tmp_path / "ckpt" / CHECKPOINT_FILE).exists()


@pytest.mark.parametrize("estimator", ["SimCLREmbedder", "ActiveSimCLR"])
def test_vit_image_size_off_the_patch_grid_is_refused_before_decoding(estimator, monkeypatch):
    import skhisto
    import skhisto.contrastive._active_simclr as active_module
    import skhisto.contrastive._simclr as simclr_module

    def no_decoding(*args, **kwargs):
        pytest.fail("images were decoded before the settings were checked")

    monkeypatch.setattr(simclr_module, "load_images", no_decoding)
    monkeypatch.setattr(active_module, "load_images", no_decoding)
    simclr = SimCLREmbedder("vit_tiny_patch16_224", image_size=100, max_epochs=1)
    paths = ["a.png", "b.png"]
    with pytest.raises(ValueError, match=r"image_size=100.*patch.*16.*96.*112"):
        if estimator == "SimCLREmbedder":
            simclr.fit(paths)
        else:
            skhisto.ActiveSimCLR(simclr, batch_size=1, n_rounds=1).fit(
                paths, X_labeled=paths, y_labeled=[0, 1]
            )
