"""Browser tests: skip without Chromium, a browser page that leaves a screenshot when its test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import ARTIFACTS, CHROMIUM, VIEWPORT, launch


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (a browser is never downloaded). ``make test`` installs it: without it the browser
    tests fail with what to do, they do not skip."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: run `make setup-dev` (it runs apt-get install chromium)")
    return CHROMIUM


@pytest.fixture()
def page(chromium, request):
    """A fresh browser page (its own context; downloads allowed); a screenshot goes to ARTIFACTS on failure."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
            context.close()
            browser.close()
