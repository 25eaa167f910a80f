"""The one process-wide store: every cache in it, one clear, keys that cannot go stale."""

import dataclasses
import os

import numpy as np
from safetensors.torch import save_file

from skhisto import FoundationEmbedder
from skhisto.backbones import create_backbone, get_backbone_info
from skhisto.embedding import _foundation, forward_count
from skhisto.utils import STORE, ProcessStore, clear_caches, file_digest, file_identity

IMAGES = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
SMALL = dict(backbone="resnet18", pretrained=False, image_size=32, random_state=0)


def test_one_clear_empties_every_table(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    file_digest(path)
    FoundationEmbedder(**SMALL).fit_transform(IMAGES)
    STORE.memo("weights", ("hub", None, "timm", ()), lambda: ("p", "hf:x"))
    assert STORE.models and STORE.digests and STORE.weights and forward_count() > 0
    clear_caches()
    assert not (STORE.models or STORE.digests or STORE.weights or STORE.forwards)
    assert forward_count() == 0


def test_models_are_kept_least_recently_used_first_out():
    store, built = ProcessStore(max_models=2), []

    def build(name):
        built.append(name)
        return name

    for name in ("a", "b", "a", "c", "a", "b"):
        store.model(name, lambda name=name: build(name))
    assert built == ["a", "b", "c", "b"] and list(store.models) == ["a", "b"]


def test_weights_replaced_at_the_same_path_go_through_the_store(tmp_path):
    # The same path twice: two file identities, two digests, two model keys.
    path = tmp_path / "enc.safetensors"
    clear_caches()
    for seed in (1, 2):
        model, _ = create_backbone("resnet18", pretrained=False, random_state=seed)
        save_file(model.state_dict(), path)
        FoundationEmbedder("resnet18", weights=path, image_size=32).fit_transform(IMAGES)
    real = os.path.realpath(path)
    digests = {key: value for key, value in STORE.digests.items() if key[0] == real}
    assert len(digests) == 2 and len(set(digests.values())) == 2
    assert file_identity(path) in STORE.digests
    assert len(STORE.models) == 2  # keyed by fingerprint: the old model is never reused


def test_hub_lookups_are_keyed_by_their_source_not_the_name(monkeypatch):
    calls = []

    def resolve(info, weights, pretrained):
        calls.append(info.hub_id)
        return "/hub/file", f"hf:{info.hub_id}@rev"

    monkeypatch.setattr(_foundation, "resolve_weights", resolve)
    clear_caches()
    info = get_backbone_info("resnet18")
    moved = dataclasses.replace(info, hub_id="someone/other-resnet18")
    for entry in (info, info, moved, moved):
        _foundation._weights_digest(entry, None, True)
    assert calls == [info.hub_id, moved.hub_id]
