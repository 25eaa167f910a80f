"""What commands write: progress lines on stderr, a table on stdout, the same table as CSV, a PNG.

Every command that produces results writes them under ``--out-dir`` as
``<name>.csv`` (one row per measurement, machine-readable) and ``<name>.png``
(the plot), atomically, and prints the table on stdout.
"""

import csv
import io
import json
import os
import sys
from pathlib import Path

from ._errors import CommandError, note_created

#: Progress lines held back until the run goes on (:func:`announce_later`).
HELD = []


def announce_later(command, message):
    """A progress line said with the run's next one: a run that fails first says one line."""
    HELD.append((command, message))


def say_held():
    """Print the progress lines held back (:func:`announce_later`)."""
    while HELD:
        print("skhisto {}: {}".format(*HELD.pop(0)), file=sys.stderr, flush=True)


def announce(command, message):
    """A progress line on stderr, so stdout keeps only the results."""
    say_held()
    print(f"skhisto {command}: {message}", file=sys.stderr, flush=True)


def check_outputs(command, out_dir):
    """``out_dir``, writable, and matplotlib for its PNG: checked before any work starts."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise CommandError(
            f"skhisto {command} draws a PNG with matplotlib; pip install 'skhisto[plot]'"
        )
    return check_out_dir(out_dir)


def check_out_dir(out_dir, option="--out-dir", *, target=None):
    """Create ``out_dir`` (given as ``option``) and prove it writable before any work starts.

    ``target``: the file ``option`` names, when ``out_dir`` is its folder (said in the error).
    """
    from ..utils import ensure_writable_dir

    note_created(out_dir)
    try:
        return ensure_writable_dir(Path(out_dir), option)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else exc
        if Path(out_dir).exists() and not Path(out_dir).is_dir():
            reason = "it is a file, not a folder"
        where = f"{str(target)!r} (folder {str(out_dir)!r})" if target else repr(str(out_dir))
        raise CommandError(f"cannot write {option} {where}: {reason}") from exc


def check_out_file(out, kind):
    """Refuse an ``--out`` file (a ``kind`` file) that cannot be written, before any work."""
    if out.is_dir():
        raise CommandError(f"--out {str(out)!r} is a directory; name a {kind} file")
    check_out_dir(out.parent, "--out", target=out)


def format_table(rows, columns, headers=None):
    """``rows`` (dicts) as an aligned text table; floats with 3 decimals.

    ``headers`` name the columns (default: the keys in ``columns``).
    """

    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    header = list(columns if headers is None else headers)
    cells = [header, *([cell(row[key]) for key in columns] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def write_csv(path, rows, columns):
    """Write ``rows`` (dicts) as CSV with a header, atomically."""
    from ..utils import atomic_write

    with atomic_write(path, mode="w") as f:
        f.write(csv_text(rows, columns))
    return Path(path)


def csv_text(rows, columns):
    """``rows`` (dicts) as CSV text with a header, the ``columns`` in order."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: row[key] for key in columns} for row in rows)
    return text.getvalue()


def save_figure(ax, path):
    """Save the figure of ``ax`` as PNG, atomically, and close it."""
    from ..plotting import require_pyplot
    from ..utils import atomic_write

    plt = require_pyplot()
    figure = ax.get_figure()
    figure.tight_layout()
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=120)
    plt.close(figure)
    return Path(path)


def show_results(
    command,
    *,
    json_output,
    title,
    rows,
    columns,
    csv_columns,
    csv_path,
    plot=None,
    png_path=None,
    table_rows=None,
    summary=None,
    empty="no rows",
):
    """Print the table (or, with ``json_output``, ``rows`` as JSON) on stdout, then write
    ``rows`` as CSV and, when there is a ``plot``, its PNG. ``table_rows`` (default ``rows``)
    is what the text table shows; ``summary`` (a dict) goes into the JSON object between the
    title and the rows. A table without rows is the line ``empty`` instead of a lone header
    (None: the title alone)."""
    say_held()  # the provenance of the embeddings read, before the results
    if json_output:
        ordered = [_in_order(row, csv_columns) for row in rows]
        print(json.dumps({"title": title, **(summary or {}), "rows": ordered}, indent=2))
    else:
        shown = rows if table_rows is None else table_rows
        if len(shown):
            print(f"{title}\n\n{format_table(shown, columns)}")
        else:  # a header over nothing reads as a failed run
            print(title if empty is None else f"{title}\n\n{empty}")
    write_csv(csv_path, rows, csv_columns)
    written = [csv_path]
    if plot is not None:
        written.append(save_figure(plot(), png_path))
    announce(command, f"wrote {' and '.join(map(str, written))}")


def _in_order(row, columns):
    """``row`` with its keys in the CSV's column order (any others after)."""
    return {**{key: row[key] for key in columns if key in row}, **row}
