"""Streamlit's own table toolbar offers no "Download as CSV" (client.disableDataExport): in a
real browser, hovering a table shows its toolbar (search, fullscreen) without the download, so
a table leaves the dashboard only through the audited download buttons."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.cdp import Browser

TOOLBAR = ("JSON.stringify(Array.from(document.querySelectorAll("
           "'[data-testid=\"stElementToolbar\"] button')).map(e => e.getAttribute('aria-label')))")
CENTRE = """(() => { const el = document.querySelector('[data-testid="stDataFrame"]');
  if (!el) return 'null'; el.scrollIntoView();
  const r = el.getBoundingClientRect(); return JSON.stringify([r.x + r.width / 2, r.y + 20]); })()"""


@pytest.fixture(scope="module")
def browser() -> Browser:
    b = Browser()
    yield b
    b.close()


def test_table_toolbar_has_no_csv_download(served_app: str, browser: Browser) -> None:
    browser.goto(f"{served_app}/drilldown")
    browser.wait_rendered(timeout=90)
    pos, deadline = None, time.time() + 60
    while time.time() < deadline and not pos:  # the tables come after the page's first paint
        pos = json.loads(browser.evaluate(CENTRE))
        time.sleep(0.5)
    assert pos, "no table on the page"
    browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=pos[0], y=pos[1])
    labels: list[str] = []
    deadline = time.time() + 10
    while time.time() < deadline and "Search" not in labels:  # the toolbar did render
        time.sleep(0.3)
        labels = json.loads(browser.evaluate(TOOLBAR))
    assert "Search" in labels, labels
    assert not any("Download" in (label or "") for label in labels), labels
