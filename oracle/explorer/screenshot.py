"""Screenshots for the docs, taken from a demo's static explorer pages (never from fixtures).

    .venv/bin/python -m oracle.explorer.screenshot results/explorer docs

writes `explorer-feed-backtest.png` (the first feed card, 1200 px wide) and
`explorer-phone.png` (the feeds page at 390 px) with Debian's Chromium through Playwright.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def take(site: Path, out: Path, chromium: Path = CHROMIUM) -> list[Path]:
    """Screenshot `site`/index.html (a demo's `results/explorer`) into `out`."""
    from playwright.sync_api import sync_playwright

    index = site / "index.html"
    if not index.is_file():
        raise SystemExit(f"error: {index} does not exist: run `make demo` first")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium))
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(index.resolve().as_uri())
            page.wait_for_selector("section.feed .js-plotly-plot", timeout=20_000)
            path = out / "explorer-feed-backtest.png"
            page.locator("section.feed").first.screenshot(path=str(path))
            written.append(path)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(index.resolve().as_uri())
            phone.wait_for_selector("section.feed .js-plotly-plot", timeout=20_000)
            path = out / "explorer-phone.png"
            phone.screenshot(path=str(path))
            written.append(path)
        finally:
            browser.close()
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m oracle.explorer.screenshot SITE_DIR OUT_DIR")
    for written in take(Path(sys.argv[1]), Path(sys.argv[2])):
        print(written)
