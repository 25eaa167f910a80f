"""Frozen-backbone embedding: the inference loop, the model store and the disk cache."""

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
