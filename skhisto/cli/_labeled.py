"""A labeled input of the experiment commands, checked before any work, and its embeddings.

``noise-curve``, ``label-issues`` and ``active`` read labeled images or a labeled
embeddings file and refuse too small a class before anything is embedded or trained.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ._embeddings import is_embeddings_file, read_embeddings_with_columns
from ._errors import CommandError
from ._groups import Groups, pick_groups
from ._inputs import read_input
from ._outputs import announce
from ._provenance import check_backbone_options, note_embeddings, short


@dataclass
class LabeledInput:
    """Labels, and embeddings (an embeddings file, with the paths it lists) or image paths,
    and the group (patient, slide) of each (see :mod:`skhisto.cli._groups`)."""

    labels: object
    embeddings: object = None
    paths: list = None
    kind: str = "embeddings file"
    groups: Groups = None
    provenance: dict = None  # of an embeddings file; None when it has none


def labeled_input(
    source,
    *,
    min_per_class,
    what,
    images=True,
    per_class=None,
    random_state=0,
    groups=None,
    max_images=None,
):
    """Read ``source``; a CommandError when it is unlabeled or a class is too small.

    ``images``: images are accepted besides embeddings files. Class folders and an
    embeddings file's labels are subsampled to ``per_class`` rows each (a draw seeded by
    ``random_state``), then any input to ``max_images`` (:func:`read_any`).
    ``groups``: ``--groups`` (None: INPUT's own group column, if any; False: none).
    """
    import numpy as np

    if not images and Path(source).is_dir() and not is_embeddings_file(source):
        raise CommandError(
            f"EMBEDDINGS {source!r} is a folder: embed it first with "
            f"`skhisto embed {source} --backbone NAME --out emb.npz`, then pass emb.npz"
        )
    embeddings = is_embeddings_file(source) or not images
    data, columns = read_any(
        source,
        per_class=per_class,
        random_state=random_state,
        images=images,
        max_images=max_images,
    )
    if embeddings:
        hint = "write it with `skhisto embed` from class folders or a CSV with a 'label' column"
    else:
        hint = "pass class folders (<root>/<class>/<image>) or a CSV with a 'label' column"
    if data.labels is None or any(label == "" for label in data.labels):
        name = "INPUT" if images else "EMBEDDINGS"
        raise CommandError(f"{name} {source!r} has no labels (or some empty ones); {hint}")
    data.labels = np.asarray(data.labels)
    data.groups = pick_groups(groups, columns=columns, paths=data.paths, source=source)
    _check_classes(source, data.labels, min_per_class, what)
    _check_groups(source, data.groups, min_per_class, what)
    return data


def read_any(source, *, per_class=None, random_state=0, images=True, max_images=None):
    """INPUT as read, labeled or not, and its columns by name (for --groups): an embeddings
    file (always read as one when ``images`` is False; its rows drawn to ``per_class`` of
    each label), else images (class folders drawn to ``per_class`` each); then a draw of
    ``max_images``, both seeded by ``random_state``. Nothing is checked or embedded."""
    if is_embeddings_file(source) or not images:
        X, labels, paths, columns = read_embeddings_with_columns(
            source, per_class=per_class, max_images=max_images, random_state=random_state
        )
        data = LabeledInput(labels, embeddings=X, paths=paths.tolist())
        data.provenance = note_embeddings(source)  # read above: its record, not a second line
        return data, columns
    listing = read_input(
        source, max_per_class=per_class, random_state=random_state, max_images=max_images
    )
    return LabeledInput(listing.labels, paths=listing.paths, kind=listing.kind), listing.columns


def _check_groups(source, groups, min_groups, what):
    """Enough groups for the folds (or the split) that keep each one whole."""
    if groups.values is None:
        return
    n_groups = len(set(groups.values.tolist()))
    if n_groups < max(2, min_groups):
        raise CommandError(
            f"INPUT {source!r} has {groups.describe()}; {what} keeps each group on one side, "
            f"so it needs at least {max(2, min_groups)} (pass more patients or slides, or "
            "--no-groups to split patches, which leaks)"
        )


def _check_classes(source, labels, min_per_class, what):
    counts = Counter(labels.tolist())
    if len(counts) < 2:
        raise CommandError(f"INPUT {source!r} has one class {sorted(counts)}; it needs at least 2")
    label, count = min(counts.items(), key=lambda item: item[1])
    if count < min_per_class:
        raise CommandError(
            f"INPUT {source!r}: class {label!r} has {count} images, {what} needs at least "
            f"{min_per_class} per class"
        )


def embed_labeled(command, data, source, backbone):
    """The embeddings of ``data`` (read, or computed once through the cache by the
    ``backbone`` options) and their source, in words and in a few words (a plot's title)."""
    if data.embeddings is not None:
        check_backbone_options(data.provenance, source, backbone)
        words = f"embeddings read from {source} ({short(data.provenance)})"
        return data.embeddings, words, words
    embedder = backbone.make_embedder(verbose=True).fit(data.paths)
    weights = backbone.describe_weights()
    cache = embedder.cache or "no cache"
    announce(
        command,
        f"embedding {len(data.paths)} images with {backbone.backbone} ({weights}; {cache})",
    )
    X = embedder.transform(data.paths)
    name = f"backbone {backbone.backbone} at {embedder.image_size_} px"
    return X, f"{name}, {weights}", f"{name}, {backbone.short_weights()}"
