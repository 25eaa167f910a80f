"""NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR."""

from numbers import Real

import torch
import torch.nn.functional as F

from ..utils._sklearn_compat import Interval, validate_params


@validate_params(
    {
        "z1": [torch.Tensor],
        "z2": [torch.Tensor],
        "temperature": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def nt_xent_loss(z1, z2, temperature=0.1):
    """NT-Xent loss of two batches of projections of the same images.

    For each of the 2N views, the positive is the other view of its image and
    the 2(N - 1) views of the other images are the negatives.

    Parameters
    ----------
    z1, z2 : torch.Tensor of shape (N, d)
        Projections of the first and second views (row i of both = image i).
    temperature : float, default=0.1

    Returns
    -------
    torch.Tensor
        Scalar mean loss over the 2N views.

    Examples
    --------
    Two views that agree give a lower loss than unrelated ones:

    >>> import torch
    >>> from skhisto.contrastive import nt_xent_loss
    >>> z = torch.eye(4)
    >>> round(nt_xent_loss(z, z).item(), 2), round(nt_xent_loss(z, z.roll(1, 0)).item(), 2)
    (0.0, 10.0)
    """
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise ValueError(
            f"NT-Xent needs two (N, d) batches of equal shape with N >= 2; got {tuple(z1.shape)} "
            f"and {tuple(z2.shape)}."
        )
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    logits = z @ z.T / temperature
    # A view is never its own negative: mask the diagonal out of the softmax.
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)
