"""The backbone registry: each foundation model with its own preprocessing."""

from dataclasses import asdict, dataclass, field, fields
from numbers import Integral, Real

from ._normalize import IMAGENET

HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
# Lunit's pathology statistics (benchmark-ssl-pathology); 2404.07605 fed these models ImageNet's.
LUNIT = ((0.70322989, 0.53606487, 0.66096631), (0.21716536, 0.26081574, 0.20723464))
# PathoDuet trains without normalization: pixels scaled to [0, 1] only.
UNIT = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
HOPTIMUS = ((0.707223, 0.578729, 0.703617), (0.211883, 0.230117, 0.177517))
HIBOU = ((0.7068, 0.5755, 0.722), (0.195, 0.2316, 0.1816))

LUNIT_RELEASE = (
    "https://github.com/lunit-io/benchmark-ssl-pathology/releases/download/pretrained-weights/"
)

#: Pretraining families of the registry entries (``BackboneInfo.family``).
FAMILIES = ("contrastive", "non-contrastive", "supervised", "unknown")
LOADERS = ("timm", "transformers")
POOLINGS = ("default", "cls+mean")


@dataclass(frozen=True)
class BackboneInfo:
    """Everything skhisto needs to build a backbone and feed it correctly.

    Attributes
    ----------
    name : str
        Registry name (``"ctranspath"``) or a timm model name passed through.
    architecture : str
        timm architecture (or the ``transformers`` class for ``loader="transformers"``).
    embed_dim : int
        Length of the embedding vector.
    input_size : int
        Native square input size in pixels.
    mean, std : tuple of float
        Per-channel normalization applied to pixels scaled to [0, 1].
    family : {"contrastive", "non-contrastive", "supervised", "unknown"}
        Pretraining family, as grouped in arXiv 2404.07605.
    pretraining : str
        Method and data, for humans.
    hub_id : str or None
        Hugging Face Hub repository holding the weights.
    url : str or None
        Direct download address of the weights when they are not on the Hub.
    gated : bool
        Whether the Hub repository requires accepting terms and a token.
    loader : {"timm", "transformers"}
        How the model is constructed.
    pooling : {"default", "cls+mean"}
        ``"default"`` uses the model's own pooled output; ``"cls+mean"``
        concatenates the class token and the mean patch token (Virchow2).
    timm_kwargs : dict
        Extra arguments for ``timm.create_model``.
    weight_files : tuple of str
        Candidate file names inside the Hub repository, in order of preference.
    checkpoint_filter : callable, str or None
        Converts a checkpoint's state dict before it is loaded (``loader="timm"``
        only): a callable ``(state_dict, model) -> state_dict``, or the name of a
        timm model module whose ``checkpoint_filter_fn`` remaps older or foreign
        layouts (``"vision_transformer"``, ``"swin_transformer"``). None loads
        the keys as they are (after stripping wrapper prefixes).
    trust_remote_code : bool
        Run the Python code shipped in the Hub repository (``loader="transformers"``
        only). An explicit opt-in per entry: off unless the model needs it.
    mpp : tuple of (float, float) or None
        The resolution the model was trained at, in microns per pixel, as the
        range ``(finest, coarsest)`` (a single number is one resolution: 0.5 is
        about 20x, 0.25 about 40x); None where its authors do not say.
        Embedding patches cut far from it warns (:func:`check_resolution`).
    source : str
        Where the recipe (architecture arguments, pooling, preprocessing) comes
        from: the model card, configuration or code its values were read in.
    config : dict
        The published ``config.json`` values of a ``loader="transformers"``
        model: with them a single weights file loads without the Hub, and a
        checkpoint folder's own ``config.json`` is checked against them.

    Raises
    ------
    ValueError
        Naming every field that is out of range or of the wrong type.

    Examples
    --------
    >>> from skhisto.backbones import BackboneInfo
    >>> info = BackboneInfo("my-resnet", "resnet18", 512, mean=[0.7, 0.5, 0.7])
    >>> info.mean, info.loader
    ((0.7, 0.5, 0.7), 'timm')
    >>> BackboneInfo("bad", "resnet18", 0, family="self-taught")
    Traceback (most recent call last):
    ...
    ValueError: Invalid BackboneInfo 'bad': embed_dim must be a positive int, got 0; family must ...
    """

    name: str
    architecture: str
    embed_dim: int
    input_size: int = 224
    mean: tuple = IMAGENET[0]
    std: tuple = IMAGENET[1]
    family: str = "unknown"
    pretraining: str = ""
    hub_id: str | None = None
    url: str | None = None
    gated: bool = False
    loader: str = "timm"
    pooling: str = "default"
    timm_kwargs: dict = field(default_factory=dict)
    weight_files: tuple = ("model.safetensors", "pytorch_model.bin")
    checkpoint_filter: object = None
    trust_remote_code: bool = False
    mpp: tuple | None = None
    source: str = ""
    config: dict = field(default_factory=dict)

    def __post_init__(self):
        # Sequences become tuples so that entries stay plain, comparable data.
        for name in ("mean", "std", "weight_files", "mpp"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.mpp, Real) and not isinstance(self.mpp, bool):
            object.__setattr__(self, "mpp", (self.mpp, self.mpp))
        problems = [problem for check in _CHECKS for problem in check(self)]
        if problems:
            raise ValueError(f"Invalid BackboneInfo {self.name!r}: " + "; ".join(problems) + ".")

    def as_row(self):
        """The public table row of :func:`list_backbones`."""
        row = asdict(self)
        for private in _PRIVATE_FIELDS:
            row.pop(private)
        return row


_PRIVATE_FIELDS = ("timm_kwargs", "weight_files", "checkpoint_filter", "config")
#: The columns of :func:`list_backbones`, in the dataclass's field order.
ROW_FIELDS = tuple(f.name for f in fields(BackboneInfo) if f.name not in _PRIVATE_FIELDS)


def _text(info):
    for name in ("name", "architecture"):
        value = getattr(info, name)
        if not isinstance(value, str) or not value:
            yield f"{name} must be a non-empty string, got {value!r}"
    for name in ("hub_id", "url"):
        value = getattr(info, name)
        if value is not None and not isinstance(value, str):
            yield f"{name} must be a string or None, got {value!r}"
    if not isinstance(info.source, str):
        yield f"source must be a string, got {info.source!r}"


def _sizes(info):
    for name in ("embed_dim", "input_size"):
        value = getattr(info, name)
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
            yield f"{name} must be a positive int, got {value!r}"


def _statistics(info):
    for name in ("mean", "std"):
        value = getattr(info, name)
        numbers = isinstance(value, tuple) and len(value) == 3
        if not numbers or not all(isinstance(v, Real) for v in value):
            yield f"{name} must be 3 numbers (one per RGB channel), got {value!r}"
        elif name == "std" and min(value) <= 0:
            yield f"std must be positive, got {value!r}"


def _choices(info):
    for name, allowed in (("family", FAMILIES), ("loader", LOADERS), ("pooling", POOLINGS)):
        if getattr(info, name) not in allowed:
            yield f"{name} must be one of {allowed}, got {getattr(info, name)!r}"
    for name in ("gated", "trust_remote_code"):
        if not isinstance(getattr(info, name), bool):
            yield f"{name} must be True or False, got {getattr(info, name)!r}"


def _loading(info):
    if not isinstance(info.timm_kwargs, dict):
        yield f"timm_kwargs must be a dict, got {info.timm_kwargs!r}"
    files = info.weight_files
    if not isinstance(files, tuple) or not files or not all(isinstance(f, str) for f in files):
        yield f"weight_files must be a non-empty tuple of file names, got {files!r}"
    spec = info.checkpoint_filter
    if spec is not None and not (callable(spec) or isinstance(spec, str)):
        yield f"checkpoint_filter must be a callable, a timm module name or None, got {spec!r}"
    if spec is not None and info.loader != "timm":
        yield "checkpoint_filter applies to loader='timm' only"
    if info.trust_remote_code is True and info.loader != "transformers":
        yield "trust_remote_code applies to loader='transformers' only"
    if not isinstance(info.config, dict):
        yield f"config must be a dict, got {info.config!r}"
    elif info.config and info.loader != "transformers":
        yield "config applies to loader='transformers' only (timm models take timm_kwargs)"


def _resolution(info):
    mpp = info.mpp
    if mpp is None:
        return
    numbers = isinstance(mpp, tuple) and len(mpp) == 2
    if not numbers or not all(isinstance(v, Real) and not isinstance(v, bool) for v in mpp):
        yield f"mpp must be a number, a (finest, coarsest) pair or None, got {mpp!r}"
    elif not 0 < mpp[0] <= mpp[1]:
        yield f"mpp must be positive with finest <= coarsest, got {mpp!r}"


_CHECKS = (_text, _sizes, _statistics, _choices, _loading, _resolution)


# timm's converters for published layouts that predate or differ from timm 1.0.
_VIT = "vision_transformer"
_SWIN = "swin_transformer"
# Microns per pixel: 20x is about 0.5, 40x about 0.25.
_20X = (0.5, 0.5)


def _lunit(name, architecture, embed_dim, method, release_file):
    # Lunit's four models share data, statistics and release page (Kang et al., CVPR 2023).
    # 2404.07605 groups Barlow Twins, SwAV and MoCo with the contrastive methods, DINO without.
    # Their trunks load with strict=True: flat state dicts, torchvision / timm keys, no fc.
    return BackboneInfo(
        name,
        architecture,
        embed_dim,
        mean=LUNIT[0],
        std=LUNIT[1],
        family="non-contrastive" if method == "DINO" else "contrastive",
        pretraining=f"{method} on 33M TCGA+TULIP patches (Lunit)",
        url=f"{LUNIT_RELEASE}{release_file}.torch",
        checkpoint_filter=_VIT if architecture.startswith("vit") else None,
        mpp=(0.25, 0.5),  # 20x and 40x patches (Kang et al., CVPR 2023)
        source="github.com/lunit-io/benchmark-ssl-pathology (README: models, weights, statistics)",
    )


def _hoptimus(name, pretraining, where):
    # Bioptimus's two releases share architecture, statistics and the card's create_model call.
    return BackboneInfo(
        name,
        "vit_giant_patch14_reg4_dinov2",
        1536,
        mean=HOPTIMUS[0],
        std=HOPTIMUS[1],
        family="non-contrastive",
        pretraining=pretraining,
        hub_id=f"bioptimus/{name.replace('h-optimus', 'H-optimus')}",
        gated=True,
        timm_kwargs=_HOPTIMUS_KWARGS,
        checkpoint_filter=_VIT,
        mpp=_20X,
        source=f"huggingface.co/bioptimus/{name.replace('h-optimus', 'H-optimus')} ({where})",
    )


# Published recipes. Each value is the one in the source named next to the entry; a
# conformance test per entry (tests/test_conformance.py) builds that recipe with the
# authors' own arguments, saves a checkpoint in their layout and checks the embedding.
_UNI2_KWARGS = dict(  # github.com/mahmoodlab/UNI README (UNI2-h timm_kwargs)
    img_size=224,
    patch_size=14,
    depth=24,
    num_heads=24,
    init_values=1e-5,
    embed_dim=1536,
    mlp_ratio=2.66667 * 2,
    no_embed_class=True,
    mlp_layer="swiglu_packed",
    act_layer="silu",
    reg_tokens=8,
    dynamic_img_size=True,
)
_VIRCHOW_KWARGS = dict(  # huggingface.co/paige-ai/Virchow config.json model_args + model card
    img_size=224,
    init_values=1e-5,
    mlp_ratio=5.3375,
    mlp_layer="swiglu_packed",
    act_layer="silu",
    dynamic_img_size=True,
)
_VIRCHOW2_KWARGS = dict(_VIRCHOW_KWARGS, reg_tokens=4)  # paige-ai/Virchow2 config.json
_HOPTIMUS_KWARGS = {"img_size": 224, "init_values": 1e-5, "dynamic_img_size": False}
_GIGAPATH_KWARGS = dict(  # huggingface.co/prov-gigapath/prov-gigapath config.json model_args
    img_size=224,
    patch_size=16,
    embed_dim=1536,
    depth=40,
    num_heads=24,
    init_values=1e-5,
    mlp_ratio=5.33334,
)
_PHIKON_CONFIG = dict(  # huggingface.co/owkin/phikon config.json
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    image_size=224,
    patch_size=16,
    num_channels=3,
    qkv_bias=True,
    layer_norm_eps=1e-12,
)
_PHIKON2_CONFIG = dict(  # owkin/phikon-v2: DINOv2 ViT-L/16 (Filiot et al., 2024)
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    mlp_ratio=4,
    image_size=224,
    patch_size=16,
    num_channels=3,
    qkv_bias=True,
    layer_norm_eps=1e-6,
    use_swiglu_ffn=False,
)
_HIBOU_B_CONFIG = dict(  # huggingface.co/histai/hibou-b config.json
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    mlp_ratio=4,
    image_size=224,
    patch_size=14,
    num_channels=3,
    qkv_bias=True,
    layer_norm_eps=1e-6,
    use_swiglu_ffn=True,
    num_register_tokens=4,
)

_ENTRIES = [
    BackboneInfo(
        "ctranspath",
        "swin_tiny_patch4_window7_224",
        768,
        family="contrastive",
        pretraining="SRCL (semantically-relevant contrastive) on 15M TCGA+PAIP patches",
        timm_kwargs={"embed_layer": "ctranspath_convstem"},
        checkpoint_filter=_SWIN,
        mpp=(1.0, 1.0),  # README: "extract features at 1.0mpp"
        source="github.com/Xiyue-Wang/TransPath (ctran.py, get_features_CTransPath.py, README)",
    ),
    BackboneInfo(
        "retccl",
        "resnet50",
        2048,
        input_size=256,  # get_feature.py: Resize(256), no crop
        family="contrastive",
        pretraining="clustering-guided contrastive learning on TCGA+PAIP",
        mpp=(1.0, 1.0),  # README: "extract features at 1.0mpp"
        source="github.com/Xiyue-Wang/RetCCL (get_feature.py, ResNet.py, README)",
    ),
    BackboneInfo(
        "pathoduet",
        "vit_base_patch16_224_pathoduet",
        768,
        mean=UNIT[0],
        std=UNIT[1],
        family="contrastive",
        pretraining="MoCo v3 + cross-scale positioning on TCGA (H&E model)",
        source="github.com/openmedlab/PathoDuet (vits.py VisionTransformerMoCo, README)",
    ),
    BackboneInfo(
        "phikon",
        "ViTModel",
        768,
        family="non-contrastive",
        pretraining="iBOT on 40M TCGA patches",
        hub_id="owkin/phikon",
        loader="transformers",
        mpp=_20X,  # HistoSSLscaling README: tiles at 0.5 um/px
        source="huggingface.co/owkin/phikon config.json; github.com/owkin/HistoSSLscaling",
        config=_PHIKON_CONFIG,
    ),
    BackboneInfo(
        "phikon-v2",
        "Dinov2Model",
        1024,
        family="non-contrastive",
        pretraining="DINOv2 on 460M patches (PANCAN-XL)",
        hub_id="owkin/phikon-v2",
        loader="transformers",
        mpp=_20X,
        source="huggingface.co/owkin/phikon-v2 (AutoModel, last_hidden_state[:, 0])",
        config=_PHIKON2_CONFIG,
    ),
    _lunit(
        "lunit-dino-vits16", "vit_small_patch16_224", 384, "DINO", "dino_vit_small_patch16_ep200"
    ),
    _lunit("lunit-bt-rn50", "resnet50", 2048, "Barlow Twins", "bt_rn50_ep200"),
    _lunit("lunit-swav-rn50", "resnet50", 2048, "SwAV", "swav_rn50_ep200"),
    _lunit("lunit-mocov2-rn50", "resnet50", 2048, "MoCo v2", "mocov2_rn50_ep200"),
    BackboneInfo(
        "uni",
        "vit_large_patch16_224",
        1024,
        family="non-contrastive",
        pretraining="DINOv2 on 100M patches from 100k WSIs (Mass-100K)",
        hub_id="MahmoodLab/UNI",
        gated=True,
        timm_kwargs={"img_size": 224, "init_values": 1e-5, "dynamic_img_size": True},
        weight_files=("pytorch_model.bin",),
        checkpoint_filter=_VIT,
        mpp=_20X,
        source="github.com/mahmoodlab/UNI (uni/get_encoder/get_encoder.py uni_kwargs)",
    ),
    BackboneInfo(
        "uni2-h",
        "vit_giant_patch14_224",
        1536,
        family="non-contrastive",
        pretraining="DINOv2 on 200M patches from 350k WSIs",
        hub_id="MahmoodLab/UNI2-h",
        gated=True,
        timm_kwargs=_UNI2_KWARGS,
        weight_files=("pytorch_model.bin",),
        checkpoint_filter=_VIT,
        mpp=_20X,
        source="github.com/mahmoodlab/UNI (README, UNI2-h timm_kwargs)",
    ),
    BackboneInfo(
        "virchow",
        "vit_huge_patch14_224",
        2560,
        family="non-contrastive",
        pretraining="DINOv2 on 1.5M WSIs (Paige); class token + mean patch token",
        hub_id="paige-ai/Virchow",
        gated=True,
        pooling="cls+mean",
        timm_kwargs=_VIRCHOW_KWARGS,
        checkpoint_filter=_VIT,
        mpp=_20X,
        source="huggingface.co/paige-ai/Virchow (config.json, model card)",
    ),
    BackboneInfo(
        "virchow2",
        "vit_huge_patch14_224",
        2560,
        family="non-contrastive",
        pretraining="DINOv2 on 3.1M WSIs (Paige); class token + mean patch token",
        hub_id="paige-ai/Virchow2",
        gated=True,
        pooling="cls+mean",
        timm_kwargs=_VIRCHOW2_KWARGS,
        checkpoint_filter=_VIT,
        mpp=(0.25, 2.0),  # mixed 5x to 40x
        source="huggingface.co/paige-ai/Virchow2 (config.json, model card)",
    ),
    _hoptimus("h-optimus-0", "DINOv2 on >500k WSIs (Bioptimus)", "config.json, model card"),
    _hoptimus("h-optimus-1", "DINOv2 on >1M WSIs (Bioptimus)", "model card: H-optimus-0's recipe"),
    BackboneInfo(
        "prov-gigapath",
        "vit_giant_patch14_dinov2",
        1536,
        family="non-contrastive",
        pretraining="DINOv2 on 1.3B patches from 171k WSIs (Providence)",
        hub_id="prov-gigapath/prov-gigapath",
        gated=True,
        timm_kwargs=_GIGAPATH_KWARGS,
        checkpoint_filter=_VIT,
        mpp=_20X,  # demo/1_slide_mpp_check.py: "trained with 0.5 mpp"
        source="huggingface.co/prov-gigapath/prov-gigapath config.json; github prov-gigapath",
    ),
    BackboneInfo(
        "kaiko-vitb16",
        "vit_base_patch16_224",
        768,
        mean=HALF[0],
        std=HALF[1],
        family="non-contrastive",
        pretraining="DINO on TCGA (kaiko.ai, towards large pathology FMs)",
        hub_id="1aurent/vit_base_patch16_224.kaiko_ai_towards_large_pathology_fms",
        timm_kwargs={"dynamic_img_size": True},
        checkpoint_filter=_VIT,
        source="github.com/kaiko-ai/towards_large_pathology_fms (hubconf.py, README)",
    ),
    BackboneInfo(
        "hibou-b",
        "Dinov2WithRegistersModel",
        768,
        mean=HIBOU[0],
        std=HIBOU[1],
        family="non-contrastive",
        pretraining="DINOv2 with registers on 1.2B patches (HistAI)",
        hub_id="histai/hibou-b",
        loader="transformers",
        source="huggingface.co/histai/hibou-b config.json; github.com/HistAI/hibou",
        config=_HIBOU_B_CONFIG,
    ),
    BackboneInfo(
        "resnet18",
        "resnet18",
        512,
        family="supervised",
        pretraining="ImageNet-1k supervised (torchvision weights)",
        hub_id="timm/resnet18.tv_in1k",
        source="timm resnet18.tv_in1k",
    ),
    BackboneInfo(
        "resnet50",
        "resnet50",
        2048,
        family="supervised",
        pretraining="ImageNet-1k supervised (torchvision weights)",
        hub_id="timm/resnet50.tv_in1k",
        source="timm resnet50.tv_in1k",
    ),
    BackboneInfo(
        "vit_small_patch16_224",
        "vit_small_patch16_224",
        384,
        mean=HALF[0],
        std=HALF[1],
        family="supervised",
        pretraining="ImageNet-21k, fine-tuned on ImageNet-1k (AugReg)",
        hub_id="timm/vit_small_patch16_224.augreg_in21k_ft_in1k",
        checkpoint_filter=_VIT,
        source="timm vit_small_patch16_224.augreg_in21k_ft_in1k",
    ),
]

REGISTRY = {info.name: info for info in _ENTRIES}
