"""`skhisto embed --out emb.zarr [--workers N | --scheduler ADDRESS]`, and commands reading it."""

import numpy as np
import pytest

from skhisto.cli._embeddings import read_embeddings

pytest.importorskip("zarr")
pytest.importorskip("distributed")

OPTIONS = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache")


def test_a_zarr_store_holds_what_the_npz_holds_and_commands_read_it(run_cli, tiny_folder, tmp_path):
    for name in ("emb.npz", "emb.zarr"):
        result = run_cli(
            "embed",
            tiny_folder,
            *OPTIONS,
            "--out",
            tmp_path / name,
            "--chunk-size" if name.endswith("zarr") else "--batch-size",
            4,
        )
        assert result.code == 0, result.err
    npz, zarr_ = read_embeddings(tmp_path / "emb.npz"), read_embeddings(tmp_path / "emb.zarr")
    np.testing.assert_array_equal(zarr_[0], npz[0])
    assert zarr_[1].tolist() == npz[1].tolist() and zarr_[2].tolist() == npz[2].tolist()
    issues = run_cli("label-issues", tmp_path / "emb.zarr", "--out-dir", tmp_path / "issues")
    assert issues.code == 0, issues.err


def test_workers_and_scheduler_need_a_zarr_store(run_cli, tiny_folder, tmp_path):
    for flag, value in (("--workers", "2"), ("--scheduler", "tcp://x:1"), ("--chunk-size", "8")):
        result = run_cli("embed", tiny_folder, *OPTIONS, "--out", tmp_path / "e.npz", flag, value)
        result.assert_one_line_error(1, flag, ".zarr")
    assert not (tmp_path / "e.npz").exists()
    run_cli(
        "embed",
        tiny_folder,
        *OPTIONS,
        "--out",
        tmp_path / "e.zarr",
        "--workers",
        "2",
        "--scheduler",
        "tcp://x:1",
    ).assert_one_line_error(2, "not allowed with argument")
    (tmp_path / "file.zarr").write_text("mine")
    run_cli("embed", tiny_folder, *OPTIONS, "--out", tmp_path / "file.zarr").assert_one_line_error(
        1, "file.zarr", "is a file"
    )


def test_a_store_for_other_inputs_is_refused_and_an_incomplete_one_is_said_so(
    run_cli, tiny_folder, tmp_path
):
    import zarr

    out = tmp_path / "emb.zarr"
    assert run_cli("embed", tiny_folder, *OPTIONS, "--out", out, "--chunk-size", "4").code == 0
    run_cli(
        "embed", tiny_folder, *OPTIONS, "--out", out, "--chunk-size", "2"
    ).assert_one_line_error(1, "chunk_size=4 there, 2 now")
    store = zarr.open_group(str(out), mode="r+")
    store["done"][1] = False
    store.attrs["complete"] = False
    issues = run_cli("label-issues", out, "--out-dir", tmp_path / "issues")
    issues.assert_one_line_error(1, "incomplete", "1 of 2 chunks", "again")


@pytest.mark.slow
def test_workers_give_the_in_process_store(run_cli, tiny_folder, tmp_path):
    local, dask = tmp_path / "local.zarr", tmp_path / "dask.zarr"
    assert run_cli("embed", tiny_folder, *OPTIONS, "--out", local, "--chunk-size", "2").code == 0
    result = run_cli(
        "embed", tiny_folder, *OPTIONS, "--out", dask, "--chunk-size", "2", "--workers", "2"
    )
    assert result.code == 0, result.err
    np.testing.assert_array_equal(read_embeddings(dask)[0], read_embeddings(local)[0])


@pytest.mark.slow
def test_an_unreachable_scheduler_is_named_in_one_line(run_cli, tiny_folder, tmp_path):
    result = run_cli(
        "embed",
        tiny_folder,
        *OPTIONS,
        "--out",
        tmp_path / "e.zarr",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    result.assert_one_line_error(1, "--scheduler", "tcp://127.0.0.1:9", "no Dask scheduler")
