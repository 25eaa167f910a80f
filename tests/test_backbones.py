"""Registry, safe weight loading and backbone construction."""

import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from skhisto.backbones import (
    WeightsError,
    WeightsUnavailableError,
    create_backbone,
    get_backbone_info,
    list_backbones,
)

PATHOLOGY = {
    # name: (embed_dim, mean, family)
    "ctranspath": (768, (0.485, 0.456, 0.406), "contrastive"),
    "retccl": (2048, (0.485, 0.456, 0.406), "contrastive"),
    "pathoduet": (768, (0.0, 0.0, 0.0), "contrastive"),
    "phikon": (768, (0.485, 0.456, 0.406), "non-contrastive"),
    "phikon-v2": (1024, (0.485, 0.456, 0.406), "non-contrastive"),
    "lunit-dino-vits16": (384, (0.70322989, 0.53606487, 0.66096631), "non-contrastive"),
    "lunit-bt-rn50": (2048, (0.70322989, 0.53606487, 0.66096631), "contrastive"),
    "lunit-swav-rn50": (2048, (0.70322989, 0.53606487, 0.66096631), "contrastive"),
    "lunit-mocov2-rn50": (2048, (0.70322989, 0.53606487, 0.66096631), "contrastive"),
    "uni": (1024, (0.485, 0.456, 0.406), "non-contrastive"),
    "uni2-h": (1536, (0.485, 0.456, 0.406), "non-contrastive"),
    "virchow2": (2560, (0.485, 0.456, 0.406), "non-contrastive"),
    "h-optimus-0": (1536, (0.707223, 0.578729, 0.703617), "non-contrastive"),
    "prov-gigapath": (1536, (0.485, 0.456, 0.406), "non-contrastive"),
    "kaiko-vitb16": (768, (0.5, 0.5, 0.5), "non-contrastive"),
    "hibou-b": (768, (0.7068, 0.5755, 0.722), "non-contrastive"),
    "resnet18": (512, (0.485, 0.456, 0.406), "supervised"),
    "resnet50": (2048, (0.485, 0.456, 0.406), "supervised"),
    "vit_small_patch16_224": (384, (0.5, 0.5, 0.5), "supervised"),
}


def test_list_backbones_has_every_model_with_its_preprocessing():
    rows = {row["name"]: row for row in list_backbones(as_frame=False)}
    assert set(PATHOLOGY) <= set(rows)
    for name, (dim, mean, family) in PATHOLOGY.items():
        assert rows[name]["embed_dim"] == dim, name
        assert rows[name]["mean"] == pytest.approx(mean), name
        assert rows[name]["family"] == family, name
        assert len(rows[name]["std"]) == 3 and min(rows[name]["std"]) > 0
    assert {r["name"] for r in list_backbones(family="contrastive", as_frame=False)} >= {
        "ctranspath",
        "retccl",
    }
    gated = {r["name"] for r in list_backbones(as_frame=False) if r["gated"]}
    assert {"uni", "uni2-h", "virchow2", "h-optimus-0", "prov-gigapath"} <= gated


def test_list_backbones_is_a_dataframe_in_the_registry_field_order():
    pd = pytest.importorskip("pandas")
    rows = list_backbones(as_frame=False)
    for as_frame in ("auto", True):
        table = list_backbones(as_frame=as_frame)
        assert isinstance(table, pd.DataFrame)
        assert list(table.columns) == list(rows[0])  # name, architecture, embed_dim, ...
        for row, record in zip(rows, table.to_dict("records"), strict=True):
            for key, value in row.items():  # None (no hub id, no url) is pandas's missing value
                assert pd.isna(record[key]) if value is None else record[key] == value, key
    contrastive = list_backbones(family="contrastive", as_frame=True)
    assert set(contrastive["family"]) == {"contrastive"} and "ctranspath" in set(contrastive.name)


def test_list_backbones_without_pandas(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` fails
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    rows = list_backbones()  # "auto" falls back to the list of dicts
    assert isinstance(rows, list) and rows[0]["name"] == "ctranspath"
    with pytest.raises(ImportError, match=r"as_frame=True\) needs pandas.*skhisto\[pandas\]"):
        list_backbones(as_frame=True)


@pytest.mark.parametrize("as_frame", ["yes", None, 1])
def test_list_backbones_refuses_other_as_frame_values(as_frame):
    with pytest.raises(
        ValueError, match=r"'as_frame' parameter of list_backbones must be .*'auto'"
    ):
        list_backbones(as_frame=as_frame)


@pytest.mark.parametrize("name", [n for n in PATHOLOGY if get_backbone_info(n).loader == "timm"])
def test_registered_architecture_outputs_its_embedding_dim(name):
    # Built on the meta device: shapes are real, no memory or weights needed.
    with torch.device("meta"):
        model, digest = create_backbone(name, pretrained=False, random_state=0)
        out = model(torch.empty(2, 3, 224, 224))
    assert tuple(out.shape) == (2, PATHOLOGY[name][0])
    assert digest.startswith("random:")


def test_timm_names_pass_through_and_unknown_names_fail():
    info = get_backbone_info("mobilenetv3_small_050")
    assert info.embed_dim > 0 and info.input_size == 224
    with pytest.raises(ValueError, match="Unknown backbone 'resnet_18'.*resnet18"):
        get_backbone_info("resnet_18")


def test_random_init_is_reproducible_and_seeded():
    a, _ = create_backbone("resnet18", pretrained=False, random_state=0)
    b, _ = create_backbone("resnet18", pretrained=False, random_state=0)
    c, _ = create_backbone("resnet18", pretrained=False, random_state=1)
    wa, wb, wc = (m.conv1.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert not a.training and not any(p.requires_grad for p in a.parameters())


def test_pretrained_without_source_never_falls_back_to_random():
    with pytest.raises(WeightsUnavailableError, match="weights='/path/to/file'"):
        create_backbone("retccl")
    with pytest.raises(WeightsUnavailableError, match="gated.*weights="):
        create_backbone("uni")  # HF_HUB_OFFLINE=1 in the test session


def _reference(tmp_path, prefix=""):
    model, _ = create_backbone("resnet18", pretrained=False, random_state=3)
    return model, {prefix + k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("suffix", [".safetensors", ".pth", ".bin"])
def test_local_weights_load_with_prefixes_stripped(tmp_path, suffix):
    reference, state = _reference(tmp_path, prefix="module.backbone.")
    state["fc.weight"] = torch.zeros(10, 512)  # a classifier head is ignored
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file(state, path)
    else:
        torch.save({"state_dict": state, "epoch": 3}, path)
    model, digest = create_backbone("resnet18", weights=path)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(model(x), reference(x))
    assert digest.startswith("sha256:")


def test_wrong_keys_raise_naming_the_problem(tmp_path):
    _, state = _reference(tmp_path)
    del state["layer4.1.bn2.weight"]
    state["layer9.weight"] = torch.zeros(1)
    path = tmp_path / "wrong.safetensors"
    save_file(state, path)
    with pytest.raises(WeightsError, match=r"missing keys.*layer4\.1\.bn2\.weight"):
        create_backbone("resnet18", weights=path)
    save_file({k: v for k, v in _reference(tmp_path)[1].items()}, tmp_path / "ok.safetensors")
    with pytest.raises(WeightsError, match="shape mismatches"):
        create_backbone("resnet50", weights=tmp_path / "ok.safetensors")


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/skhisto_pwned",))


def test_pickle_with_code_payload_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _Payload()}, f)
    with pytest.raises(WeightsError, match="Refusing to load"):
        create_backbone("resnet18", weights=path)
    assert not os.path.exists("/tmp/skhisto_pwned")


def test_missing_or_garbage_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        create_backbone("resnet18", weights=tmp_path / "nope.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(WeightsError, match="junk.safetensors"):
        create_backbone("resnet18", weights=tmp_path / "junk.safetensors")


def test_ctranspath_convstem_loads_its_own_checkpoint_layout(tmp_path):
    model, _ = create_backbone("ctranspath", pretrained=False, random_state=0)
    keys = [k for k in model.state_dict() if k.startswith("patch_embed.proj")]
    assert "patch_embed.proj.0.weight" in keys and "patch_embed.proj.6.bias" in keys
    save_file(
        {"model." + k: v for k, v in model.state_dict().items()}, tmp_path / "ctp.safetensors"
    )
    loaded, _ = create_backbone("ctranspath", weights=tmp_path / "ctp.safetensors")
    x = torch.rand(1, 3, 224, 224)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_ctranspath_checkpoint_in_the_timm_0_5_layout_loads(tmp_path):
    # CTransPath's published file predates timm 1.0: Swin downsampled at the end of each
    # stage (layers.i.downsample), and relative_position_index buffers were saved.
    import re

    model, _ = create_backbone("ctranspath", pretrained=False, random_state=0)
    legacy = {}
    for key, value in model.state_dict().items():
        match = re.match(r"layers\.(\d+)\.downsample(.*)", key)
        if match:
            key = f"layers.{int(match.group(1)) - 1}.downsample{match.group(2)}"
        legacy[key] = value
    legacy["layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(49, 49, dtype=torch.long)
    torch.save({"model": legacy}, tmp_path / "ctranspath.pth")
    loaded, _ = create_backbone("ctranspath", weights=tmp_path / "ctranspath.pth")
    x = torch.rand(1, 3, 224, 224)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
