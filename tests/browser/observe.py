"""What the cloud tests need besides the page: a throttled network, and every text an element showed."""

from __future__ import annotations

from playwright.sync_api import Page

UPLOAD_BYTES_PER_SECOND = 8 * 1024 * 1024


def throttle_uploads(page: Page, bytes_per_second: int = UPLOAD_BYTES_PER_SECOND) -> None:
    """Chromium's own network throttling (DevTools protocol), so that a 20 MiB upload on localhost lasts long
    enough to be watched and cancelled."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


def record_texts(page: Page, test_id: str) -> None:
    """From now on, every text the elements with this test id show is kept in window.__texts."""
    page.evaluate(
        """(testId) => {
            window.__texts = [];
            const seen = () => document.querySelectorAll(`[data-testid="${testId}"]`)
                .forEach((element) => window.__texts.push(element.textContent));
            new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
        }""",
        test_id,
    )


def recorded_texts(page: Page) -> list[str]:
    return page.evaluate("() => window.__texts")
