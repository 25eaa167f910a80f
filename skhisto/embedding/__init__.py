"""Frozen-backbone embedding: the inference loop and the disk cache.

Built backbones are shared through :data:`skhisto.utils.STORE`.
"""

from ._cache import EmbeddingCache
from ._foundation import FoundationEmbedder
from ._inference import embed_images, forward_count, normalize_batch

__all__ = [
    "EmbeddingCache",
    "FoundationEmbedder",
    "embed_images",
    "forward_count",
    "normalize_batch",
]
