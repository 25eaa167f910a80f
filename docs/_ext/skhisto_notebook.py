"""The quickstart notebook as a page of these docs, with its outputs.

``docs/examples/quickstart.ipynb`` is stored without outputs (``tests/test_notebook.py``): at
build time it is run with nbclient, as the example gallery's scripts are, and written as the
MyST page ``notebooks/quickstart.md`` (generated, like ``api/``): its markdown cells as they
are, its code cells as python blocks, and below each its outputs (text, tables, figures as PNG
files beside the page). Without the shared data (the gallery's ``plot_gallery`` is off, see
``conf.py``) the page shows the code alone and says so.

The page is written again only when the notebook changed since the last build.
"""

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

NOTEBOOK = Path("examples") / "quickstart.ipynb"
#: The generated folder, under the docs' source folder (gitignored).
OUT_DIR = "notebooks"
PAGE = "quickstart"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _fence(text, info):
    """``text`` in a fence longer than any backtick run inside it."""
    ticks = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def _terminal_text(text):
    """What a terminal shows of ``text``: each line after its last carriage return."""
    text = _ANSI.sub("", text)
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n")).strip("\n")


def _outputs(outputs, images, stem):
    """The markdown of one code cell's outputs; PNGs are written to ``images``/``stem``_i.png."""
    import base64

    parts, merged = [], []
    for output in outputs:  # consecutive writes to one stream are one text, as Jupyter shows
        kind, last = output["output_type"], merged[-1] if merged else {}
        if kind == "stream" == last.get("output_type") and output["name"] == last["name"]:
            merged[-1] = {**last, "text": last["text"] + output["text"]}
            continue
        merged.append(output)
    for i, output in enumerate(merged):
        if output["output_type"] == "stream":
            text = _terminal_text(output["text"])
            if text.strip():
                parts.append(_fence(text, "text"))
            continue
        data = output.get("data", {})
        if "image/png" in data:
            name = f"{stem}_{i}.png"
            (images / name).write_bytes(base64.b64decode(data["image/png"]))
            parts.append(f"![output of the cell above]({name})")
        elif "text/html" in data:
            parts.append(_fence(data["text/html"], "{raw} html"))
        elif "text/plain" in data:
            parts.append(_fence(data["text/plain"], "text"))
    return parts


def _execute(notebook, folder):
    """Run ``notebook`` in ``folder`` with figures inline; raises on a failing cell."""
    import nbclient

    # conf.py sets MPLBACKEND=agg for the gallery; the kernel draws inline.
    backend = os.environ.pop("MPLBACKEND", None)
    try:
        client = nbclient.NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}
        )
        client.execute()
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend


def render(source, out_dir, run=True):
    """Write the notebook ``source`` as ``out_dir/quickstart.md``, run first when ``run``."""
    import nbformat

    digest = hashlib.sha256(source.read_bytes() + bytes([run])).hexdigest()[:16]
    page = out_dir / f"{PAGE}.md"
    stamp = f"<!-- generated from {NOTEBOOK.as_posix()} {digest} -->"
    if page.exists() and page.read_text().startswith(stamp):
        return page
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{PAGE}_*.png"):
        old.unlink()
    with warnings.catch_warnings():  # cells without ids: nbformat adds them
        warnings.simplefilter("ignore")
        notebook = nbformat.read(source, as_version=4)
    if run:
        with tempfile.TemporaryDirectory(prefix="skhisto-notebook-") as folder:
            _execute(notebook, folder)
    download = f"{{download}}`{NOTEBOOK.name} <../{NOTEBOOK.as_posix()}>`"
    note = (
        f"Download the notebook: {download}. The outputs below were computed when these pages "
        "were built, on the CPU."
        if run
        else f"Download the notebook: {download}. It was not run when these pages were built "
        "(the shared data was not found): run it for the outputs."
    )
    parts, first = [stamp], True
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            parts.append(cell.source.strip())
            if first:  # the title and introduction, then where to get the notebook
                parts.append(f"```{{note}}\n{note}\n```")
                first = False
        elif cell.cell_type == "code":
            parts.append(_fence(cell.source, "python"))
            parts += _outputs(cell.get("outputs", []), out_dir, f"{PAGE}_{number}")
    page.write_text("\n\n".join(parts) + "\n")
    return page


def _on_builder_inited(app):
    source = Path(app.srcdir) / NOTEBOOK
    if source.exists():
        run = str(app.config.plot_gallery) in ("True", "1")
        render(source, Path(app.srcdir) / OUT_DIR, run=run)


def setup(app):
    # After conf.py's config-inited check, which turns plot_gallery off without the data.
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
