"""Registry conformance: every entry loads its authors' checkpoint layout and embeds as they do.

Each recipe below is written from its published source (cited next to the values), not from
skhisto's registry: the reference model is built with the authors' own arguments (timm kwargs,
transformers config, torchvision ResNet, their model code), seeded, saved in the layout they
publish, loaded through ``FoundationEmbedder(name, weights=...)``, and the embedding must equal
the published forward (pooling rule included) within 1e-5. Large models run at reduced depth;
at full size their keys and shapes are compared on the meta device.
"""

import dataclasses
import re

import numpy as np
import pytest
import timm
import torch
import torch.nn as nn
import torchvision
from safetensors.torch import save_file
from timm.layers import SwiGLUPacked, to_2tuple

from skhisto import FoundationEmbedder
from skhisto.backbones import (
    WeightsError,
    create_backbone,
    get_backbone_info,
    register_backbone,
    unregister_backbone,
)
from skhisto.backbones._build import build_architecture, convert_checkpoint
from skhisto.backbones._register import BUILTIN

transformers = pytest.importorskip("transformers")

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
LUNIT = ((0.70322989, 0.53606487, 0.66096631), (0.21716536, 0.26081574, 0.20723464))
HOPTIMUS = ((0.707223, 0.578729, 0.703617), (0.211883, 0.230117, 0.177517))
HIBOU = ((0.7068, 0.5755, 0.7220), (0.1950, 0.2316, 0.1816))
HALF = ((0.5,) * 3, (0.5,) * 3)
UNIT = ((0.0,) * 3, (1.0,) * 3)


@dataclasses.dataclass
class Recipe:
    """How the authors build, save and run a model."""

    build: object  # (depth or None) -> reference nn.Module, randomly initialised
    embed: object  # (model, normalised input) -> embedding
    save: object  # (model, folder) -> path of the checkpoint in the published layout
    stats: tuple  # the published (mean, std)
    depth: dict | None = None  # reduced-depth override of the registry recipe; None: full size
    size: int = 224


# Published forwards ---------------------------------------------------------------------


def class_token(model, x):  # timm num_classes=0, global_pool "token" (and torchvision, fc=Id)
    return model(x)


def cls_and_mean(registers):
    # Virchow / Virchow2 model cards: tokens = model(x) with global_pool "";
    # torch.cat([tokens[:, 0], tokens[:, 1 + registers:].mean(1)], dim=-1)
    def embed(model, x):
        tokens = model(x)
        return torch.cat([tokens[:, 0], tokens[:, 1 + registers :].mean(1)], dim=-1)

    return embed


def last_hidden_cls(model, x):  # phikon README: outputs.last_hidden_state[:, 0, :]
    return model(pixel_values=x).last_hidden_state[:, 0]


def pooler_output(model, x):  # hibou example.ipynb: outputs.pooler_output
    return model(pixel_values=x).pooler_output


# Published layouts ----------------------------------------------------------------------


def torch_file(name, wrap=None, extra=None):
    def save(model, folder):
        state = {k: v.clone() for k, v in model.state_dict().items()}
        state.update(extra(model) if extra else {})
        path = folder / name
        torch.save({wrap: state} if wrap else state, path)
        return path

    return save


def safetensors_file(name):
    def save(model, folder):
        path = folder / name
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
        return path

    return save


def hub_folder(model, folder):  # transformers save_pretrained: config.json + model.safetensors
    model.save_pretrained(folder / "hub")
    return folder / "hub"


def hub_single_file(model, folder):  # the folder's model.safetensors alone
    model.save_pretrained(folder / "hub")
    return folder / "hub" / "model.safetensors"


def timm_0_5_swin(model, folder):
    # TransPath's ctranspath.pth: {"model": state_dict} saved with timm 0.5.4, whose Swin
    # downsamples at the end of a stage and keeps relative_position_index and attn_mask.
    legacy = {}
    for key, value in model.state_dict().items():
        match = re.match(r"layers\.(\d+)\.downsample(.*)", key)
        if match:
            key = f"layers.{int(match.group(1)) - 1}.downsample{match.group(2)}"
        legacy[key] = value.clone()
    for name, module in model.named_modules():
        for buffer in ("relative_position_index", "attn_mask"):
            if getattr(module, buffer, None) is not None:
                legacy[f"{name}.{buffer}"] = getattr(module, buffer).clone()
    path = folder / "ctranspath.pth"
    torch.save({"model": legacy}, path)
    return path


# Reference builders ---------------------------------------------------------------------


def timm_recipe(architecture, **kwargs):
    def build(depth=None):
        args = dict(kwargs, **({"depth": depth} if depth else {}))
        return timm.create_model(architecture, pretrained=False, **args)

    return build


class TransPathConvStem(nn.Module):
    # github.com/Xiyue-Wang/TransPath ctran.py ConvStem, as published.
    def __init__(self, img_size=224, patch_size=4, in_chans=3, embed_dim=768, norm_layer=None, **_):
        super().__init__()
        stem, input_dim, output_dim = [], 3, embed_dim // 8
        for _ in range(2):
            stem.append(
                nn.Conv2d(input_dim, output_dim, kernel_size=3, stride=2, padding=1, bias=False)
            )
            stem.append(nn.BatchNorm2d(output_dim))
            stem.append(nn.ReLU(inplace=True))
            input_dim, output_dim = output_dim, output_dim * 2
        stem.append(nn.Conv2d(input_dim, embed_dim, kernel_size=1))
        self.proj = nn.Sequential(*stem)
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()
        self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        self.grid_size = tuple(s // p for s, p in zip(self.img_size, self.patch_size, strict=True))
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


def torchvision_resnet(architecture):
    # RetCCL (ResNet.py, torchvision names; fc = nn.Identity() before load_state_dict strict)
    # and Lunit's ResNetTrunk (torchvision ResNet with `del self.fc`).
    def build(depth=None):
        model = getattr(torchvision.models, architecture)()
        model.fc = nn.Identity()
        return model

    return build


torchvision_resnet50 = torchvision_resnet("resnet50")
torchvision_resnet18 = torchvision_resnet("resnet18")


class PathoDuetReference(nn.Module):
    """github.com/openmedlab/PathoDuet vits.py VisionTransformerMoCo(pretext_token=True,
    global_pool='avg') on timm's ViT-B/16: [pretext, cls, patches] + a 198-row pos_embed,
    all 198 tokens through every block, features = fc_norm(mean of x[:, 2:])."""

    def __init__(self, depth=None):
        super().__init__()
        vit = timm.create_model(
            "vit_base_patch16_224", pretrained=False, global_pool="avg", depth=depth or 12
        )  # timm's default head: Linear(768, 1000), kept in the published file
        self.vit = vit
        self.pretext_token = nn.Parameter(torch.randn(1, 1, 768) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 198, 768) * 0.02)

    def forward(self, x):
        vit, batch = self.vit, x.shape[0]
        x = vit.patch_embed(x)
        x = torch.cat((vit.cls_token.expand(batch, -1, -1), x), dim=1)
        x = torch.cat((self.pretext_token.expand(batch, -1, -1), x), dim=1)
        x = vit.blocks(x + self.pos_embed)
        x = vit.norm(x)  # Identity: global_pool="avg" moves the LayerNorm to fc_norm
        return vit.fc_norm(x[:, 2:].mean(dim=1))

    def published_state_dict(self):
        state = {k: v.clone() for k, v in self.vit.state_dict().items()}
        state.update(pos_embed=self.pos_embed.detach().clone(), pretext_token=self.pretext_token)
        return {k: v.detach().clone() for k, v in state.items()}


def pathoduet_file(model, folder):  # checkpoint_HE.pth: a flat state dict
    path = folder / "checkpoint_HE.pth"
    torch.save(model.published_state_dict(), path)
    return path


def transformers_recipe(config_class, model_class, **config):
    def build(depth=None):
        args = dict(config, **({"num_hidden_layers": depth} if depth else {}))
        cls = getattr(transformers, model_class)
        kwargs = {"add_pooling_layer": False} if model_class == "ViTModel" else {}
        return cls(getattr(transformers, config_class)(**args), **kwargs)

    return build


def _lunit_vit(depth=None):
    # lunit-io/benchmark-ssl-pathology: VisionTransformer(img_size=224, patch_size=16,
    # embed_dim=384, num_heads=6, num_classes=0); flat .torch state dict, strict load.
    return timm.models.vision_transformer.VisionTransformer(
        img_size=224, patch_size=16, embed_dim=384, num_heads=6, num_classes=0
    )


DEPTH2 = {"depth": 2}
LAYERS2 = {"num_hidden_layers": 2}
SWIGLU = {"mlp_layer": SwiGLUPacked, "act_layer": nn.SiLU}

# bioptimus/H-optimus-0 config.json + card: create_model(..., init_values=1e-5,
# dynamic_img_size=False); H-optimus-1 the same recipe.
HOPTIMUS_RECIPE = timm_recipe(
    "vit_giant_patch14_reg4_dinov2",
    img_size=224,
    num_classes=0,
    global_pool="token",
    init_values=1e-5,
    dynamic_img_size=False,
)


def virchow_recipe(**registers):
    # paige-ai/Virchow config.json model_args + model card (SwiGLUPacked, SiLU); Virchow2's
    # config adds reg_tokens=4, and its card averages tokens[:, 5:].
    return timm_recipe(
        "vit_huge_patch14_224",
        img_size=224,
        init_values=1e-5,
        num_classes=0,
        mlp_ratio=5.3375,
        global_pool="",
        dynamic_img_size=True,
        **SWIGLU,
        **registers,
    )


RECIPES = {
    # TransPath ctran.py: timm.create_model('swin_tiny_patch4_window7_224', embed_layer=ConvStem)
    # with head = Identity; features: the 768-d average pooled tokens.
    "ctranspath": Recipe(
        timm_recipe("swin_tiny_patch4_window7_224", embed_layer=TransPathConvStem, num_classes=0),
        class_token,
        timm_0_5_swin,
        IMAGENET,
    ),
    # RetCCL get_feature.py: ResNet50, fc = Identity, best_ckpt.pth flat; Resize(256).
    "retccl": Recipe(
        torchvision_resnet50, class_token, torch_file("best_ckpt.pth"), IMAGENET, size=256
    ),
    "pathoduet": Recipe(PathoDuetReference, class_token, pathoduet_file, UNIT),
    # huggingface.co/owkin/phikon config.json; ViTModel.from_pretrained(add_pooling_layer=False).
    "phikon": Recipe(
        transformers_recipe(
            "ViTConfig",
            "ViTModel",
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            image_size=224,
            patch_size=16,
            qkv_bias=True,
            layer_norm_eps=1e-12,
        ),
        last_hidden_cls,
        hub_folder,
        IMAGENET,
        depth=LAYERS2,
    ),
    # owkin/phikon-v2: AutoModel (Dinov2Model, ViT-L/16), last_hidden_state[:, 0].
    "phikon-v2": Recipe(
        transformers_recipe(
            "Dinov2Config",
            "Dinov2Model",
            hidden_size=1024,
            num_hidden_layers=24,
            num_attention_heads=16,
            mlp_ratio=4,
            image_size=224,
            patch_size=16,
            layer_norm_eps=1e-6,
        ),
        last_hidden_cls,
        hub_single_file,
        IMAGENET,
        depth=LAYERS2,
    ),
    "lunit-dino-vits16": Recipe(_lunit_vit, class_token, torch_file("dino.torch"), LUNIT),
    "lunit-bt-rn50": Recipe(torchvision_resnet50, class_token, torch_file("bt.torch"), LUNIT),
    "lunit-swav-rn50": Recipe(torchvision_resnet50, class_token, torch_file("swav.torch"), LUNIT),
    "lunit-mocov2-rn50": Recipe(
        torchvision_resnet50, class_token, torch_file("mocov2.torch"), LUNIT
    ),
    # mahmoodlab/UNI get_encoder.py uni_kwargs; pytorch_model.bin flat, strict=True.
    "uni": Recipe(
        timm_recipe(
            "vit_large_patch16_224",
            img_size=224,
            patch_size=16,
            init_values=1e-5,
            num_classes=0,
            dynamic_img_size=True,
        ),
        class_token,
        torch_file("pytorch_model.bin"),
        IMAGENET,
        depth=DEPTH2,
    ),
    # mahmoodlab/UNI README, UNI2-h timm_kwargs.
    "uni2-h": Recipe(
        timm_recipe(
            "vit_giant_patch14_224",
            img_size=224,
            patch_size=14,
            depth=24,
            num_heads=24,
            init_values=1e-5,
            embed_dim=1536,
            mlp_ratio=2.66667 * 2,
            num_classes=0,
            no_embed_class=True,
            reg_tokens=8,
            dynamic_img_size=True,
            **SWIGLU,
        ),
        class_token,
        torch_file("pytorch_model.bin"),
        IMAGENET,
        depth=DEPTH2,
    ),
    "virchow": Recipe(
        virchow_recipe(), cls_and_mean(0), safetensors_file("model.safetensors"), IMAGENET, DEPTH2
    ),
    "virchow2": Recipe(
        virchow_recipe(reg_tokens=4),
        cls_and_mean(4),
        torch_file("pytorch_model.bin"),
        IMAGENET,
        DEPTH2,
    ),
    "h-optimus-0": Recipe(
        HOPTIMUS_RECIPE, class_token, torch_file("pytorch_model.bin"), HOPTIMUS, depth=DEPTH2
    ),
    "h-optimus-1": Recipe(
        HOPTIMUS_RECIPE, class_token, safetensors_file("model.safetensors"), HOPTIMUS, depth=DEPTH2
    ),
    # prov-gigapath/prov-gigapath config.json: patch 16 (197 positions), mlp_ratio 5.33334.
    "prov-gigapath": Recipe(
        timm_recipe(
            "vit_giant_patch14_dinov2",
            img_size=224,
            in_chans=3,
            patch_size=16,
            embed_dim=1536,
            depth=40,
            num_heads=24,
            init_values=1e-5,
            mlp_ratio=5.33334,
            num_classes=0,
        ),
        class_token,
        torch_file("pytorch_model.bin"),
        IMAGENET,
        depth=DEPTH2,
    ),
    # kaiko-ai/towards_large_pathology_fms hubconf.py: vit_base_patch16_224, num_classes=0.
    "kaiko-vitb16": Recipe(
        timm_recipe("vit_base_patch16_224", num_classes=0, dynamic_img_size=True),
        class_token,
        torch_file("vitb16.pth"),
        HALF,
    ),
    # histai/hibou-b config.json (DINOv2 with 4 registers, SwiGLU); pooler_output.
    "hibou-b": Recipe(
        transformers_recipe(
            "Dinov2WithRegistersConfig",
            "Dinov2WithRegistersModel",
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            mlp_ratio=4,
            image_size=224,
            patch_size=14,
            layer_norm_eps=1e-6,
            use_swiglu_ffn=True,
            num_register_tokens=4,
        ),
        pooler_output,
        hub_folder,
        HIBOU,
        depth=LAYERS2,
    ),
    "resnet18": Recipe(torchvision_resnet18, class_token, torch_file("resnet18.pth"), IMAGENET),
    "resnet50": Recipe(torchvision_resnet50, class_token, torch_file("resnet50.pth"), IMAGENET),
    "vit_small_patch16_224": Recipe(
        timm_recipe("vit_small_patch16_224", num_classes=0),
        class_token,
        safetensors_file("model.safetensors"),
        HALF,
    ),
}
SLOW = {"uni2-h", "virchow", "virchow2", "h-optimus-0", "h-optimus-1", "prov-gigapath"}


def test_every_builtin_entry_is_conformance_tested():
    # A new entry cannot be registered in the package without a recipe here.
    assert set(RECIPES) == set(BUILTIN), set(RECIPES) ^ set(BUILTIN)


@pytest.fixture(scope="module")
def tiles(lc25000_small):
    from skhisto.io import load_images

    return load_images(lc25000_small.paths[::100], image_size=224)  # 3 real H&E tiles


def _reduced(name, recipe):
    """The registry entry at the recipe's reduced depth, registered under a new name."""
    info = get_backbone_info(name)
    if recipe.depth is None:
        return name
    if info.loader == "transformers":
        changed = dataclasses.replace(info, config={**info.config, **recipe.depth})
    else:
        changed = dataclasses.replace(info, timm_kwargs={**info.timm_kwargs, **recipe.depth})
    changed = dataclasses.replace(changed, name=f"{name}-reduced")
    register_backbone(changed, replace=True)
    return changed.name


def _reference_input(tiles, recipe):
    from skhisto.io._resize import resize_batch

    x = resize_batch(torch.from_numpy(tiles).permute(0, 3, 1, 2), recipe.size) / 255
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in recipe.stats)
    return (x - mean) / std


def _conformance_case(name):
    marks = [pytest.mark.slow] if name in SLOW else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_conformance_case(n) for n in RECIPES])
def test_published_checkpoint_embeds_as_the_published_forward(name, tiles, tmp_path):
    recipe = RECIPES[name]
    torch.manual_seed(0)
    depth = next(iter(recipe.depth.values())) if recipe.depth else None
    reference = recipe.build(depth).eval()
    path = recipe.save(reference, tmp_path)
    entry = _reduced(name, recipe)
    try:
        embedder = FoundationEmbedder(entry, weights=path, batch_size=3).fit(tiles)
        ours = embedder.transform(tiles)
    finally:
        if entry != name:
            unregister_backbone(entry)
    with torch.no_grad():
        published = recipe.embed(reference, _reference_input(tiles, recipe)).numpy()
    assert ours.shape == published.shape == (3, get_backbone_info(name).embed_dim)
    np.testing.assert_allclose(ours, published, rtol=1e-5, atol=1e-5)


def _meta_state_dict(recipe, name):
    with torch.device("meta"):
        reference = recipe.build(None)
    if name == "pathoduet":
        return reference.published_state_dict()
    return reference.state_dict()


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r.depth is not None])
def test_full_size_keys_and_shapes_match_the_published_recipe(name, tmp_path):
    recipe, info = RECIPES[name], get_backbone_info(name)
    published = _meta_state_dict(recipe, name)
    with torch.device("meta"):
        model = build_architecture(info)
    loaded, report = convert_checkpoint(info, model, published, "the published recipe")
    assert set(loaded) == set(model.state_dict()) - {
        k for k in model.state_dict() if k.endswith("num_batches_tracked")
    }
    assert not report["unexpected"] and not report["missing"] and not report["mismatched"]


# The cases of issue 20 -------------------------------------------------------------------


def _save(state, path):
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    return path


def test_prov_gigapath_patch14_recipe_refuses_the_published_patch16_file(tmp_path):
    torch.manual_seed(0)
    published = RECIPES["prov-gigapath"].build(2)  # patch 16, 197 positions
    path = _save(published.state_dict(), tmp_path / "gigapath.safetensors")
    old = get_backbone_info("prov-gigapath")
    kwargs = {k: v for k, v in old.timm_kwargs.items() if k != "patch_size"}
    register_backbone(
        dataclasses.replace(old, name="gigapath-p14", timm_kwargs={**kwargs, "depth": 2})
    )
    try:  # skhisto's former recipe: timm would resample the kernel and the table, quietly
        named = r"(?=.*patch_embed\.proj\.weight: file \(1536, 3, 16, 16\) vs model "
        named += (
            r"\(1536, 3, 14, 14\))(?=.*pos_embed: file \(1, 197, 1536\) vs model \(1, 257, 1536\))"
        )
        with pytest.raises(WeightsError, match=named):
            create_backbone("gigapath-p14", weights=path)
    finally:
        unregister_backbone("gigapath-p14")


def test_pathoduet_without_its_pretext_token_is_refused(tmp_path):
    torch.manual_seed(0)
    state = PathoDuetReference(depth=1).published_state_dict()
    trimmed = {k: v for k, v in state.items() if k != "pretext_token"}
    trimmed["pos_embed"] = state["pos_embed"][:, 1:]  # 197 rows: the table cut to fit
    register_backbone(
        dataclasses.replace(get_backbone_info("pathoduet"), name="pd-1", timm_kwargs={"depth": 1})
    )
    try:
        with pytest.raises(WeightsError, match=r"missing keys: pretext_token"):
            create_backbone("pd-1", weights=_save(trimmed, tmp_path / "trimmed.safetensors"))
        model, _ = create_backbone("pd-1", weights=_save(state, tmp_path / "he.safetensors"))
        assert model.pos_embed.shape == (1, 198, 768)
    finally:
        unregister_backbone("pd-1")


@pytest.mark.parametrize(
    "name, architecture, width",
    [
        ("lunit-dino-vits16", "vit_small_patch8_224", 384),
        ("kaiko-vitb16", "vit_base_patch8_224", 768),
    ],
)
def test_a_patch8_checkpoint_is_refused_naming_the_kernel(name, architecture, width, tmp_path):
    torch.manual_seed(0)
    patch8 = timm.create_model(architecture, pretrained=False, num_classes=0, depth=1)
    path = _save(patch8.state_dict(), tmp_path / "p8.safetensors")
    kernel = (
        rf"patch_embed\.proj\.weight: file \({width}, 3, 8, 8\) vs model \({width}, 3, 16, 16\)"
    )
    with pytest.raises(WeightsError, match=kernel):
        create_backbone(name, weights=path)


@pytest.fixture
def phikon_folder(tmp_path):
    torch.manual_seed(0)
    model = RECIPES["phikon"].build(2)
    register_backbone(
        dataclasses.replace(
            get_backbone_info("phikon"),
            name="phikon-2",
            config={**get_backbone_info("phikon").config, "num_hidden_layers": 2},
        )
    )
    yield model, hub_folder(model, tmp_path)
    unregister_backbone("phikon-2")


@pytest.mark.parametrize(
    "edit, words",
    [
        (
            lambda s: s.pop("encoder.layer.1.output.dense.weight"),
            r"1 missing keys: encoder\.layer\.1\.output\.dense\.weight\b",  # the file's own name
        ),
        (
            lambda s: s.__setitem__(
                "encoder.layer.1.output.dense.w", s.pop("encoder.layer.1.output.dense.weight")
            ),
            r"1 missing keys: encoder\.layer\.1\.output\.dense\.weight\b.*; "
            r"1 unexpected keys: \S*\.1\.\S*(dense|fc2)\.w\.",
        ),
        (
            lambda s: s.__setitem__("layernorm.weight", torch.ones(7)),
            r"shape mismatches: layernorm\.weight: file \(7,\) vs model \(768,\)",
        ),
    ],
    ids=["missing", "renamed", "reshaped"],
)
def test_transformers_loader_is_strict(phikon_folder, edit, words):
    from safetensors.torch import load_file

    _, folder = phikon_folder
    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(WeightsError, match=words):
        create_backbone("phikon-2", weights=folder)


def test_transformers_entry_loads_a_single_file_and_checks_the_folder_config(phikon_folder):
    model, folder = phikon_folder
    x = torch.rand(1, 3, 224, 224)
    for weights in (folder, folder / "model.safetensors"):
        loaded, _ = create_backbone("phikon-2", weights=weights)
        np.testing.assert_allclose(
            loaded(x).numpy(), last_hidden_cls(model, x).detach().numpy(), rtol=1e-5, atol=1e-5
        )
    config = (
        (folder / "config.json")
        .read_text()
        .replace('"num_hidden_layers": 2', '"num_hidden_layers": 3')
    )
    (folder / "config.json").write_text(config)
    with pytest.raises(WeightsError, match=r"config\.json.*num_hidden_layers: file 3 vs recipe 2"):
        create_backbone("phikon-2", weights=folder)


def test_transformers_checkpoints_are_read_safely_and_unwrapped(phikon_folder, tmp_path, capfd):
    import os
    import pickle

    model, folder = phikon_folder
    state = model.state_dict()
    x = torch.rand(1, 3, 224, 224)
    wrapped = tmp_path / "wrapped.pth"  # a training script's checkpoint of a DDP model
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3}, wrapped)
    loaded, _ = create_backbone("phikon-2", weights=wrapped)
    np.testing.assert_allclose(
        loaded(x).numpy(), last_hidden_cls(model, x).detach().numpy(), rtol=1e-5, atol=1e-5
    )
    assert "LOAD REPORT" not in capfd.readouterr().err  # transformers' own report stays quiet

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/skhisto_pwned_hf",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"state_dict": Payload()}))
    with pytest.raises(WeightsError, match="Refusing to load"):
        create_backbone("phikon-2", weights=evil)
    assert not os.path.exists("/tmp/skhisto_pwned_hf")


@pytest.mark.parametrize("name", ["resnet18", "ctranspath"])
def test_every_timm_path_refuses_missing_unexpected_and_reshaped_keys(name, tmp_path):
    model, _ = create_backbone(name, pretrained=False, random_state=0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    first = next(k for k in state if k.endswith("weight"))
    cases = {
        "missing": ({k: v for k, v in state.items() if k != first}, rf"missing keys: {first}"),
        "unexpected": (
            {**state, "extra.weight": torch.zeros(2)},
            r"unexpected keys: extra\.weight",
        ),
        "reshaped": ({**state, first: state[first][:1]}, rf"shape mismatches: {re.escape(first)}"),
    }
    for case, (checkpoint, words) in cases.items():
        with pytest.raises(WeightsError, match=words):
            create_backbone(name, weights=_save(checkpoint, tmp_path / f"{case}.safetensors"))


@pytest.mark.parametrize(
    "name, grids",
    [
        ("kaiko-vitb16", "14x14 to 7x7"),
        ("ctranspath", "56x56 to 28x28"),
        ("phikon", "14x14 to 7x7"),
    ],
)
def test_a_different_image_size_warns_naming_what_is_resampled(name, grids):
    with pytest.warns(UserWarning, match=rf"{name!r}.*224 px.*image_size=112.*{grids}"):
        model, _ = create_backbone(name, pretrained=False, random_state=0, image_size=112)
    assert model(torch.zeros(1, 3, 112, 112)).shape == (1, get_backbone_info(name).embed_dim)
