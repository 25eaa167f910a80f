"""Users' own backbones: register_backbone, its checks, checkpoint filters, remote code."""

import dataclasses
import sys
import types

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from skhisto import FoundationEmbedder
from skhisto.backbones import (
    BackboneInfo,
    WeightsError,
    create_backbone,
    get_backbone_info,
    list_backbones,
    register_backbone,
    unregister_backbone,
)
from skhisto.backbones._transformers import build_transformers
from skhisto.embedding import embed_images

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
TINY = BackboneInfo(
    "tiny-vit",
    "test_vit",
    64,
    input_size=32,
    mean=(0.7, 0.55, 0.7),
    std=(0.2, 0.25, 0.2),
    family="non-contrastive",
    pretraining="nothing: a test model",
)


@pytest.fixture
def registered():
    """Register entries for one test and remove them after it, whatever happens."""
    names = []

    def register(info, **kwargs):
        register_backbone(info, **kwargs)
        names.append(info.name)
        return info

    yield register
    for name in reversed(names):
        unregister_backbone(name)


def test_a_registered_timm_model_embeds_through_foundation_embedder(registered):
    registered(TINY)
    assert get_backbone_info("tiny-vit") is TINY
    assert "tiny-vit" in [
        row["name"] for row in list_backbones(family="non-contrastive", as_frame=False)
    ]
    embedder = FoundationEmbedder("tiny-vit", pretrained=False, random_state=0)
    out = embedder.fit_transform(IMAGES)
    assert out.shape == (3, 64) and embedder.image_size_ == 32
    model, _ = create_backbone("tiny-vit", pretrained=False, random_state=embedder.seed_)
    direct = embed_images(model, IMAGES, image_size=32, mean=TINY.mean, std=TINY.std)
    np.testing.assert_allclose(out, direct, rtol=1e-5, atol=1e-6)  # its own normalisation


def test_registry_entries_do_not_leak_between_tests():
    assert "tiny-vit" not in [row["name"] for row in list_backbones(as_frame=False)]
    with pytest.raises(ValueError, match="Unknown backbone 'tiny-vit'"):
        get_backbone_info("tiny-vit")


def test_a_name_clash_raises_unless_replace():
    mine = BackboneInfo("resnet18", "resnet18", 512, mean=(0.7, 0.5, 0.7))
    with pytest.raises(ValueError, match="'resnet18' is already registered.*replace=True"):
        register_backbone(mine)
    builtin = get_backbone_info("resnet18")
    register_backbone(mine, replace=True)
    try:
        assert get_backbone_info("resnet18") is mine
    finally:
        assert unregister_backbone("resnet18") is mine
    assert get_backbone_info("resnet18") is builtin  # the built-in entry is back


def test_unregister_only_removes_what_was_registered():
    with pytest.raises(ValueError, match="'uni' was not added with register_backbone"):
        unregister_backbone("uni")
    with pytest.raises(ValueError, match="'never-seen' was not added"):
        unregister_backbone("never-seen")
    assert get_backbone_info("uni").hub_id == "MahmoodLab/UNI"


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(embed_dim=0), r"embed_dim must be a positive int, got 0"),
        (dict(input_size=22.5), r"input_size must be a positive int"),
        (dict(mean=(0.5, 0.5)), r"mean must be 3 numbers"),
        (dict(std=(0.2, 0.0, 0.2)), r"std must be positive"),
        (dict(family="self-taught"), r"family must be one of"),
        (dict(loader="keras"), r"loader must be one of"),
        (dict(pooling="max"), r"pooling must be one of"),
        (dict(gated="yes"), r"gated must be True or False"),
        (dict(weight_files=()), r"weight_files must be a non-empty tuple"),
        (dict(checkpoint_filter=3), r"checkpoint_filter must be a callable"),
        (dict(trust_remote_code=True), r"trust_remote_code applies to loader='transformers'"),
        (
            dict(loader="transformers", checkpoint_filter="vision_transformer"),
            r"checkpoint_filter applies to loader='timm'",
        ),
    ],
)
def test_bad_fields_are_named(fields, match):
    base = dict(name="mine", architecture="resnet18", embed_dim=512)
    with pytest.raises(ValueError, match=rf"Invalid BackboneInfo 'mine': .*{match}"):
        BackboneInfo(**{**base, **fields})


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ValueError, match="embed_dim.*family.*gated"):
        BackboneInfo("mine", "resnet18", -1, family="x", gated=None)


def test_register_checks_what_needs_timm():
    with pytest.raises(TypeError, match=r"'info' parameter of register_backbone .*BackboneInfo"):
        register_backbone({"name": "mine"})
    with pytest.raises(ValueError, match="architecture 'resnet_18' is not a timm model"):
        register_backbone(BackboneInfo("mine", "resnet_18", 512))
    with pytest.raises(ValueError, match="checkpoint_filter='resnet' is not a timm model module"):
        register_backbone(BackboneInfo("mine", "resnet18", 512, checkpoint_filter="resnet"))
    assert "mine" not in [row["name"] for row in list_backbones(as_frame=False)]


def _renamed_checkpoint(path, seed):
    model, _ = create_backbone("resnet18", pretrained=False, random_state=seed)
    # "trunk." is no prefix skhisto strips: only the entry's filter can load it.
    save_file({"trunk." + k: v.clone() for k, v in model.state_dict().items()}, path)
    return model


def drop_trunk(state_dict, model):
    return {k.removeprefix("trunk."): v for k, v in state_dict.items()}


def test_a_checkpoint_filter_converts_the_users_checkpoint(registered, tmp_path):
    model = _renamed_checkpoint(tmp_path / "trunk.safetensors", 5)
    with pytest.raises(WeightsError, match="missing keys"):
        create_backbone("resnet18", weights=tmp_path / "trunk.safetensors")
    registered(BackboneInfo("trunk-resnet", "resnet18", 512, checkpoint_filter=drop_trunk))
    embedder = FoundationEmbedder("trunk-resnet", weights=tmp_path / "trunk.safetensors")
    out = embedder.set_params(image_size=32).fit_transform(IMAGES)
    info = get_backbone_info("resnet18")
    direct = embed_images(model, IMAGES, image_size=32, mean=info.mean, std=info.std)
    np.testing.assert_allclose(out, direct, rtol=1e-5, atol=1e-6)
    assert embedder.fingerprint_["checkpoint_filter"].endswith("drop_trunk")


def test_a_failing_checkpoint_filter_names_the_backbone(registered, tmp_path):
    _renamed_checkpoint(tmp_path / "trunk.safetensors", 5)

    def broken(state_dict, model):
        raise KeyError("head.weight")

    registered(BackboneInfo("broken-resnet", "resnet18", 512, checkpoint_filter=broken))
    with pytest.raises(WeightsError, match="checkpoint_filter of backbone 'broken-resnet' failed"):
        create_backbone("broken-resnet", weights=tmp_path / "trunk.safetensors")


def test_builtin_entries_name_their_timm_converter():
    assert get_backbone_info("ctranspath").checkpoint_filter == "swin_transformer"
    assert get_backbone_info("uni").checkpoint_filter == "vision_transformer"
    assert get_backbone_info("retccl").checkpoint_filter is None
    # timm names passed through: the converter of the module defining the model's class.
    assert get_backbone_info("convnext_tiny").checkpoint_filter == "convnext"
    assert get_backbone_info("botnet26t_256").checkpoint_filter == "byobnet"
    assert get_backbone_info("vit_small_r26_s32_224").checkpoint_filter == "vision_transformer"


@pytest.fixture
def fake_transformers(monkeypatch):
    calls = []

    class Auto:
        @staticmethod
        def from_pretrained(path, **kwargs):
            calls.append(("config", path, kwargs["trust_remote_code"]))
            return types.SimpleNamespace()

        @staticmethod
        def from_config(config, **kwargs):
            calls.append(("model", kwargs["trust_remote_code"]))
            return torch.nn.Identity()

    module = types.SimpleNamespace(AutoModel=Auto, AutoConfig=Auto)
    monkeypatch.setitem(sys.modules, "transformers", module)
    return calls


def test_remote_code_runs_only_for_entries_that_opt_in(fake_transformers, registered, tmp_path):
    remote = BackboneInfo("remote", "AutoModel", 8, loader="transformers", hub_id="me/remote")
    registered(dataclasses.replace(remote, trust_remote_code=True))
    registered(BackboneInfo("plain", "AutoModel", 8, loader="transformers", hub_id="me/plain"))
    build_transformers(get_backbone_info("remote"), tmp_path)  # a checkpoint folder
    build_transformers(get_backbone_info("plain"), None)  # the Hub repository
    assert fake_transformers == [
        ("config", tmp_path, True),
        ("model", True),
        ("config", "me/plain", False),
        ("model", False),
    ]
    # Built-in entries record their published config: none runs code from the Hub.
    trusted = {row["name"] for row in list_backbones(as_frame=False) if row["trust_remote_code"]}
    assert trusted == {"remote"}
