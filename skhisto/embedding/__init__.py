"""Frozen-backbone embedding: the inference loop and the disk cache.

Built backbones are shared through :data:`skhisto.utils.STORE`.
"""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._cache import EmbeddingCache, list_caches, open_cache
    from ._dataset import embed_dataset, open_store, prepare_store
    from ._foundation import FoundationEmbedder
    from ._inference import embed_images, forward_count, normalize_batch
    from ._inputs import as_image_source
    from ._provenance import PROVENANCE_KEY, embedding_provenance, read_provenance

__all__ = [
    "PROVENANCE_KEY",
    "EmbeddingCache",
    "FoundationEmbedder",
    "as_image_source",
    "embed_dataset",
    "embed_images",
    "embedding_provenance",
    "forward_count",
    "list_caches",
    "normalize_batch",
    "open_cache",
    "open_store",
    "prepare_store",
    "read_provenance",
]

__getattr__, __dir__ = attach(__name__, __file__)
