"""Built backbones shared across estimator clones within a process.

GridSearchCV clones the pipeline for every fit; building (and loading) a
foundation model each time would dominate the run, so models are kept here,
keyed by everything that determines their weights and placement.
"""

from collections import OrderedDict

from ..backbones import create_backbone
from ..utils import prepare_model

#: How many built backbones stay in memory (large ViTs take GBs each).
MAX_MODELS = 2
_MODELS = OrderedDict()


def get_model(key, *, name, weights, pretrained, seed, image_size, device, digest=None):
    """The backbone for ``key``, built on first use and reused afterwards.

    ``key`` must include the weights digest (the fingerprint does), so a
    weights file replaced at the same path never reuses the old model; a
    model built afresh is checked against ``digest`` as it is loaded.
    """
    if key in _MODELS:
        _MODELS.move_to_end(key)
        return _MODELS[key]
    model, _ = create_backbone(
        name,
        weights=weights,
        pretrained=pretrained,
        random_state=seed,
        image_size=image_size,
        expected_digest=digest,
    )
    model = prepare_model(model, device)
    _MODELS[key] = model
    while len(_MODELS) > MAX_MODELS:
        _MODELS.popitem(last=False)
    return model


def clear_models():
    """Drop every shared backbone (frees their memory)."""
    _MODELS.clear()
