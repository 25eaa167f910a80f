"""`skhisto doctor`: one line per check, nothing downloaded, exit 0 unless something required
is broken; the token is never shown and the Hub check gives up quickly."""

import json
import time

import pytest

STATUSES = {"ok", "warn", "missing", "error"}


def _doctor(run_cli, *argv):
    result = run_cli("doctor", "--json", *argv)
    assert result.code == 0, result.err
    return {check["check"]: check for check in json.loads(result.out)}


def test_doctor_reports_every_check_on_one_line(run_cli, tmp_path):
    result = run_cli("doctor", "--offline", "--cache", tmp_path / "cache")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("skhisto ") and "Python" in lines[0]
    checks = lines[1:-1]
    for name in ("torch", "device", "threads", "openslide", "dask/zarr", "cache", "hub token"):
        assert any(line[8:].split("  ")[0] == name for line in checks), (name, result.out)
    assert all(line.split()[0] in STATUSES for line in checks), result.out
    assert "weights resnet18" in result.out and "weights uni " in result.out
    assert "offline (--offline)" in result.out


def test_doctor_checks_the_cache_folder(run_cli, tmp_path):
    found = _doctor(run_cli, "--offline", "--cache", tmp_path / "new" / "cache")
    cache = found["cache"]
    assert cache["status"] == "ok"
    assert str(tmp_path / "new" / "cache") in cache["detail"]
    assert "not created yet" in cache["detail"] and "GB free" in cache["detail"]
    assert not (tmp_path / "new").exists(), "doctor creates nothing"


def test_doctor_says_a_token_is_set_without_showing_it(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", "hf_notarealtoken123")
    result = run_cli("doctor", "--offline", "--cache", tmp_path)
    assert "a token is set (from HF_TOKEN)" in result.out
    assert "hf_notarealtoken123" not in result.out + result.err
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored login there either
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "hf" / "t"))
    monkeypatch.setattr("huggingface_hub.constants.HF_STORED_TOKENS_PATH", str(tmp_path / "t2"))
    token = _doctor(run_cli, "--offline", "--cache", tmp_path)["hub token"]
    assert token["status"] == "warn" and "huggingface-cli login" in token["hint"]


def test_the_hub_check_gives_up_quickly(run_cli, monkeypatch, tmp_path):
    # An endpoint nothing answers on: "offline" within the timeout, not a hang.
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "https://10.255.255.1:9")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    start = time.monotonic()
    hub = _doctor(run_cli, "--timeout", "1", "--cache", tmp_path)["hub access"]
    assert time.monotonic() - start < 60
    assert hub["status"] == "warn" and hub["detail"].startswith("offline"), hub


def test_weights_in_the_hub_cache_are_found(run_cli, monkeypatch, tmp_path):
    from skhisto.backbones import get_backbone_info

    info = get_backbone_info("resnet18")
    repo = tmp_path / "hub" / f"models--{info.hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    weights = repo / "snapshots" / "abc123" / info.weight_files[0]
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not read: only found")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    found = _doctor(run_cli, "--offline", "--cache", tmp_path)
    assert found["weights resnet18"]["status"] == "ok"
    assert str(weights) in found["weights resnet18"]["detail"]
    assert found["weights resnet50"]["status"] == "missing"
    assert "--weights FILE" in found["weights ctranspath"]["hint"]


@pytest.mark.parametrize("module", ["torch", "timm"])
def test_a_missing_requirement_fails_the_doctor(run_cli, monkeypatch, tmp_path, module):
    from skhisto.cli.commands import doctor

    if module == "torch":
        monkeypatch.setattr(doctor, "_torch", lambda: (None, [doctor._check("torch", "error", "")]))
    else:
        real = doctor.importlib.util.find_spec
        monkeypatch.setattr(
            doctor.importlib.util, "find_spec", lambda name: None if name == "timm" else real(name)
        )
    result = run_cli("doctor", "--offline", "--cache", tmp_path)
    assert result.code == 1
    assert any(line.startswith("error") for line in result.out.splitlines()), result.out


def test_doctor_says_what_log_to_and_review_need(run_cli, monkeypatch, tmp_path):
    from skhisto.cli.commands import doctor

    real = doctor.importlib.util.find_spec
    gone = {"tensorboard", "mlflow", "uvicorn"}
    monkeypatch.setattr(
        doctor.importlib.util, "find_spec", lambda name: None if name in gone else real(name)
    )
    found = _doctor(run_cli, "--offline", "--cache", tmp_path)
    assert found["tracking"]["status"] == "missing"
    assert "skhisto[tracking]" in found["tracking"]["hint"]
    assert found["review page"]["status"] == "missing"
    assert "uvicorn not installed" in found["review page"]["detail"]
    gone.discard("tensorboard")
    found = _doctor(run_cli, "--offline", "--cache", tmp_path)
    assert found["tracking"]["status"] == "ok"
    assert found["tracking"]["detail"].startswith("tensorboard ")
    assert found["tracking"]["detail"].endswith("; no mlflow")
