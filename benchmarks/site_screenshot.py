"""The README's picture of the history site: publish the committed runs, screenshot the overview.

    python benchmarks/site_screenshot.py            # writes reports/site.png

Uses Debian's Chromium (/usr/bin/chromium) through playwright, as the browser test does.
"""

import sys
import tempfile
from pathlib import Path

from fastnn.bench.report.publish import publish

ROOT = Path(__file__).resolve().parent.parent
RUNS = [ROOT / "reports" / "baseline", ROOT / "reports" / "peers"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(target=ROOT / "reports" / "site.png"):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as site, tempfile.TemporaryDirectory() as profile:
        publish(RUNS, site)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", args=ARGS, headless=True,
                viewport={"width": 900, "height": 1100})
            page = browser.new_page()
            page.goto((Path(site) / "index.html").as_uri())
            page.screenshot(path=str(target))
            browser.close()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
