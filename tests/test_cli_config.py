"""`--config FILE.yaml` and `--seeds`: a YAML file of options, the resolved config beside the
results, and a run repeated per seed with the mean and std across seeds."""

import csv

import pytest
import yaml

from skhisto.model_selection import summarize_seeds

TINY = {
    "pretrained": False,
    "image-size": 32,
    "per_class": 6,
    "cv": 2,
    "rates": [0, 0.4],
    "max_epochs": 2,
}
TINY_ARGV = [
    "--no-pretrained", "--image-size", "32", "--per-class", "6", "--cv", "2",
    "--rates", "0", "0.4", "--max-epochs", "2",
]  # fmt: skip


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_yaml(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_config_and_seeds_give_the_command_line_table(run_cli, lc25000_dir, tmp_path):
    """The acceptance of issue 24: `noise-curve DIR --config c.yaml --seeds 0 1` reproduces
    the table of the same options on the command line, with the mean and std across seeds."""
    config = write_yaml(tmp_path / "c.yaml", TINY)
    by_file = run_cli(
        "noise-curve", lc25000_dir, "--config", config, "--seeds", "0", "1",
        "--out-dir", tmp_path / "file",
    )  # fmt: skip
    assert by_file.code == 0, by_file.err
    by_line = run_cli(
        "noise-curve", lc25000_dir, *TINY_ARGV, "--seeds", "0", "1", "--out-dir", tmp_path / "line"
    )
    assert by_line.code == 0, by_line.err
    assert by_file.out == by_line.out
    assert "mean and std over seeds 0 1" in by_file.out
    for name in ("noise_curve.csv", "noise_curve_seeds.csv"):
        assert read_csv(tmp_path / "file" / name) == read_csv(tmp_path / "line" / name)
    rows = read_csv(tmp_path / "file" / "noise_curve.csv")
    assert list(rows[0])[0] == "seed" and {r["seed"] for r in rows} == {"0", "1"}
    summary = read_csv(tmp_path / "file" / "noise_curve_seeds.csv")
    assert len(summary) == 2 * 2  # 2 rates x 2 heads
    assert {r["n_seeds"] for r in summary} == {"2"}
    # the summary is summarize_seeds of the per-seed table
    import pandas as pd

    table = pd.read_csv(tmp_path / "file" / "noise_curve.csv")
    expected = summarize_seeds(table, by=["rate", "head"], score="balanced_accuracy_mean")
    got = pd.read_csv(tmp_path / "file" / "noise_curve_seeds.csv")
    assert got["balanced_accuracy_mean"].tolist() == pytest.approx(
        expected["balanced_accuracy_mean_mean"].tolist()
    )
    assert got["balanced_accuracy_std"].tolist() == pytest.approx(
        expected["balanced_accuracy_mean_std"].tolist()
    )
    # the resolved config repeats the run
    resolved = yaml.safe_load((tmp_path / "file" / "noise-curve.config.yaml").read_text())
    assert resolved["seeds"] == [0, 1] and resolved["cv"] == 2 and resolved["pretrained"] is False
    again = run_cli(
        "noise-curve",
        "--config",
        tmp_path / "file" / "noise-curve.config.yaml",
        "--out-dir",
        tmp_path / "again",
    )
    assert again.code == 0, again.err
    assert again.out == by_file.out


def test_the_command_line_wins_over_the_file(run_cli, lc25000_dir, tmp_path):
    config = write_yaml(tmp_path / "c.yaml", {**TINY, "rates": [0, 0.2], "heads": ["mlp"]})
    out = tmp_path / "out"
    result = run_cli(
        "noise-curve", lc25000_dir, "--config", config, "--rates", "0.4", "--heads", "linear",
        "--out-dir", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = read_csv(out / "noise_curve.csv")
    assert {(r["rate"], r["head"]) for r in rows} == {("0.4", "LinearHead")}
    resolved = yaml.safe_load((out / "noise-curve.config.yaml").read_text())
    assert resolved["rates"] == [0.4] and resolved["heads"] == ["linear"]


@pytest.mark.parametrize(
    "data, words",
    [
        ({"max_epoch": 3}, ["unknown key 'max_epoch'", "max_epochs", "rates"]),
        ({"cv": 1}, ["--cv", "at least 2 folds"]),
        ({"noise": "nope"}, ["--noise", "nope"]),
        ({"per_class": [1, 2]}, ["per_class takes one value"]),
        ({"pretrained": "no"}, ["pretrained must be true or false"]),
        (["cv", 2], ["must be a mapping"]),
    ],
)
def test_a_wrong_config_is_one_line_before_any_work(run_cli, lc25000_dir, tmp_path, data, words):
    config = write_yaml(tmp_path / "c.yaml", data)
    out = tmp_path / "out"
    result = run_cli("noise-curve", lc25000_dir, "--config", config, "--out-dir", out)
    result.assert_one_line_error(2, *words)
    assert not out.exists()


def test_config_gives_the_input_and_other_commands_take_it(run_cli, lc25000_dir, tmp_path):
    embed_options = {k: TINY[k] for k in ("pretrained", "image-size", "per_class")}
    config = write_yaml(
        tmp_path / "e.yaml",
        {"input": str(lc25000_dir), **embed_options, "--out": str(tmp_path / "e.npz")},
    )
    result = run_cli("embed", "--config", config, "--backbone", "resnet18")
    assert result.code == 0, result.err
    assert (tmp_path / "e.npz").exists()
    resolved = yaml.safe_load((tmp_path / "e.embed.config.yaml").read_text())
    assert resolved["per_class"] == 6 and resolved["input"] == str(lc25000_dir)


def test_repeated_seeds_are_refused(run_cli, lc25000_dir, tmp_path):
    result = run_cli("noise-curve", lc25000_dir, *TINY_ARGV, "--seeds", "0", "0")
    result.assert_one_line_error(1, "--seeds", "repeated")


@pytest.mark.parametrize(
    "command, data, words",
    [
        # a flag spelled as on the command line, true gives it and false leaves it out
        ("noise-curve", {"no-pretrained": True}, ["--no-pretrained"]),
        ("noise-curve", {"no_pretrained": False}, []),
        ("noise-curve", {"no-cache": True, "no-groups": True}, ["--no-cache", "--no-groups"]),
        # simclr's --batch-size sets simclr_batch_size: both spellings are taken
        ("simclr", {"batch-size": 8}, ["--batch-size", "8"]),
        ("simclr", {"simclr_batch_size": 8}, ["--batch-size", "8"]),
    ],
)
def test_a_key_may_spell_the_option_as_typed(tmp_path, command, data, words):
    from skhisto.cli import build_parser
    from skhisto.cli._config import config_argv

    config = write_yaml(tmp_path / "c.yaml", data)
    argv = [command, "in", "--config", str(config)]
    assert config_argv(build_parser(), argv) == [*argv, *words]


def test_a_spelled_flag_takes_true_or_false(run_cli, lc25000_dir, tmp_path):
    config = write_yaml(tmp_path / "c.yaml", {"no-pretrained": "yes"})
    result = run_cli("noise-curve", lc25000_dir, "--config", config, "--out-dir", tmp_path / "o")
    result.assert_one_line_error(2, "no-pretrained must be true or false")


def test_the_resolved_config_is_one_option_a_line(tmp_path):
    """Without a list among the values, PyYAML's flow style would put the whole mapping on
    one line in braces; each option keeps its own line, lists inline."""
    from skhisto.cli._config import _dump

    text = _dump({"input": "tiles", "epochs": 1, "weights": None})
    assert text.splitlines() == ["input: tiles", "epochs: 1", "weights: null"]
    config = {"input": "tiles", "rates": [0.0, 0.4], "heads": ["mlp"], "json": False}
    text = _dump(config)
    assert "rates: [0.0, 0.4]" in text.splitlines() and yaml.safe_load(text) == config


@pytest.mark.parametrize(
    "argv, option",
    [
        (["--seeds", "0", "-1"], "--seeds"),
        (["--random-state", "-1"], "--random-state"),
        (["--seeds", str(2**32)], "--seeds"),
    ],
)
def test_a_seed_out_of_range_is_a_usage_error(run_cli, lc25000_dir, tmp_path, argv, option):
    """numpy and scikit-learn take seeds from 0 to 2**32 - 1: refused by argparse, before any
    run starts, rather than by a library's check deep inside the first seed's run."""
    result = run_cli("noise-curve", lc25000_dir, *argv, "--out-dir", tmp_path / "o")
    result.assert_one_line_error(2, f"argument {option}", "a seed from 0 to 4294967295")
    assert not (tmp_path / "o").exists()


def test_a_resolved_config_of_another_command_is_refused_naming_it(run_cli, tmp_path):
    """A config.yaml of an older skhisto (which every command wrote, so `noise-curve` then
    `active` in one --out-dir left active's): given to noise-curve, it is refused naming the
    command it is for."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "# skhisto active: the resolved options of this run\ninput: emb.npz\nstrategy: [random]\n"
    )
    result = run_cli("noise-curve", "--config", config, "--out-dir", tmp_path / "o")
    result.assert_one_line_error(2, "a skhisto active run", "pass it to skhisto active")
    assert not (tmp_path / "o").exists()


def test_commands_sharing_an_out_dir_keep_their_own_resolved_config(tmp_path):
    """The README runs `noise-curve ... --out-dir results` then `active ... --out-dir results`:
    each resolved config is named after its command, so neither overwrites the other's."""
    from skhisto.cli import build_parser
    from skhisto.cli._config import write_resolved_config

    parser = build_parser()
    for argv in (["noise-curve", "emb.npz"], ["active", "emb.npz"], ["label-issues", "emb.npz"]):
        args = parser.parse_args([*argv, "--out-dir", str(tmp_path)])
        assert write_resolved_config(args) == tmp_path / f"{argv[0]}.config.yaml"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "active.config.yaml",
        "label-issues.config.yaml",
        "noise-curve.config.yaml",
    ]
    for name in names:
        command = name.split(".")[0]
        first = (tmp_path / name).read_text().splitlines()[0]
        assert first == f"# skhisto {command}: the resolved options of this run"
