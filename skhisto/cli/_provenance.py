"""Provenance of the embeddings files a command reads: shown once, and mixtures refused.

Every embeddings file read in a run (:func:`skhisto.cli._embeddings.read_embeddings_with_columns`)
goes through :func:`note_embeddings`: its provenance (backbone, weights, image size, skhisto
version, date; :func:`skhisto.embedding.read_provenance`) is one progress line, and a second
file made by another backbone, other weights or another preprocessing is refused with one
line naming both. Files written before provenance was recorded are said to be so, and read.
"""

import os

from ._errors import CommandError
from ._outputs import HELD, announce_later

#: The first release whose embeddings files carry their provenance.
FIRST_VERSION = "0.1.0"
UNKNOWN = f"provenance unknown (written before skhisto {FIRST_VERSION})"

#: This run's command, its options and the provenance of each embeddings file it read.
_RUN = {"command": None, "seen": {}, "argv": ()}


def start_run(command, argv=()):
    """Forget the files of an earlier run in this process (``skhisto.cli.main``)."""
    _RUN.update(command=command, seen={}, argv=tuple(str(a) for a in argv))
    HELD.clear()


def _given(flag):
    return any(a == flag or a.startswith(f"{flag}=") for a in _RUN["argv"])


def check_backbone_options(record, source, backbone):
    """Warn when the command line names another backbone or image size than the embeddings
    file ``source`` was made with: the options are not used, the file's embeddings are."""
    if record is None:
        return
    from ..utils import warn

    named = {
        "--backbone": (backbone.backbone, record.get("backbone")),
        "--image-size": (backbone.image_size, record.get("image_size")),
    }
    for flag, (given, made) in named.items():
        if _given(flag) and given is not None and str(given) != str(made):
            warn(
                f"{flag} {given} is not used: {str(source)!r} holds embeddings made with "
                f"{flag} {made} ({short(record)}); pass the images to embed them with {given}"
            )


def file_provenance(source):
    """The provenance of an embeddings file, or None when it has none (or it cannot be read)."""
    from ..embedding import read_provenance

    try:
        return read_provenance(source)
    except (OSError, ValueError, ImportError):
        return None


def weights_words(record):
    """``random init (seed 0)``, ``pretrained, hf:owner/repo@1a2b3c4d5e6f`` or ``unknown``."""
    if record is None:
        return "unknown weights"
    if not record.get("pretrained", True):
        seed = record.get("random_state")
        return "random init" + ("" if seed is None else f" (seed {seed})")
    weights = str(record.get("weights") or "?")
    head, at, revision = weights.rpartition("@")  # a Hub commit or a file digest, shortened
    weights = f"{head}@{revision[:12]}" if at else weights[: len("sha256:") + 12]
    return f"pretrained, {weights}"


def short(record):
    """A few words: backbone and weights (``resnet18, random init (seed 0)``)."""
    if record is None:
        return UNKNOWN
    return f"{record.get('backbone') or '?'}, {weights_words(record)}"


def describe(record):
    """One line: backbone, weights, image size, width, precision, skhisto version, date."""
    if record is None:
        return UNKNOWN
    words = [short(record)]
    if record.get("image_size"):
        words.append(f"{record['image_size']} px")
    if record.get("dim"):
        words.append(f"{record['dim']}-d")
    stain = (record.get("preprocessing") or {}).get("stain")
    if stain:
        words.append(f"stain-normalised ({stain.get('method', '?')})")
    line = ", ".join(words)
    version, created = record.get("skhisto_version"), record.get("created")
    if version or created:
        line += "; written by skhisto " + (version or "?")
        line += f" on {created[:10]}" if created else ""
    return line


def _identity(record):
    """What must agree for two files' embeddings to share one space."""
    preprocessing = record.get("preprocessing") or {}
    return (
        record.get("backbone"),
        record.get("weights"),
        record.get("image_size"),
        repr(preprocessing.get("stain")),
    )


def note_embeddings(source):
    """Announce the provenance of ``source`` once per run and refuse one of another backbone.

    Returns its provenance (None when it has none).
    """
    key = os.path.realpath(source)
    seen = _RUN["seen"]
    if key in seen:
        return seen[key]
    record = file_provenance(source)
    said = f"embedded by {describe(record)}" if record is not None else UNKNOWN
    announce_later(_RUN["command"] or "", f"{source}: {said}")  # said once the run goes on
    for other, other_record in seen.items():
        if record is None or other_record is None:
            continue
        if _identity(record) != _identity(other_record):
            raise CommandError(
                f"{str(source)!r} ({short(record)}, {record.get('image_size')} px) and "
                f"{other!r} ({short(other_record)}, {other_record.get('image_size')} px) were "
                "embedded differently and cannot be mixed; embed both with the same --backbone, "
                "weights and --image-size"
            )
    unknown = [other for other, r in seen.items() if (r is None) != (record is None)]
    if unknown:
        from ..utils import warn

        warn(
            f"cannot check that {str(source)!r} and {unknown[0]!r} come from one backbone: "
            f"one has no provenance (written before skhisto {FIRST_VERSION}); re-embed it "
            "with `skhisto embed` to record it"
        )
    seen[key] = record
    return record


def file_context(record, source):
    """The backbone columns of a result row computed from an embeddings file."""
    if record is None:
        return {"backbone": "", "family": "", "weights": f"embeddings read from {source}"}
    return {
        "backbone": record.get("backbone") or "",
        "family": record.get("family") or "",
        "weights": weights_words(record),
    }


#: What a folder kept across runs (``active --annotate DIR``) remembers of its embeddings.
FOLDER_RECORD = "embeddings.provenance.json"
#: What a round leaves in the folder: once one is there, its embeddings are the loop's.
FOLDER_STATE = ("checkpoint.npz", "queries.csv", "rounds")


def check_folder_embeddings(folder, source):
    """Refuse embeddings made otherwise than those a folder's earlier runs used.

    The first run of a loop kept in ``folder`` (``skhisto active --annotate DIR``) records
    the provenance of ``source`` there; a later run on embeddings of another backbone, other
    weights or another image size is refused, naming both (its labels and checkpoint belong
    to the first). Files without provenance are not checked.
    """
    import json

    from ..utils import atomic_write

    key = os.path.realpath(source)
    record = _RUN["seen"][key] if key in _RUN["seen"] else file_provenance(source)
    path = os.path.join(folder, FOLDER_RECORD)
    if not any(os.path.exists(os.path.join(folder, name)) for name in FOLDER_STATE):
        with atomic_write(path, "w") as f:  # no round yet: these embeddings start the loop
            json.dump({"source": os.path.abspath(source), "provenance": record}, f, indent=2)
        return
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return  # unreadable: nothing to compare against
    first = saved.get("provenance") if isinstance(saved, dict) else None
    if record is not None and first is not None and _identity(record) != _identity(first):
        raise CommandError(
            f"{str(source)!r} ({short(record)}, {record.get('image_size')} px) was embedded "
            f"otherwise than {saved.get('source')!r} ({short(first)}, {first.get('image_size')} "
            f"px), which the earlier rounds in {str(folder)!r} used; pass those embeddings, or "
            "start a new --annotate folder"
        )
