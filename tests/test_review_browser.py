"""The acceptance test of the review page: a real browser, a real server killed mid-review.

Five LC25000 tiles are reviewed with the keyboard in Chromium (driven by
Playwright), two of them relabelled; the server process is killed after two
decisions and started again, the review resumes at the first undecided tile
and finishes. The decisions file and the export must be exact. With
``SKHISTO_SCREENSHOTS=1`` the screenshots of the docs are written to
docs/_static/review/.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import child_env

from skhisto.io import listing_digest, read_decisions

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "_static" / "review"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (the system's Chromium)"),
    pytest.mark.slow,
]


def _start(csv, *extra):
    """`python -m skhisto review CSV --no-browser` in its own process, run in CSV's folder (the
    decisions go to review/ there), and its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "skhisto", "review", str(csv), "--no-browser", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=csv.parent,
    )
    line = process.stdout.readline()
    match = re.search(r"review page: (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
    if match is None:
        process.kill()
        raise AssertionError(f"no address printed: {line!r} {process.stderr.read()}")
    return process, match.group(1)


def _wait_for(page, selector, text):
    from playwright.sync_api import expect  # selectors only: the page's CSP forbids eval

    expect(page.locator(selector)).to_contain_text(text, timeout=15000)


def _shoot(page, name):
    if os.environ.get("SKHISTO_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)  # small PNGs


def test_review_five_tiles_with_the_keyboard_across_a_killed_server(lc25000_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    picks = [("lung_aca", 0), ("lung_aca", 1), ("lung_n", 0), ("lung_n", 1), ("lung_scc", 0)]
    paths, labels = [], []
    for label, k in picks:
        paths.append(str(sorted((lc25000_dir / label).iterdir())[k]))
        labels.append(label)
    csv = tmp_path / "queries.csv"
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]  # review order = file order
    csv.write_text(
        "path,label,score\n"
        + "".join(f"{p},{lab},{s}\n" for p, lab, s in zip(paths, labels, scores, strict=True))
    )
    decisions = tmp_path / "review" / "queries.decisions.csv"
    server, url = _start(csv)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(url)
            _wait_for(page, "#current-path", paths[0])
            sync_api.expect(page.locator("#image")).to_have_js_property("complete", True)
            _shoot(page, "review")
            page.keyboard.press("k")  # tile 0: keep
            _wait_for(page, "#current-path", paths[1])
            page.keyboard.press("3")  # tile 1: lung_aca -> lung_scc
            _wait_for(page, "#progress", "2 / 5 decided")
            server.kill()  # a killed server: the two decisions are on disk already
            server.wait(timeout=10)
            server, url = _start(csv)
            page.goto(url)
            _wait_for(page, "#current-path", paths[2])  # resumes at the first undecided
            page.keyboard.press("u")  # tile 2: unusable ...
            _wait_for(page, "#current-path", paths[3])
            page.keyboard.press("z")  # ... undone
            _wait_for(page, "#current-path", paths[2])
            _wait_for(page, "#current-decision", "pending")
            page.keyboard.press("1")  # tile 2: lung_n -> lung_aca
            _wait_for(page, "#current-path", paths[3])
            page.keyboard.press("u")  # tile 3: unusable
            _wait_for(page, "#current-path", paths[4])
            page.keyboard.press("Enter")  # tile 4: keep
            page.wait_for_selector("#summary:not([hidden])", timeout=15000)
            _wait_for(page, "#progress", "5 / 5 decided")
            _shoot(page, "summary")
            summary = page.inner_text("#summary")
            browser.close()
    finally:
        server.kill()
        server.wait(timeout=10)
    assert "every item is decided" in summary
    current = read_decisions(decisions, input_digest=listing_digest(paths, labels))
    assert current[["path", "label", "decision", "new_label"]].values.tolist() == [
        [paths[0], "lung_aca", "keep", ""],
        [paths[1], "lung_aca", "relabel", "lung_scc"],
        [paths[2], "lung_n", "relabel", "lung_aca"],
        [paths[3], "lung_n", "unusable", ""],
        [paths[4], "lung_scc", "keep", ""],
    ]
    rows = [line.split(",")[2:4] for line in decisions.read_text().splitlines()[2:]]
    assert rows == [
        ["keep", ""],
        ["relabel", "lung_scc"],
        ["unusable", ""],
        ["pending", ""],
        ["relabel", "lung_aca"],
        ["unusable", ""],
        ["keep", ""],
    ]
    export = subprocess.run(
        [sys.executable, "-m", "skhisto", "review", str(csv), "--export"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        cwd=tmp_path,
    )
    assert export.returncode == 0, export.stderr
    assert (tmp_path / "review" / "queries.reviewed.csv").read_text() == (
        "path,label,decision\n"
        f"{paths[0]},lung_aca,keep\n"
        f"{paths[1]},lung_scc,relabel\n"
        f"{paths[2]},lung_aca,relabel\n"
        f"{paths[4]},lung_scc,keep\n"
    )
