"""`fastnn publish`: grouping, skipped runs, changes found, and the site in a real browser."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from publish_helpers import write_history

from fastnn.bench.report.publish import publish
from fastnn.bench.report.publish.markdown import to_html
from fastnn.cli import main

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = write_history(tmp_path_factory.mktemp("history"))
    out = tmp_path_factory.mktemp("site")
    skipped = []
    summary = publish([root], out, warn=skipped.append)
    return out, summary, skipped


def test_publish_groups_machines_and_skips_corrupt_runs(site):
    out, summary, skipped = site
    assert summary["runs"] == 4 and summary["groups"] == 2
    assert len(skipped) == 1 and "broken" in skipped[0]
    index = (out / "index.html").read_text()
    assert "Test CPU" in index and "Other CPU" in index
    assert index.count('class="finding regressed"') == 1  # numba at batch 32, r2 -> r3
    assert "forward 64-30-10 x32" in index and "Peer race" in index
    assert (out / "compare-r2--r3.html").is_file()
    assert "http" not in index.replace("http://www.w3.org", "")  # nothing fetched
    assert (out / "index.html").stat().st_size < 2_000_000
    run_page = (out / "runs" / "r1.html").read_text()
    assert "numba vs numpy" in run_page and "× (" in run_page  # speedups with intervals


def test_publish_cli_names_the_skipped_run(tmp_path, capsys):
    root = write_history(tmp_path / "runs")
    assert main(["publish", str(root), "--out", str(tmp_path / "site")]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "broken" in captured.err
    assert "4 run(s) in 2 group(s), 1 significant regression(s)" in captured.out
    assert main(["publish", str(root / "broken"), "--out", str(tmp_path / "none")]) == 2
    before = (root / "r1" / "results.json").read_bytes()
    assert main(["publish", str(root), "--out", str(root / "r1")]) == 2  # never into a run
    assert (root / "r1" / "results.json").read_bytes() == before
    assert not (root / "r1" / "index.html").exists()


def test_markdown_subset_renders_and_escapes():
    text = to_html("# T\n\npara **b** `c` <x>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item")
    assert "<h1>T</h1>" in text and "<strong>b</strong>" in text and "&lt;x&gt;" in text
    assert "<td>1</td>" in text and "<li>item</li>" in text


def test_site_in_headless_chromium(site, tmp_path):
    """Every page loads without a console error, charts draw, a regression opens its
    comparison; screenshots go to the test's tmp folder. Fails if Chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium "
                    f"(apt-get install -y chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    out, _, _ = site
    pages = sorted(out.glob("*.html")) + sorted((out / "runs").glob("*.html"))
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    errors = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1000, "height": 800})
            page = browser.new_page()
            page.on("console", lambda message: message.type == "error"
                    and errors.append(f"{page.url}: {message.text}"))
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            for path in pages:
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                assert page.title(), path
            # charts drew: an SVG per point, with non-empty lines and dots
            history = next(path for path in out.glob("history-*.html")
                           if "Test CPU" in path.read_text())
            page.goto(history.as_uri())
            assert page.locator("#charts svg").count() >= 3
            points = page.locator("polyline.series").first.get_attribute("points")
            assert points and len(points.split()) >= 3
            page.locator("circle.dot").first.hover()
            assert "@" in page.locator("#tip").inner_text()
            page.screenshot(path=str(tmp_path / "history.png"), full_page=True)
            # a click on a regression opens its comparison
            page.goto((out / "index.html").as_uri())
            page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
            page.locator("a.finding.regressed").first.click()
            page.wait_for_load_state("load")
            assert page.url.endswith("compare-r2--r3.html")
            assert "1 regressed" in page.content()
            # usable at a phone's width: nothing wider than the screen but the tables' scroll
            page.set_viewport_size({"width": 380, "height": 800})
            page.goto((out / "index.html").as_uri())
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 400
            page.screenshot(path=str(tmp_path / "index-phone.png"), full_page=True)
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert errors == []
    for name in ("history.png", "index.png", "index-phone.png"):
        assert (tmp_path / name).stat().st_size > 1000
    if os.environ.get("FASTNN_SITE_SCREENSHOT"):  # for the README's picture
        shutil.copyfile(tmp_path / "index.png", os.environ["FASTNN_SITE_SCREENSHOT"])
