"""Checking a checkpoint against its registry entry before a long job."""

import time

import torch

from ..utils import new_digest
from ..utils._constraints import PATH
from ..utils._sklearn_compat import validate_params
from ._build import _pool, load_backbone, resolve_weights
from ._info import get_backbone_info


@validate_params({"name": [str], "weights": PATH}, prefer_skip_nested_validation=True)
def check_checkpoint(name, weights):
    """Load a checkpoint into a registry entry exactly and report how it fits.

    Every key of the file must be a key of the published architecture with
    its shape (classifier and pooler heads aside), and every key of the
    architecture must be in the file; anything else raises, naming the keys.
    The model then embeds one fixed input, so the embedding size is measured
    rather than assumed.

    Parameters
    ----------
    name : str
        Registry name (see :func:`list_backbones`) or a timm model name.
    weights : str or os.PathLike
        The checkpoint: a ``.safetensors``, ``.pth`` or ``.bin`` file, or a
        Hugging Face ``save_pretrained`` folder for transformers entries.

    Returns
    -------
    dict
        ``backbone``, ``architecture``, ``weights`` (the path), ``digest``
        (SHA-256 of the weights), ``tensors`` (loaded), ``ignored`` (head keys
        left out), ``embed_dim`` (measured), ``expected_dim`` (the entry's),
        ``fingerprint`` (16 hex digits of the embedding of a fixed input,
        rounded to 4 decimals: equal checkpoints agree across runs) and
        ``seconds``.

    Raises
    ------
    WeightsError
        Naming the missing, unexpected, reshaped or resampled keys.
    FileNotFoundError
        When ``weights`` does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> from safetensors.torch import save_file
    >>> from skhisto.backbones import check_checkpoint, create_backbone
    >>> model, _ = create_backbone("resnet18", pretrained=False, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "resnet18.safetensors")
    >>> save_file(model.state_dict(), path)
    >>> report = check_checkpoint("resnet18", path)
    >>> report["embed_dim"], report["expected_dim"], report["tensors"]
    (512, 512, 120)
    """
    start = time.perf_counter()
    info = get_backbone_info(name)
    path, digest = resolve_weights(info, weights)
    model, digest, report = load_backbone(info, path, digest)
    model = _pool(info, model, None).eval()
    x = torch.rand(
        1, 3, info.input_size, info.input_size, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        embedding = model(x)[0].double()
    rounded = embedding.mul(1e4).round().to(torch.int64).numpy().tobytes()
    return {
        "backbone": info.name,
        "architecture": info.architecture,
        "weights": str(weights),
        "digest": digest,
        "tensors": len(model.state_dict()),
        "ignored": list(report["ignored"]),
        "embed_dim": int(embedding.shape[0]),
        "expected_dim": info.embed_dim,
        "fingerprint": new_digest("identity", rounded).hexdigest()[:16],
        "seconds": round(time.perf_counter() - start, 2),
    }
