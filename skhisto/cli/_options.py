"""Option types and the options several commands share, spelled one way.

Every number option is checked by argparse with one of these types, so a wrong
value is a usage error (exit status 2) in the same words in every command.
"""

import argparse
from pathlib import Path


def _number(text, convert, ok, expected):
    """``convert(text)`` when ``ok`` of it, else argparse's error "expected ..., got 'text'"."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not ok(value):  # a NaN fails every ok()
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def int_at_least(low, expected=None):
    """argparse type: an integer of at least ``low`` (``expected`` words it in the error)."""
    expected = expected or f"an integer of at least {low}"

    def convert(text):
        return _number(text, int, lambda v: v >= low, expected)

    convert.__name__ = f"int_at_least_{low}"
    return convert


#: argparse types: an integer of at least 1, and of at least 0.
positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0)


#: The largest seed numpy and scikit-learn take (``random_state`` in [0, 2**32 - 1]).
MAX_SEED = 2**32 - 1


def seed(text):
    """argparse type: a seed, an integer from 0 to 2**32 - 1 (as ``random_state`` takes)."""
    return _number(text, int, lambda v: 0 <= v <= MAX_SEED, f"a seed from 0 to {MAX_SEED}")


def positive_int_or(word):
    """argparse type: ``word`` itself or a positive integer."""

    def convert(text):
        if text == word:
            return word
        return _number(text, int, lambda v: v >= 1, f"{word} or a positive integer")

    return convert


def positive_float(text):
    """argparse type: a finite number above 0."""
    return _number(text, float, lambda v: 0 < v < float("inf"), "a positive number")


def share(text):
    """argparse type: a number from 0 to 1, both included."""
    return _number(text, float, lambda v: 0 <= v <= 1, "a number from 0 to 1")


def fraction(text):
    """argparse type: a number strictly between 0 and 1."""
    return _number(text, float, lambda v: 0 < v < 1, "a fraction between 0 and 1")


def noise_rate(text):
    """argparse type: a noise rate, checked as the library checks ``rates``."""
    from ..noise import check_noise_rates

    try:
        return float(check_noise_rates([text])[0])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a noise rate must be a number in [0, 1), got {text!r}"
        ) from None


def file_ending(*suffixes):
    """argparse type: a path ending in one of ``suffixes`` (a Path)."""

    def convert(text):
        if Path(text).suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"must end in {_either(suffixes)}, got {text!r}")
        return Path(text)

    return convert


def _either(words):
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]


class RegisteredNames:
    """argparse ``choices`` read from a library registry when first needed.

    ``skhisto --help`` and the other commands then never import the classes
    (and scikit-learn); a class registered at run time is a choice too. Give
    the option a ``metavar``: argparse lists the choices in ``%(choices)s``.
    """

    def __init__(self, names):
        self._names = names

    def __contains__(self, value):
        return value in self._names()

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())


def noise_model_names():
    from ..noise import list_noise_models

    return list_noise_models()


def query_strategy_names():
    from ..active import list_query_strategies

    return list_query_strategies()


def add_choices(parser, flag, choices, text):
    """An option taking one or more of ``choices`` (all by default, as None), each run."""
    parser.add_argument(
        flag,
        nargs="+",
        choices=choices,
        metavar="NAME",
        help=f"{text}: one or more of %(choices)s (default: all)",
    )


def add_input_argument(parser, metavar, text):
    parser.add_argument("input", metavar=metavar, help=text)


def add_seed_argument(parser, seeds):
    parser.add_argument(
        "--random-state",
        type=seed,
        default=0,
        metavar="N",
        help=f"seeds {seeds} (default: 0)",
    )


def add_json_argument(parser):
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")


def add_out_dir_argument(parser, default, what="the CSV table and PNG plot are"):
    parser.add_argument(
        "--out-dir",
        default=default,
        metavar="DIR",
        help=f"where {what} written (default: {default})",
    )


#: What --per-class draws from, for an input of images or an embeddings file.
CLASSES = "class folders, a CSV's labels, or an embeddings file's labels"


def add_per_class_argument(parser, *, classes=CLASSES, default_text="every image"):
    """``--per-class N``: a seeded draw of N images of each class (before any --max-images)."""
    parser.add_argument(
        "--per-class",
        type=positive_int,
        metavar="N",
        help=f"a seeded draw of at most N images of each class ({classes}), seeded by "
        f"--random-state (default: {default_text})",
    )


def add_max_images_argument(parser, of="images of INPUT (rows of an embeddings file)"):
    """``--max-images N``: a seeded draw of N images of INPUT (after any --per-class draw)."""
    parser.add_argument(
        "--max-images",
        type=positive_int,
        metavar="N",
        help=f"a seeded draw of at most N {of}, after any --per-class draw, seeded by "
        "--random-state (default: all)",
    )
