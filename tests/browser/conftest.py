"""Browser tests: Chromium (Debian's, through Playwright's sync API) against a real web process, worker and
nginx-rtmp started once per session (tests/browser/stack.py).

Fixtures: `stack` (the running Veza), `browser`, `page` (in a fresh context; any console error it logs fails
the test), `new_page` (more such pages, each in a context of its own), `user` (an account made through the API)
and `signed_in` (the page, signed in as `user` through the sign-in screen).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.accounts import register, sign_in
from tests.browser.checks import HEIGHT, WIDE, ConsoleWatch
from tests.browser.stack import Stack, running_stack
from tests.live import rtmp

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
EXPECT_TIMEOUT_MS = 10_000  # the machine is shared: pages can be slow to settle; timed checks set their own
ACTION_TIMEOUT_MS = 15_000

missing = None if Path(CHROMIUM).exists() else f"{CHROMIUM} is missing (apt-get install chromium)"
missing = missing or rtmp.missing()


def pytest_collection_modifyitems(items):
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("browser"))  # one stack per session, on one xdist worker
            if missing:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and "stack" in item.funcargs:
        report.sections.append(("veza logs", item.funcargs["stack"].log_tail()))
    return report


@pytest.fixture(scope="package")
def stack(database_url, tmp_path_factory) -> Iterator[Stack]:
    """Stopped once the browser tests are done: its worker takes jobs from the suite's Redis db, so it must not
    outlive them and steal the jobs of the tests that run after them in the same process."""
    with running_stack(database_url, os.environ["REDIS_URL"], tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium for one test. Not for the session: Playwright's sync API keeps its event loop marked running
    while it is started, which the suite's asyncio tests (run in the same process) cannot share."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def watches() -> Iterator[list[ConsoleWatch]]:
    """Every watched page's console; the test fails on any error any of them logged."""
    found: list[ConsoleWatch] = []
    yield found
    errors = [error for watch in found for error in watch.errors]
    if errors:
        pytest.fail("the browser console logged errors:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def new_page(browser, stack, watches):
    """new_page(): a page in a fresh context (its own cookies and storage), watched for console errors."""
    contexts: list[BrowserContext] = []

    def make(width: int = WIDE) -> Page:
        context = browser.new_context(base_url=stack.url, viewport={"width": width, "height": HEIGHT})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        watch = ConsoleWatch()
        watch.attach(page)
        watches.append(watch)
        return page

    stack.forget_rate_limits()
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def user(stack) -> dict:
    return register(stack)


@pytest.fixture
def signed_in(page, user) -> Page:
    sign_in(page, user)
    return page
