"""Checking a checkpoint before a long job, and the resolution each backbone was trained at."""

import hashlib
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from skhisto import FoundationEmbedder, SlideTiler
from skhisto.backbones import (
    WeightsError,
    check_checkpoint,
    check_resolution,
    create_backbone,
    get_backbone_info,
    list_backbones,
)


@pytest.fixture
def resnet_file(tmp_path):
    def write(seed, name="r18.safetensors"):
        model, _ = create_backbone("resnet18", pretrained=False, random_state=seed)
        save_file(model.state_dict(), tmp_path / name)
        return tmp_path / name

    return write


def test_check_checkpoint_reports_what_it_loaded(resnet_file):
    path = resnet_file(0)
    report = check_checkpoint("resnet18", path)
    assert report["embed_dim"] == report["expected_dim"] == 512
    assert report["digest"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert report["tensors"] == len(create_backbone("resnet18", weights=path)[0].state_dict())
    again = check_checkpoint("resnet18", path)["fingerprint"]
    other = check_checkpoint("resnet18", resnet_file(1, "other.safetensors"))["fingerprint"]
    assert report["fingerprint"] == again != other


def test_check_checkpoint_names_the_key_that_does_not_fit(resnet_file, tmp_path):
    from safetensors.torch import load_file

    state = load_file(resnet_file(0))
    state["layer2.0.conv1.weight"] = state["layer2.0.conv1.weight"][:, :3].contiguous()
    save_file(state, tmp_path / "cut.safetensors")
    with pytest.raises(WeightsError, match=r"layer2\.0\.conv1\.weight: file \(128, 3, 3, 3\)"):
        check_checkpoint("resnet18", tmp_path / "cut.safetensors")


def test_cli_check(run_cli, resnet_file, tmp_path):
    path = resnet_file(0)
    result = run_cli("backbones", "--check", "resnet18", "--weights", str(path))
    assert result.code == 0, result.err
    assert "512 values, fingerprint" in result.out and "conformance  OK" in result.out
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "head_only.pth")
    result = run_cli(
        "backbones", "--check", "resnet18", "--weights", str(tmp_path / "head_only.pth")
    )
    result.assert_one_line_error(1, "head_only.pth", "missing keys: conv1.weight")
    run_cli("backbones", "--check", "resnet18").assert_one_line_error(2, "--weights PATH")
    missing = run_cli("backbones", "--check", "resnet18", "--weights", str(tmp_path / "no.pth"))
    missing.assert_one_line_error(1, "no.pth", "does not exist")


def test_every_pathology_entry_records_its_resolution_and_source():
    rows = {row["name"]: row for row in list_backbones(as_frame=False)}
    assert all(row["source"] for row in rows.values())
    assert rows["prov-gigapath"]["mpp"] == (0.5, 0.5)
    assert rows["ctranspath"]["mpp"] == (1.0, 1.0)  # TransPath: "extract features at 1.0mpp"
    assert rows["resnet18"]["mpp"] is None  # ImageNet: no microscope


def test_check_resolution_warns_only_far_from_the_trained_range():
    uni = get_backbone_info("uni")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not check_resolution(uni, 0.46)  # a 20x scanner's own 0.46
        assert not check_resolution(get_backbone_info("resnet18"), 4.0)  # unknown: silent
    with pytest.warns(UserWarning, match=r"1 um/px \(about 10x\).*0\.5 um/px.*'uni'"):
        assert check_resolution(uni, 1.0)


def test_embedder_warns_on_patches_cut_far_from_the_models_resolution(lc25000_dir, tmp_path):
    from skhisto.datasets import make_slide

    tiles = sorted(str(p) for p in (lc25000_dir / "lung_aca").iterdir())[:4]
    slide = make_slide(tmp_path / "s.tif", tiles, np.arange(4).reshape(2, 2), mpp=0.25)
    table = SlideTiler(patch_size=112, mpp=1.0, min_tissue=0.0, verbose=False).tile(str(slide))
    embedder = FoundationEmbedder("ctranspath", pretrained=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedder.fit(table)  # CTransPath: 1.0 um/px, as its authors advise
    embedder.set_params(backbone="uni")
    with pytest.warns(UserWarning, match=r"Patches at 1 um/px .* backbone 'uni'"):
        embedder.fit(table)
