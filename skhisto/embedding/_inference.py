"""The one batched inference loop: uint8 images or paths in, float32 embeddings out."""

import re

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..exceptions import NonFiniteError
from ..io import resize_batch
from ..utils import (
    STORE,
    autocast,
    iter_array_batches,
    n_batches,
    prepare_model,
    progress,
    resolve_device,
    resolve_precision,
)
from ..utils._constraints import DEVICE, NON_NEGATIVE_INT, POSITIVE_INT, VERBOSE
from ..utils._sklearn_compat import HasMethods, StrOptions, validate_params
from ._inputs import as_image_source


@validate_params({"model_id": [str, None]}, prefer_skip_nested_validation=True)
def forward_count(model_id=None):
    """Images embedded by backbones in this process (all models, or one ``model_id``).

    Counted in :data:`skhisto.utils.STORE`; :func:`skhisto.utils.clear_caches`
    resets it. Tests and benchmarks use it to prove that cached images are
    never embedded again.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.embedding import forward_count
    >>> embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0)
    >>> before = forward_count()
    >>> _ = embedder.fit_transform(np.zeros((3, 32, 32, 3), dtype=np.uint8))
    >>> forward_count() - before
    3
    """
    if model_id is None:
        return sum(STORE.forwards.values())
    return STORE.forwards[model_id]


class SourceDataset(Dataset):
    """An image source read into float ``(size, size, 3)`` tensors (in DataLoader workers).

    Resized images stay float (values 0-255) rather than being rounded back to
    uint8, so a file, its decoded array and the slide region it was cut from
    give the same embedding.

    Parameters
    ----------
    source : skhisto.io.ImageSource
    image_size : int
    """

    def __init__(self, source, image_size):
        self.source = source
        self.image_size = image_size

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        image = torch.from_numpy(self.source.read_checked(index)).permute(2, 0, 1)[None]
        return resize_batch(image, self.image_size)[0].permute(1, 2, 0)


@validate_params(
    {
        "batch": [HasMethods(["float"])],
        "image_size": POSITIVE_INT,
        "mean": ["array-like"],
        "std": ["array-like"],
        "stain": [callable, None],
    },
    prefer_skip_nested_validation=True,
)
def normalize_batch(batch, image_size, mean, std, stain=None):
    """``(n, H, W, 3)`` tensor (0-255) -> resized, normalized float ``(n, 3, S, S)``.

    uint8 input is converted to a new float tensor, so the caller's array is
    never written to. ``stain`` (e.g. :meth:`skhisto.stain.StainNormalizer.transform_tensor`)
    maps the resized ``(n, 3, S, S)`` 0-255 batch before it is normalized.

    Examples
    --------
    >>> import torch
    >>> from skhisto.embedding import normalize_batch
    >>> batch = torch.full((2, 48, 48, 3), 255, dtype=torch.uint8)
    >>> x = normalize_batch(batch, 32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    >>> x.shape, round(x.max().item(), 4)
    (torch.Size([2, 3, 32, 32]), 1.0)
    """
    x = resize_batch(batch.permute(0, 3, 1, 2), image_size)
    if stain is not None:
        x = stain(x)
    x = x.div(255.0)
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    x = x.sub_(mean).div_(std)
    if x.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _batches(source, image_size, batch_size, device, num_workers):
    pixels = source.pixels()
    if pixels is not None:  # in memory: sliced, no workers
        return iter_array_batches(pixels, batch_size, device)
    loader = DataLoader(
        SourceDataset(source, image_size),
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    return (batch.to(device, non_blocking=True) for batch in _worker_errors(loader))


def _worker_errors(loader):
    """Iterate ``loader``; an error in a worker comes back as its own message.

    torch re-raises a worker's error with the worker's whole traceback in the
    message (kilobytes on one error line); the error's own last line is what
    names the file.
    """
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _own_message(exc) from exc
        yield batch


def _own_message(exc):
    message, name = str(exc), type(exc).__name__
    # The traceback ends with "module.path.ErrorType: the error's own message".
    found = list(re.finditer(rf"^(?:[\w.]+\.)?{name}: ", message, flags=re.MULTILINE))
    if "Original Traceback" not in message or not found:
        return exc
    text = message[found[-1].end() :].strip()
    try:
        return type(exc)(text)
    except TypeError:  # an exception type with other constructor arguments
        return RuntimeError(f"{name}: {text}")


def _forward(model, x, device, dtype):
    try:
        with autocast(device, dtype):
            return model(x)
    except RuntimeError as exc:
        if "size" not in str(exc).lower():  # e.g. out of memory: not a size problem
            raise
        # A network too deep for the input (feature maps shrink below a kernel) fails here.
        raise ValueError(
            f"{type(model).__name__} cannot embed {x.shape[-1]}x{x.shape[-2]} images: "
            f"{str(exc).splitlines()[0].rstrip('.')}. Use a larger image_size."
        ) from exc


@validate_params(
    {
        "model": [callable],
        "X": "no_validation",  # as_image_source names what is wrong with it
        "image_size": POSITIVE_INT,
        "mean": ["array-like"],
        "std": ["array-like"],
        "batch_size": POSITIVE_INT,
        "device": DEVICE,
        "precision": [
            StrOptions({"auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16"})
        ],
        "num_workers": NON_NEGATIVE_INT,
        "verbose": VERBOSE,
        "model_id": [str, None],
        "on_batch": [callable, None],
        "stain": [callable, None],
    },
    prefer_skip_nested_validation=True,
)
def embed_images(
    model,
    X,
    *,
    image_size,
    mean,
    std,
    batch_size=64,
    device="auto",
    precision="auto",
    num_workers=0,
    verbose="auto",
    model_id=None,
    on_batch=None,
    stain=None,
):
    """Embed images with a frozen model in batches.

    Parameters
    ----------
    model : torch.nn.Module
        Maps normalized ``(n, 3, S, S)`` float tensors to ``(n, dim)``.
    X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths, patch table or ImageSource
        Images, or files or slide regions read in DataLoader workers (any
        size); see :func:`as_image_source`.
    image_size : int
        Side ``S`` the images are resized to (antialiased bilinear).
    mean, std : sequence of 3 floats
        Normalization of pixels scaled to [0, 1].
    batch_size : int, default=64
    device : str or torch.device, default="auto"
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        ``"auto"`` is bf16 autocast on CUDA, fp32 elsewhere.
    num_workers : int, default=0
        DataLoader workers decoding paths.
    verbose : {"auto"} or bool, default="auto"
        Progress bar (``"auto"``: only for long runs).
    model_id : str, optional
        Key under which :func:`forward_count` counts these images.
    on_batch : callable, optional
        Called as ``on_batch(start, embeddings)`` after each batch, e.g. to
        persist finished work so an interrupted run can resume.
    stain : callable, optional
        Applied to each resized batch (see :func:`normalize_batch`).

    Returns
    -------
    ndarray of shape (n, dim), dtype float32

    Raises
    ------
    skhisto.exceptions.NonFiniteError
        When the model outputs NaN or infinite values (e.g. fp16 overflow);
        nothing of that batch is passed to ``on_batch``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.backbones import create_backbone
    >>> from skhisto.embedding import embed_images
    >>> model, _ = create_backbone("resnet18", pretrained=False, random_state=0)
    >>> images = np.zeros((3, 40, 40, 3), dtype=np.uint8)
    >>> embed_images(
    ...     model, images, image_size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), device="cpu"
    ... ).shape
    (3, 512)
    """
    source = as_image_source(X)
    device = resolve_device(device)
    dtype = resolve_precision(precision, device)
    model = prepare_model(model, device)
    total = n_batches(len(source), batch_size)
    out, start = None, 0
    batches = _batches(source, image_size, batch_size, device, num_workers)
    with torch.inference_mode():
        for batch in progress(batches, total=total, desc="embedding", verbose=verbose):
            x = normalize_batch(batch, image_size, mean, std, stain)
            features = _forward(model, x, device, dtype)
            if features.ndim != 2 or len(features) != len(x):
                raise ValueError(
                    f"The model must map {tuple(x.shape)} images to (n, dim) embeddings; it "
                    f"returned shape {tuple(features.shape)}. Pool or flatten its output."
                )
            features = features.float().cpu().numpy()
            if not np.isfinite(features).all():
                # Before on_batch: a NaN embedding must never reach the cache.
                raise NonFiniteError(
                    f"The backbone returned NaN or infinite embeddings for images "
                    f"{start} to {start + len(features) - 1} at precision {dtype}; "
                    "try precision='fp32', and check the weights file."
                )
            if out is None:
                out = np.empty((len(source), features.shape[1]), dtype=np.float32)
            out[start : start + len(features)] = features
            STORE.count_forwards(model_id, len(features))
            if on_batch is not None:
                on_batch(start, features)
            start += len(features)
    return out
