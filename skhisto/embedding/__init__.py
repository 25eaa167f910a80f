"""Frozen-backbone embedding: the inference loop, the model store and the disk cache."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._cache import EmbeddingCache
    from ._foundation import FoundationEmbedder
    from ._inference import embed_images, forward_count, normalize_batch, reset_forward_count
    from ._store import clear_models

__all__ = [
    "EmbeddingCache",
    "FoundationEmbedder",
    "clear_models",
    "embed_images",
    "forward_count",
    "normalize_batch",
    "reset_forward_count",
]

__getattr__, __dir__ = attach(__name__, __file__)
