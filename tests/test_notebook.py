"""The quickstart notebook runs top to bottom, and is stored without outputs (never stale ones)."""

import shutil
from pathlib import Path

import pytest
from conftest import child_env

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "examples" / "quickstart.ipynb"

nbformat = pytest.importorskip("nbformat")


def _code_cells():
    return [
        cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"
    ]


def test_notebook_is_stored_without_outputs():
    cells = _code_cells()
    assert cells
    stale = [i for i, cell in enumerate(cells) if cell.outputs or cell.execution_count is not None]
    assert not stale, (
        f"code cells {stale} of {NOTEBOOK.name} carry outputs; clear them before committing "
        "(`jupyter nbconvert --clear-output --inplace docs/examples/quickstart.ipynb`)"
    )


def _text(outputs):
    return "".join(out.get("text", "") + str(out.get("data", "")) for out in outputs)


@pytest.mark.slow
def test_quickstart_notebook_runs_top_to_bottom(lc25000_dir, tmp_path, monkeypatch):
    """Every cell runs on the CPU (a raising cell fails the test), from a copy in tmp_path."""
    nbclient = pytest.importorskip("nbclient")
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    # The kernel inherits this environment: the data, this checkout, temp files under tmp_path.
    env = child_env(SKHISTO_DATA=lc25000_dir.parent, TMPDIR=tmp_path)
    env.pop("MPLBACKEND")  # the kernel shows figures inline
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the cell that failed

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    everything = _text(out for cell in code for out in cell.outputs)
    assert "TqdmWarning" not in everything and "IProgress not found" not in everything
    assert everything.count("image/png") >= 2  # the robustness plot and the learning curve
    assert "MLPHead" in everything and "LinearHead" in everything  # the results table
