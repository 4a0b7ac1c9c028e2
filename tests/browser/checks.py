"""What every screen must pass in the browser: no console error, no serious or critical axe-core violation, no
sideways scrolling at 360 px; and a screenshot of it at 360 and 1280 px under .screens/ (git-ignored)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENS_DIR = ROOT / ".screens"
AXE_SOURCE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text()
NARROW, WIDE = 360, 1280
HEIGHT = 800
BLOCKING_IMPACTS = ("serious", "critical")
# Chromium logs every answer >= 400 as a console error. A 4xx is an answer the page handles (it shows the
# envelope's message): those lines are not errors of the page. A 5xx, a script error or a failed socket is.
HANDLED_ANSWER = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d ")


class ConsoleWatch:
    """Collects the page's console errors and uncaught exceptions."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not HANDLED_ANSWER.match(message.text):
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")


def axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)  # evaluated by the driver: the page's CSP does not apply to it
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert violations == [], "\n".join(violations)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def check_screen(page: Page, name: str) -> None:
    """The screen as it is now, at 360 px and 1280 px: screenshots, no sideways scrolling when narrow, and the
    accessibility check at both widths."""
    SCREENS_DIR.mkdir(exist_ok=True)
    before = page.viewport_size
    try:
        for width in (NARROW, WIDE):
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            page.screenshot(path=str(SCREENS_DIR / f"{name}-{width}.png"), full_page=True)
            if width == NARROW:
                assert horizontal_overflow(page) <= 0, f"{name} scrolls sideways at {NARROW} px"
            assert_accessible(page)
    finally:
        if before:
            page.set_viewport_size(before)
