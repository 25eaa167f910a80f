"""The tiles behind a table's rows, side by side: what a pathologist looks at to judge them."""

import math
import os

from ._errors import CommandError

COLUMNS = 5
# Inches per panel: the height leaves room above each tile for a two-line title.
PANEL_WIDTH, PANEL_HEIGHT = 2.2, 2.8


def check_gallery_images(names, source):
    """Refuse, before any work, a gallery of samples that have no readable image file.

    Returns the function that reads a sample's image by name: the file, or for
    patches of slides (names ``<slide>@<x>,<y>``) the region of its slide.
    """
    from ..io import read_image
    from ._embeddings import read_patch_regions

    regions = read_patch_regions(source) if isinstance(source, str) else None
    if regions is not None:
        return lambda name: regions[name][0].read(regions[name][1])
    if not names or not all(isinstance(name, str) for name in names):
        raise CommandError(
            f"--gallery draws the images, but INPUT {source!r} lists no image paths; "
            "pass the images, or leave --gallery out"
        )
    missing = [name for name in names if not os.path.isfile(name)]
    if missing:
        raise CommandError(
            f"--gallery draws the images, but {len(missing)} of the {len(names)} images listed "
            f"in INPUT {source!r} do not exist, e.g. {missing[0]!r}; leave --gallery out"
        )
    return read_image


def draw_gallery(rows, caption, read):
    """One panel per row (``read(row["path"])``), titled ``caption(row)``; the first Axes."""
    from ..plotting import require_pyplot

    plt = require_pyplot()
    n_cols = min(len(rows), COLUMNS)
    n_rows = math.ceil(len(rows) / n_cols)
    figure, axes = plt.subplots(
        n_rows, n_cols, figsize=(PANEL_WIDTH * n_cols, PANEL_HEIGHT * n_rows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        ax.imshow(read(row["path"]))
        ax.set_title(caption(row), fontsize="small")
    return axes.flat[0]


def draw_sections(sections, caption, read):
    """One row of panels per ``(title, rows)`` section, its title left of the row; the first
    Axes. Each row of a section is drawn from ``read(row["path"])``, titled ``caption(row)``."""
    from ..plotting import require_pyplot

    plt = require_pyplot()
    n_cols = min(max(len(rows) for _, rows in sections), COLUMNS)
    figure, axes = plt.subplots(
        len(sections),
        n_cols,
        figsize=(PANEL_WIDTH * n_cols + 0.6, PANEL_HEIGHT * len(sections)),
        squeeze=False,
    )
    for line, (title, rows) in zip(axes, sections, strict=True):
        for ax in line:
            ax.axis("off")
        line[0].text(
            -0.08, 0.5, title, transform=line[0].transAxes, rotation=90, ha="right", va="center"
        )
        for ax, row in zip(line, rows[:n_cols], strict=False):
            ax.imshow(read(row["path"]))
            ax.set_title(caption(row), fontsize="small")
    return axes.flat[0]
