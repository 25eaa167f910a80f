"""Shared device, batching, random-state and file helpers, and the process-wide store."""

from typing import TYPE_CHECKING

from ._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._batching import iter_array_batches, iter_slices, n_batches, progress, to_device
    from ._checkpoint import (
        CHECKPOINT_FILE,
        check_identity,
        checkpoint_file,
        load_checkpoint,
        resume_checkpoint,
        run_identity,
        save_checkpoint,
    )
    from ._device import autocast, prepare_model, resolve_device, resolve_precision
    from ._digests import (
        content_key,
        digest_arrays,
        file_content_key,
        file_digest,
        new_digest,
    )
    from ._files import (
        NotRegularFileError,
        check_regular_file,
        current_umask,
        ensure_writable_dir,
        io_error,
        open_regular,
        trusted_owner,
        writable_dir,
    )
    from ._groups import check_groups, grouped_folds, groups_from_paths
    from ._labels import check_labels, label_kind
    from ._neighbors import nearest_neighbors
    from ._random import seeded_torch, torch_generator, torch_seed
    from ._store import STORE, ProcessStore, clear_caches, file_identity
    from ._warnings import warn
    from ._writes import atomic_write, sweep_orphans, temporary_beside

__all__ = [
    "CHECKPOINT_FILE",
    "STORE",
    "NotRegularFileError",
    "ProcessStore",
    "atomic_write",
    "autocast",
    "check_groups",
    "check_identity",
    "check_labels",
    "check_regular_file",
    "checkpoint_file",
    "clear_caches",
    "content_key",
    "current_umask",
    "digest_arrays",
    "ensure_writable_dir",
    "file_content_key",
    "file_digest",
    "file_identity",
    "grouped_folds",
    "groups_from_paths",
    "io_error",
    "iter_array_batches",
    "iter_slices",
    "label_kind",
    "load_checkpoint",
    "n_batches",
    "nearest_neighbors",
    "new_digest",
    "open_regular",
    "prepare_model",
    "progress",
    "resolve_device",
    "resolve_precision",
    "resume_checkpoint",
    "run_identity",
    "save_checkpoint",
    "seeded_torch",
    "sweep_orphans",
    "temporary_beside",
    "to_device",
    "torch_generator",
    "torch_seed",
    "trusted_owner",
    "warn",
    "writable_dir",
]

__getattr__, __dir__ = attach(__name__, __file__)
