"""Objects for the browser tests made through the API, as another client would: a user's token, cloud files
(multipart), and what a throttled network looks like to the page."""

from __future__ import annotations

import json
import secrets
import urllib.request

from playwright.sync_api import Page

from tests.browser.stack import Stack

UPLOAD_BYTES_PER_SECOND = 8 * 1024 * 1024


def token(stack: Stack, user: dict) -> str:
    status, answer = stack.api("POST", "/auth/login", {"email": user["email"], "password": user["password"]})
    assert status == 200, answer
    return answer["data"]["access_token"]


def upload(stack: Stack, access_token: str, name: str, content: bytes, content_type: str = "audio/wav") -> dict:
    """POST /cloud/files as multipart/form-data."""
    boundary = secrets.token_hex(16)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(f"{stack.url}/api/v1/cloud/files", data=body, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Authorization", f"Bearer {access_token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201
        return json.loads(answer.read())["data"]


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
