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


# The page, through starlette's test client.

pytest.importorskip("starlette")


def _tiles(tmp_path, n=3):
    import numpy as np
    from PIL import Image

    paths = []
    for i in range(n):
        path = tmp_path / f"tile{i}.png"
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(path)
        paths.append(str(path))
    return {"path": paths, "label": ["tumor", "stroma", "tumor"][:n], "score": [0.1, 0.9, 0.5][:n]}


def _client(tmp_path, **kwargs):
    from starlette.testclient import TestClient

    from skhisto.review import make_app

    items = _tiles(tmp_path)
    app = make_app(items, tmp_path / "q.decisions.csv", token="secret", **kwargs)
    return TestClient(app), items, app


def test_every_request_needs_the_token(tmp_path):
    client, _, _ = _client(tmp_path)
    for url in ("/", "/api/state", "/image/0", "/static/app.js"):
        client.cookies.clear()  # the page's cookie carries the token once it is given
        assert client.get(url).status_code == 403
        assert client.get(url + "?token=wrong").status_code == 403
        assert client.get(url, headers={"X-Review-Token": "secret"}).status_code == 200
    client.cookies.clear()
    assert client.post("/api/decide", json={"index": 0, "decision": "keep"}).status_code == 403
    assert not (tmp_path / "q.decisions.csv").exists()


def test_the_page_sets_a_cookie_and_loads_nothing_from_elsewhere(tmp_path):
    client, _, _ = _client(tmp_path)
    page = client.get("/?token=secret")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")
    assert client.get("/api/state").status_code == 200  # the cookie carries the token now
    script = client.get("/static/app.js").text
    assert "http://" not in script and "https://" not in script


def test_image_i_is_the_ith_item_in_review_order(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    client, items, _ = _client(tmp_path)
    state = client.get("/api/state?token=secret").json()
    assert [item["path"] for item in state["items"]] == [items["path"][i] for i in (1, 2, 0)]
    response = client.get("/image/0?token=secret")
    assert response.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(response.content)))
    assert pixels.shape == (16, 16, 3) and (pixels == 40).all()  # tile1: the highest score


@pytest.mark.parametrize(
    "url",
    [
        "/image/3",
        "/image/-1",
        "/image/..%2F..%2Fetc%2Fpasswd",
        "/image/../../etc/passwd",
        "/static/..%2F_app.py",
        "/static/index.html%00",
        "/neighbor/0",
        "/etc/passwd",
    ],
)
def test_nothing_but_the_listed_images_is_served(tmp_path, url):
    client, _, _ = _client(tmp_path)
    response = client.get(url, headers={"X-Review-Token": "secret"})
    assert response.status_code == 404
    assert b"root:" not in response.content and b"import" not in response.content


def test_decisions_are_saved_at_once_and_undo_takes_back_the_latest(tmp_path):
    from skhisto.io import listing_digest, read_decisions

    client, items, app = _client(tmp_path)
    headers = {"X-Review-Token": "secret"}
    decide = lambda body: client.post("/api/decide", json=body, headers=headers)  # noqa: E731
    assert decide({"index": 0, "decision": "relabel", "new_label": "tumor"}).status_code == 200
    assert decide({"index": 1, "decision": "keep"}).json()["decision"] == "keep"
    assert decide({"index": 2, "decision": "unusable"}).status_code == 200
    path = tmp_path / "q.decisions.csv"
    digest = listing_digest(items["path"], items["label"])
    assert app.state.input_digest == digest
    current = read_decisions(path, input_digest=digest)
    assert current["decision"].tolist() == ["relabel", "keep", "unusable"]
    assert current["path"].tolist() == [items["path"][i] for i in (1, 2, 0)]
    undone = client.post("/api/undo", headers=headers).json()
    assert (undone["index"], undone["decision"]) == (2, "pending")
    assert client.post("/api/undo", headers=headers).json()["index"] == 1
    state = client.get("/api/state", headers=headers).json()
    assert state["first_undecided"] == 1
    assert [item["decision"] for item in state["items"]] == ["relabel", "pending", "pending"]
    assert len(path.read_text().splitlines()) == 2 + 5


@pytest.mark.parametrize(
    "body, match",
    [
        ({"index": 9, "decision": "keep"}, "no item"),
        ({"index": 0, "decision": "relabel", "new_label": "bone"}, "not one of the classes"),
        ({"index": 0, "decision": "maybe"}, "not one of"),
        ({"index": "../x", "decision": "keep"}, "no item"),
    ],
)
def test_bad_decisions_get_400_and_change_nothing(tmp_path, body, match):
    client, _, _ = _client(tmp_path)
    response = client.post("/api/decide", json=body, headers={"X-Review-Token": "secret"})
    assert response.status_code == 400 and match in response.json()["error"]
    assert not (tmp_path / "q.decisions.csv").exists()


def test_neighbors_are_served_by_their_reference_row_only(tmp_path):
    import numpy as np

    from skhisto.review import class_neighbors

    X = np.eye(3)[[0, 1, 2, 0, 1]] + 0.01
    near = class_neighbors(X[:3], X, ["tumor", "stroma", "tumor", "tumor", "stroma"])
    reads = []

    def read_neighbor(row):
        reads.append(row)
        return np.zeros((4, 4, 3), np.uint8)

    client, _, _ = _client(tmp_path, neighbors=near, read_neighbor=read_neighbor)
    state = client.get("/api/state?token=secret").json()
    assert state["items"][0]["neighbors"] == near[0]
    row = near[0]["tumor"][0]
    assert client.get(f"/neighbor/{row}?token=secret").status_code == 200
    assert client.get("/neighbor/99?token=secret").status_code == 404
    assert reads == [row]


# The command line: one-line errors and the export.


@pytest.fixture
def here(tmp_path, monkeypatch):
    """The current folder of a `skhisto review` run, apart from its input's (tmp_path)."""
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _queries(tmp_path):
    items = _tiles(tmp_path)
    csv = tmp_path / "queries.csv"
    rows = [f"{os.path.basename(p)},{lab},{s}" for p, lab, s in zip(*items.values(), strict=True)]
    csv.write_text("path,label,score\n" + "\n".join(rows) + "\n")
    return csv, [os.path.basename(p) for p in items["path"]], items["label"]


def test_cli_export_is_exact(tmp_path, run_cli, here):
    """The decisions and the export are in review/ here, not beside INPUT (a shared folder is
    often read-only); the export's paths are relative to it, so it reads as it is."""
    csv, paths, labels = _queries(tmp_path)
    before = sorted(os.listdir(tmp_path))
    decisions = here / "review" / "queries.decisions.csv"
    decisions.parent.mkdir()
    digest = listing_digest(paths, labels)
    for path, label, decision, new in (
        (paths[1], labels[1], "relabel", "tumor"),
        (paths[2], labels[2], "unusable", ""),
    ):
        row = {"path": path, "label": label, "decision": decision, "new_label": new}
        append_decision(decisions, row, input_digest=digest)
    result = run_cli("review", csv, "--export")
    assert result.code == 0, result.err
    export = here / "review" / "queries.reviewed.csv"
    assert export.read_text() == (
        "path,label,decision\n../../tile0.png,tumor,pending\n../../tile1.png,tumor,relabel\n"
    )
    assert "1 relabelled, 1 unusable dropped" in result.out
    assert sorted(os.listdir(tmp_path)) == before
    from skhisto.cli._inputs import read_input

    assert [os.path.realpath(p) for p in read_input(str(export)).paths] == [
        str(tmp_path / "tile0.png"),
        str(tmp_path / "tile1.png"),
    ]


def test_cli_export_goes_beside_decisions_file_or_in_out_dir(tmp_path, run_cli, here):
    csv, paths, labels = _queries(tmp_path)
    decisions = tmp_path / "mine" / "q.decisions.csv"
    decisions.parent.mkdir()
    row = {"path": paths[0], "label": labels[0], "decision": "keep", "new_label": ""}
    append_decision(decisions, row, input_digest=listing_digest(paths, labels))
    result = run_cli("review", csv, "--decisions", decisions, "--export")
    assert result.code == 0, result.err
    assert (tmp_path / "mine" / "queries.reviewed.csv").read_text().splitlines()[1] == (
        "../tile0.png,tumor,keep"
    )
    result = run_cli("review", csv, "--decisions", decisions, "--export", "--out-dir", "out")
    assert result.code == 0, result.err
    assert (here / "out" / "queries.reviewed.csv").exists()
    assert not (here / "review").exists()


@pytest.mark.parametrize("export", [False, True])
def test_cli_an_unwritable_out_dir_is_one_line_naming_it(tmp_path, run_cli, here, export):
    csv, paths, labels = _queries(tmp_path)
    (here / "review").write_text("a file in the way")
    extra = ["--export"] if export else ["--no-browser"]
    if export:
        decisions = tmp_path / "d.decisions.csv"
        row = {"path": paths[0], "label": labels[0], "decision": "keep", "new_label": ""}
        append_decision(decisions, row, input_digest=listing_digest(paths, labels))
        extra += ["--decisions", decisions, "--out-dir", "review"]
    result = run_cli("review", csv, *extra)
    result.assert_one_line_error(1, "cannot write --out-dir", "review", "not a folder")
    result = run_cli("review", csv, "--decisions", here / "review" / "d.csv", "--no-browser")
    result.assert_one_line_error(1, "cannot write --decisions", "d.csv")


def test_cli_export_names_decisions_an_earlier_version_left_beside_input(tmp_path, run_cli, here):
    csv, paths, labels = _queries(tmp_path)
    older = tmp_path / "queries.decisions.csv"
    row = {"path": paths[0], "label": labels[0], "decision": "keep", "new_label": ""}
    append_decision(older, row, input_digest=listing_digest(paths, labels))
    result = run_cli("review", csv, "--export")
    result.assert_one_line_error(1, "no decisions file", f"--decisions {str(older)!r}")
    assert not (here / "review").exists()


def test_cli_refuses_a_decisions_file_of_another_input_in_one_line(tmp_path, run_cli):
    csv, paths, _ = _queries(tmp_path)
    other = tmp_path / "other.csv"
    append_decision(other, {"path": "x.png", "decision": "skip"}, input_digest="0" * 64)
    result = run_cli("review", csv, "--decisions", other, "--export")
    assert result.code == 1
    assert "belongs to another input" in result.err and len(result.err.splitlines()) == 1


def test_cli_names_the_first_missing_image_and_the_count(tmp_path, run_cli):
    csv, _, _ = _queries(tmp_path)
    (tmp_path / "tile1.png").unlink()
    (tmp_path / "tile2.png").unlink()
    result = run_cli("review", csv, "--no-browser")
    assert result.code == 1 and len(result.err.splitlines()) == 1
    assert "2 of the 3 images" in result.err and "tile1.png" in result.err


def test_cli_says_a_port_in_use_in_one_line(tmp_path, run_cli, here):
    import socket

    csv, _, _ = _queries(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run_cli("review", csv, "--no-browser", "--port", port)
    assert result.code == 1 and len(result.err.strip().splitlines()) <= 2
    assert f"port {port} on 127.0.0.1 is in use" in result.err


def test_cli_says_which_draw_a_decisions_file_needs(tmp_path, run_cli, here):
    """Another --per-class/--max-images draw of the same input is another input: the error
    says so, and the hint to review first repeats the draw's options."""
    csv, paths, labels = _queries(tmp_path)
    result = run_cli("review", csv, "--max-images", "2", "--export")
    result.assert_one_line_error(1, f"review first (skhisto review {csv} --max-images 2)")
    decisions = here / "review" / "queries.decisions.csv"
    decisions.parent.mkdir()
    row = {"path": paths[0], "label": labels[0], "decision": "keep", "new_label": ""}
    append_decision(decisions, row, input_digest=listing_digest(paths, labels))
    result = run_cli("review", csv, "--max-images", "2", "--export")
    result.assert_one_line_error(1, "belongs to another input", "--max-images")
