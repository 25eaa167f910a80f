"""Review decisions files (skhisto.io) and the review page (skhisto.review) without a browser."""

import os
import threading

import pytest

from skhisto.io import append_decision, export_labels, listing_digest, read_decisions

PATHS = ["a.png", "b.png", "c.png", "d.png", "e.png"]
LABELS = ["tumor", "stroma", "tumor", "stroma", "tumor"]
DIGEST = listing_digest(PATHS, LABELS)


def _decide(path, item, decision, new_label="", when="2024-05-01T09:30:00Z"):
    row = {"path": PATHS[item], "label": LABELS[item], "decision": decision}
    row |= {"new_label": new_label, "reviewed_at": when}
    return append_decision(path, row, input_digest=DIGEST)


def test_file_is_exactly_the_documented_format(tmp_path):
    path = tmp_path / "tiles.decisions.csv"
    _decide(path, 1, "relabel", "tumor")
    _decide(path, 0, "keep", when="2024-05-01T09:31:00Z")
    assert path.read_text() == (
        f"# skhisto review decisions v1; input={DIGEST}\n"
        "path,label,decision,new_label,reviewed_at\n"
        "b.png,stroma,relabel,tumor,2024-05-01T09:30:00Z\n"
        "a.png,tumor,keep,,2024-05-01T09:31:00Z\n"
    )
    assert os.listdir(tmp_path) == ["tiles.decisions.csv"]  # no temporary left behind


def test_last_row_wins_in_first_decision_order_and_undo_is_pending(tmp_path):
    path = tmp_path / "d.csv"
    _decide(path, 2, "keep")
    _decide(path, 0, "unusable")
    _decide(path, 2, "relabel", "stroma")
    current = _decide(path, 0, "pending")  # undone
    assert current["path"].tolist() == ["c.png", "a.png"]
    assert current["decision"].tolist() == ["relabel", "pending"]
    again = read_decisions(path, input_digest=DIGEST)
    assert again.values.tolist() == current.values.tolist()
    assert again.attrs["input_digest"] == DIGEST


def test_default_timestamp_is_iso_utc(tmp_path):
    path = tmp_path / "d.csv"
    append_decision(
        path, {"path": "a.png", "label": "tumor", "decision": "keep"}, input_digest=DIGEST
    )
    stamp = read_decisions(path)["reviewed_at"].iloc[0]
    assert len(stamp) == 20 and stamp[10] == "T" and stamp.endswith("Z")


def test_a_file_of_another_input_is_refused_naming_both_digests(tmp_path):
    path = tmp_path / "d.csv"
    _decide(path, 0, "keep")
    other = listing_digest(PATHS, ["tumor"] * 5)
    with pytest.raises(ValueError, match="another input") as info:
        read_decisions(path, input_digest=other)
    assert DIGEST[:12] in str(info.value) and other[:12] in str(info.value)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="another input"):
        append_decision(path, {"path": "a.png", "decision": "keep"}, input_digest=other)


@pytest.mark.parametrize(
    "row, match",
    [
        ({"path": "a.png", "decision": "maybe"}, "not one of"),
        ({"path": "a.png", "decision": "relabel"}, "needs a new_label"),
        ({"path": "a.png", "decision": "keep", "new_label": "x"}, "only a relabel"),
        ({"decision": "keep"}, "needs"),
    ],
)
def test_bad_rows_are_refused_and_leave_the_file_alone(tmp_path, row, match):
    path = tmp_path / "d.csv"
    _decide(path, 0, "keep")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=match):
        append_decision(path, row, input_digest=DIGEST)
    assert path.read_bytes() == before


def test_not_a_decisions_file_is_said(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("path,label\na.png,tumor\n")
    with pytest.raises(ValueError, match="not a skhisto review decisions file"):
        read_decisions(path)


def test_a_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    _decide(path, 0, "keep")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        _decide(path, 1, "skip")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["d.csv"]


def test_concurrent_writers_serialize_and_lose_nothing(tmp_path):
    path = tmp_path / "d.csv"

    def writer(item):
        for _ in range(5):
            _decide(path, item, "skip")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 + 25
    assert sorted(read_decisions(path)["path"]) == PATHS


def test_export_is_exact(tmp_path):
    path = tmp_path / "d.csv"
    _decide(path, 1, "relabel", "tumor")
    _decide(path, 0, "keep")
    _decide(path, 2, "unusable")
    _decide(path, 3, "skip")
    _decide(path, 4, "relabel", "stroma")
    _decide(path, 4, "pending")
    table = export_labels({"path": PATHS, "label": LABELS}, read_decisions(path))
    assert table.to_csv(index=False) == (
        "path,label,decision\n"
        "a.png,tumor,keep\n"
        "b.png,tumor,relabel\n"
        "d.png,stroma,skip\n"
        "e.png,tumor,pending\n"
    )


def test_export_refuses_decisions_of_other_paths():
    with pytest.raises(ValueError, match="another input"):
        export_labels({"path": ["a"], "label": ["x"]}, {"path": ["z"], "decision": ["keep"]})


def test_digest_depends_on_paths_labels_and_order():
    assert listing_digest(PATHS, LABELS) == DIGEST
    assert listing_digest(PATHS) == listing_digest(PATHS, [""] * 5)
    assert listing_digest(PATHS[::-1], LABELS[::-1]) != DIGEST
    with pytest.raises(ValueError, match="5 paths but 2 labels"):
        listing_digest(PATHS, LABELS[:2])
