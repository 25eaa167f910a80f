"""Device and precision resolution shared by embedders, heads and SimCLR."""

from contextlib import nullcontext

import torch

from ._constraints import DEVICE
from ._sklearn_compat import HasMethods, StrOptions, validate_params

_PRECISIONS = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


@validate_params({"device": DEVICE + [None]}, prefer_skip_nested_validation=True)
def resolve_device(device="auto"):
    """Return the :class:`torch.device` to compute on.

    Parameters
    ----------
    device : {"auto"} or str or torch.device, default="auto"
        ``"auto"`` picks CUDA when available, then Apple MPS, else the CPU.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> from skhisto.utils import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    return resolved


@validate_params(
    {"precision": [StrOptions({"auto", *_PRECISIONS})], "device": [torch.device]},
    prefer_skip_nested_validation=True,
)
def resolve_precision(precision, device):
    """Return the autocast dtype for ``precision`` on ``device``, or None for fp32.

    ``"auto"`` means bf16 autocast on CUDA and full fp32 elsewhere: bf16 halves
    memory traffic on GPUs with tensor cores and is numerically safe for
    inference, while CPU autocast is usually slower than fp32.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import resolve_precision
    >>> cpu, cuda = torch.device("cpu"), torch.device("cuda")
    >>> resolve_precision("auto", cpu), resolve_precision("auto", cuda)
    (None, torch.bfloat16)
    >>> resolve_precision("fp16", cpu)
    torch.float16
    """
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    dtype = _PRECISIONS[precision]
    return None if dtype is torch.float32 else dtype


@validate_params(
    {"device": [torch.device], "dtype": [torch.dtype, None]},
    prefer_skip_nested_validation=True,
)
def autocast(device, dtype):
    """Autocast context for ``dtype`` on ``device`` (no-op when dtype is None).

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import autocast
    >>> with autocast(torch.device("cpu"), torch.bfloat16):
    ...     y = torch.nn.Linear(4, 2)(torch.ones(1, 4))
    >>> y.dtype
    torch.bfloat16
    """
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@validate_params(
    {"model": [HasMethods(["to"])], "device": [torch.device]},
    prefer_skip_nested_validation=True,
)
def prepare_model(model, device):
    """Move ``model`` to ``device`` in the memory layout that is fastest there.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import prepare_model
    >>> model = prepare_model(torch.nn.Linear(4, 2), torch.device("cpu"))
    >>> next(model.parameters()).device
    device(type='cpu')
    """
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model
