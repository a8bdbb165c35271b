"""Every page in headless chromium: no Streamlit exception, Chinese title, a screenshot kept.

Screenshots go to artifacts/screenshots/<page>.png (gitignored; CI keeps them as artifacts).
The first request to the fresh server is a cold deep link, the case where Streamlit would run
the legacy pages/ mode: it must reach the right page with no legacy file listing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import PAGES
from tests.app.test_pages import TITLES
from tests.browser.cdp import Browser

EXCEPTIONS = 'document.querySelectorAll(\'[data-testid="stException"]\').length'
TITLE = 'document.querySelector(\'[data-testid="stMain"] h1\').textContent'
LEGACY_NAV = 'document.querySelectorAll(\'[data-testid="stSidebarNav"] a\').length'
NOT_FOUND = 'document.body.innerText.includes("Page not found")'


@pytest.fixture(scope="module")
def browser() -> Browser:
    b = Browser()
    yield b
    b.close()


def _open(browser: Browser, url: str) -> None:
    browser.goto(url)
    browser.wait_rendered(timeout=90)


def test_a_cold_deep_link_opens_the_page_without_the_legacy_listing(
        served_app: str, browser: Browser, screenshots_dir: Path) -> None:
    _open(browser, f"{served_app}/timeliness?sector=公安")
    assert browser.evaluate(TITLE).strip() == "办理时效"
    assert browser.evaluate(LEGACY_NAV) == 0
    assert not browser.evaluate(NOT_FOUND)
    assert browser.evaluate(EXCEPTIONS) == 0


@pytest.mark.parametrize("stem", PAGES)
def test_page_opens_in_chromium_without_exception(served_app: str, browser: Browser,
                                                  screenshots_dir: Path, stem: str) -> None:
    _open(browser, f"{served_app}/{stem}")
    assert browser.evaluate(EXCEPTIONS) == 0
    assert not browser.evaluate(NOT_FOUND)
    assert browser.evaluate(TITLE).strip() == TITLES[stem]
    browser.screenshot(screenshots_dir / f"{stem}.png")
    assert (screenshots_dir / f"{stem}.png").stat().st_size > 10_000


def test_english_overview_in_chromium(served_app: str, browser: Browser,
                                      screenshots_dir: Path) -> None:
    _open(browser, f"{served_app}/?lang=en")
    assert browser.evaluate(TITLE).strip() == "Overview"
    assert browser.evaluate(EXCEPTIONS) == 0
    browser.screenshot(screenshots_dir / "overview_en.png")
