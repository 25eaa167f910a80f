"""Tracking to TensorBoard and MLflow: what a run logs is read back with their own readers."""

import subprocess
import sys

import numpy as np
import pytest

from skhisto import LinearHead, MLPHead
from skhisto.model_selection import compare_backbones, make_tracker

SMALL = ("--rates", "0", "0.4", "--cv", "2", "--max-epochs", "3", "--heads", "linear")


def _scalars(folder):
    """{tag: [(step, value), ...]} of the TensorBoard events in ``folder``."""
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    ).EventAccumulator(str(folder))
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    return (rng.normal(size=(n, 6)) + y[:, None]).astype(np.float32), y


@pytest.fixture
def mlflow_client(tmp_path, monkeypatch):
    """A client of a ``file:`` store in tmp_path (MLflow 3 reads one only when allowed)."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri, MlflowClient(tracking_uri=uri)


def test_importing_skhisto_and_its_tracking_api_imports_neither_backend():
    code = (
        "import sys, skhisto, skhisto.model_selection as ms; ms.make_tracker; ms.Tracker; "
        "print(sorted(m for m in ('tensorboard', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_head_fit_logs_its_epoch_losses_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    X, y = _data()
    with make_tracker("tensorboard", log_dir=tmp_path, run_name="run") as tracker:
        head = MLPHead(
            max_epochs=4,
            early_stopping=True,  # a validation split: valid_loss and valid_acc too
            patience=10,
            random_state=0,
            net_params={"callbacks": [tracker.callback("MLPHead")]},
        ).fit(X, y)
    assert tracker.location == str(tmp_path / "run")
    scalars = _scalars(tmp_path / "run")
    history = head.net_.history
    for key in ("train_loss", "valid_loss", "valid_acc"):
        logged = scalars[f"MLPHead/fit0/{key}"]
        assert [step for step, _ in logged] == [1, 2, 3, 4]
        np.testing.assert_allclose([v for _, v in logged], history[:, key], rtol=1e-6)


def test_clones_share_the_run_and_each_fit_of_a_comparison_has_its_own_name(tmp_path):
    pytest.importorskip("tensorboard")
    X, y = _data(40)
    with make_tracker("tensorboard", log_dir=tmp_path, run_name="run") as tracker:
        head = LinearHead(max_epochs=2, net_params={"callbacks": [tracker.callback()]})
        with tracker.tags(seed=3):
            compare_backbones(None, y, {"a": X}, heads=[head], rates=[0.0, 0.4], cv=2)
    names = [
        f"seed=3/backbone=a/head=LinearHead/loss=cross_entropy/rate={r}/fold{k}"
        for r in ("0", "0.4")
        for k in (0, 1)
    ]
    assert tracker.fit_names == names
    scalars = _scalars(tmp_path / "run")
    assert sorted(scalars) == sorted(f"{name}/train_loss" for name in names)
    assert all(len(points) == 2 for points in scalars.values())


def test_a_second_run_of_the_same_name_gets_its_own_folder(tmp_path):
    pytest.importorskip("tensorboard")
    first = make_tracker("tensorboard", log_dir=tmp_path, run_name="run")
    second = make_tracker("tensorboard", log_dir=tmp_path, run_name="run")
    first.close(), second.close()
    assert (first.location, second.location) == (str(tmp_path / "run"), str(tmp_path / "run-2"))
    assert second.view_command == f"tensorboard --logdir {tmp_path}"


def test_mlflow_records_the_params_every_epoch_and_the_results(mlflow_client):
    uri, client = mlflow_client
    X, y = _data(40)
    with make_tracker("mlflow", log_dir=uri, run_name="demo", experiment="tests") as tracker:
        tracker.log_params({"config": {"rates": [0.0, 0.4], "cv": 2}, "backbone": "uni"})
        head = LinearHead(max_epochs=3, net_params={"callbacks": [tracker.callback()]})
        with tracker.tags(rate=0.2):
            head.fit(X, y)
        tracker.log_table(
            [
                {"head": "LinearHead", "rate": 0, "score": 0.9},
                {"head": "LinearHead", "rate": 40, "score": 0.7},
            ],
            keys=["head"],
            step="rate",
        )
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "demo"
    assert run.data.params == {
        "config.rates": "[0.0, 0.4]",
        "config.cv": "2",
        "backbone": "uni",
    }
    epochs = client.get_metric_history(
        tracker.run_id, "rate_0.2/fit0/train_loss"
    )  # = is not MLflow's
    assert [m.step for m in epochs] == [1, 2, 3]
    np.testing.assert_allclose([m.value for m in epochs], head.net_.history[:, "train_loss"])
    results = client.get_metric_history(tracker.run_id, "results/head_LinearHead/score")
    assert [(m.step, m.value) for m in results] == [(0, 0.9), (40, 0.7)]
    assert (
        tracker.view_command == f"MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {uri}"
    )


def test_a_failed_block_ends_the_mlflow_run_failed(mlflow_client):
    uri, client = mlflow_client
    with pytest.raises(RuntimeError), make_tracker("mlflow", log_dir=uri) as tracker:
        raise RuntimeError("stop")
    assert client.get_run(tracker.run_id).info.status == "FAILED"


@pytest.mark.parametrize("backend, module", [("tensorboard", "tensorboard"), ("mlflow", "mlflow")])
def test_a_missing_backend_names_the_extra_in_one_line(backend, module, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ImportError) as caught:
        make_tracker(backend, log_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "pip install 'skhisto[tracking]'" in message and f"pip install {module}" in message


def test_a_wrong_backend_is_refused_by_validate_params():
    with pytest.raises(ValueError, match="backend"):
        make_tracker("wandb")


def test_noise_curve_logs_every_fit_and_the_table_to_tensorboard(
    run_cli, embeddings_file, tmp_path
):
    pytest.importorskip("tensorboard")
    out = tmp_path / "out"
    result = run_cli(
        "noise-curve", embeddings_file(), *SMALL, "--out-dir", out, "--log-to", "tensorboard"
    )
    assert result.code == 0, result.err
    (run,) = (out / "runs").iterdir()  # the default --log-dir: <out-dir>/runs
    assert (
        f"logged to TensorBoard in {run}; view with: tensorboard --logdir {out / 'runs'}"
        in result.err
    )
    scalars = _scalars(run)
    fits = [
        f"seed=0/backbone=resnet18/head=LinearHead/loss=cross_entropy/rate={r}/fold{k}"
        for r in ("0", "0.4")
        for k in (0, 1)
    ]
    assert all(len(scalars[f"{fit}/train_loss"]) == 3 for fit in fits)
    table = "results/seed=0/head=LinearHead/loss=cross_entropy/balanced_accuracy_mean"
    rows = {
        float(r["rate"]): float(r["balanced_accuracy_mean"]) for r in _csv(out / "noise_curve.csv")
    }
    assert [step for step, _ in scalars[table]] == [0, 40]
    np.testing.assert_allclose([v for _, v in scalars[table]], [rows[0.0], rows[0.4]], rtol=1e-6)


def test_log_to_and_log_dir_come_from_a_config_file_too(run_cli, embeddings_file, tmp_path):
    pytest.importorskip("tensorboard")
    config = tmp_path / "c.yaml"
    config.write_text(f"log_to: tensorboard\nlog-dir: {tmp_path / 'tb'}\n")
    result = run_cli(
        "noise-curve",
        embeddings_file(),
        *SMALL,
        "--rates",
        "0",
        "--out-dir",
        tmp_path / "o",
        "--config",
        config,
    )
    assert result.code == 0, result.err
    assert len(list((tmp_path / "tb").iterdir())) == 1
    assert "log_to: tensorboard" in (tmp_path / "o" / "noise-curve.config.yaml").read_text()


def test_noise_curve_logs_its_options_and_provenance_to_mlflow(
    run_cli, embeddings_file, tmp_path, mlflow_client
):
    uri, client = mlflow_client
    argv = [*SMALL, "--rates", "0", "--out-dir", tmp_path / "o", "--log-to", "mlflow"]
    result = run_cli("noise-curve", embeddings_file(), *argv, "--log-dir", uri)
    assert result.code == 0, result.err
    assert f"logged to MLflow in {uri}; view with: " in result.err
    assert "(the UI comes with `pip install mlflow`)" in result.err
    experiment = client.get_experiment_by_name("skhisto noise-curve")
    (run,) = client.search_runs([experiment.experiment_id])
    params = run.data.params
    assert params["command"] == "noise-curve" and params["config.rates"] == "[0.0]"
    assert params["config.log_to"] == "mlflow" and params["skhisto_version"]
    assert params["provenance.resnet18.weights"].startswith("embeddings read from")
    assert "results/seed_0/head_LinearHead/loss_cross_entropy/balanced_accuracy_mean" in (
        run.data.metrics
    )


def test_active_annotate_with_log_to_is_one_line(run_cli, embeddings_file, tmp_path):
    argv = ["--annotate", tmp_path / "a", "--log-to", "tensorboard"]
    result = run_cli("active", embeddings_file(), *argv)
    result.assert_one_line_error(1, "--annotate", "--log-to")


def test_log_dir_without_log_to_is_one_line(run_cli, embeddings_file, tmp_path):
    result = run_cli(
        "noise-curve",
        embeddings_file(),
        *SMALL,
        "--out-dir",
        tmp_path,
        "--log-dir",
        tmp_path / "tb",
    )
    result.assert_one_line_error(1, "--log-dir goes with --log-to")


def test_a_missing_backend_fails_the_command_before_any_fit(
    run_cli, embeddings_file, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    result = run_cli(
        "noise-curve", embeddings_file(), *SMALL, "--out-dir", tmp_path, "--log-to", "mlflow"
    )
    result.assert_one_line_error(1, "pip install 'skhisto[tracking]'")
    assert "fits" not in result.err


def test_simclr_reports_each_epoch_to_a_listening_tracker(tmp_path):
    pytest.importorskip("tensorboard")
    from skhisto import SimCLREmbedder

    X = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    model = SimCLREmbedder(
        "test_resnet", image_size=16, batch_size=4, max_epochs=2, device="cpu", random_state=0
    )
    with make_tracker("tensorboard", log_dir=tmp_path, run_name="run") as tracker:
        with tracker.tags(seed=1), tracker.epochs("pretrain"):
            model.set_params(verbose=False).fit(X)
        model.fit(X)  # outside the block: not logged
    scalars = _scalars(tmp_path / "run")
    assert sorted(scalars) == [
        f"pretrain/seed=1/simclr/{key}" for key in ("loss", "n_images", "time")
    ]
    logged = scalars["pretrain/seed=1/simclr/loss"]
    assert [step for step, _ in logged] == [1, 2]
    np.testing.assert_allclose(
        [v for _, v in logged], [r["loss"] for r in model.history_], rtol=1e-6
    )


def test_active_logs_each_strategy_score_per_round(run_cli, embeddings_file, tmp_path):
    pytest.importorskip("tensorboard")
    argv = ["--strategy", "random", "--n-initial", "6", "--batch-size", "6", "--n-rounds", "2"]
    result = run_cli(
        "active", embeddings_file(), *argv, "--out-dir", tmp_path, "--log-to", "tensorboard"
    )
    assert result.code == 0, result.err
    (run,) = (tmp_path / "runs").iterdir()
    logged = _scalars(run)["results/seed=0/strategy=random/balanced_accuracy"]
    rows = _csv(tmp_path / "active.csv")
    assert [step for step, _ in logged] == [int(r["round"]) for r in rows]
    np.testing.assert_allclose(
        [v for _, v in logged], [float(r["balanced_accuracy"]) for r in rows]
    )


def _label_issues_json(result):
    import json

    assert result.code == 0, result.err
    return json.loads(result.out)


def test_label_issues_logs_its_counts_noise_rate_and_transitions_to_tensorboard(
    run_cli, embeddings_file, tmp_path
):
    pytest.importorskip("tensorboard")
    argv = ["--json", "--out-dir", tmp_path, "--log-to", "tensorboard"]
    summary = _label_issues_json(run_cli("label-issues", embeddings_file(), *argv))
    (run,) = (tmp_path / "runs").iterdir()
    scalars = {tag: values[-1][1] for tag, values in _scalars(run).items()}
    for key in ("n_samples", "n_flagged", "noise_rate"):
        np.testing.assert_allclose(scalars[key], summary[key], rtol=1e-6)
    classes = summary["classes"]
    # rows of the transition matrix are the true classes, columns the given labels
    expected = {
        f"transition/{given}/{true}": summary["transition"][i][j]
        for i, true in enumerate(classes)
        for j, given in enumerate(classes)
    }
    assert {tag for tag in scalars if tag.startswith("transition/")} == set(expected)
    np.testing.assert_allclose(
        [scalars[tag] for tag in expected], list(expected.values()), rtol=1e-6
    )


def test_label_issues_logs_its_params_and_metrics_to_mlflow(
    run_cli, embeddings_file, tmp_path, mlflow_client
):
    uri, client = mlflow_client
    argv = ["--json", "--out-dir", tmp_path / "o", "--log-to", "mlflow", "--log-dir", uri]
    summary = _label_issues_json(run_cli("label-issues", embeddings_file(), *argv))
    experiment = client.get_experiment_by_name("skhisto label-issues")
    (run,) = client.search_runs([experiment.experiment_id])
    params, metrics = run.data.params, run.data.metrics
    assert params["command"] == "label-issues" and params["skhisto_version"]
    assert params["config.method"] == "knn" and params["config.log_to"] == "mlflow"
    assert params["provenance.embeddings"].startswith("embeddings read from")
    assert metrics["n_flagged"] == summary["n_flagged"]
    np.testing.assert_allclose(metrics["noise_rate"], summary["noise_rate"], rtol=1e-6)
    assert len([name for name in metrics if name.startswith("transition/")]) == 9
    assert run.info.status == "FINISHED"


def test_audit_logs_how_many_samples_each_check_flags_to_tensorboard(
    run_cli, embeddings_file, tmp_path
):
    import json

    pytest.importorskip("tensorboard")
    argv = ["--json", "--out-dir", tmp_path, "--log-to", "tensorboard"]
    result = run_cli("audit", embeddings_file(), *argv)
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    (run,) = (tmp_path / "runs").iterdir()
    scalars = {tag: values[-1][1] for tag, values in _scalars(run).items()}
    assert scalars["n_samples"] == summary["n_samples"] == 90
    assert scalars["n_flagged"] == summary["n_flagged"]
    expected = {
        f"flagged/{row['issue_type']}": row["n_issues"]
        for row in summary["summary"]
        if row["n_issues"] is not None
    }
    assert expected and {tag: scalars[tag] for tag in expected} == expected


def test_embed_logs_rows_dimension_and_seconds_beside_its_output(run_cli, tiny_folder, tmp_path):
    pytest.importorskip("tensorboard")
    options = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache")
    out = tmp_path / "e" / "emb.npz"
    result = run_cli("embed", tiny_folder, *options, "--out", out, "--log-to", "tensorboard")
    assert result.code == 0, result.err
    (run,) = (out.parent / "runs").iterdir()  # the default --log-dir: --out's folder/runs
    assert f"logged to TensorBoard in {run}" in result.err
    scalars = {tag: values[-1][1] for tag, values in _scalars(run).items()}
    with np.load(out) as data:
        assert (scalars["rows"], scalars["dimension"]) == data["embeddings"].shape
    assert scalars["seconds"] > 0


def _csv(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))
