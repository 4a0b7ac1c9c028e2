"""The browser client, measured in Chromium against a real web process, worker and nginx-rtmp (tests/browser/stack.py):

- first visit: the bytes a fresh browser transfers (compressed, as on the wire) to show `/`, the catalog, until
  the network is idle (budget 150 KiB);
- catalog usable: from navigation start to the first search result visible, in fresh contexts (budget 1 s);
- live status: from the RTMP callback (on_publish / on_publish_done, posted as nginx-rtmp posts them) to the LIVE
  badge changing on a fan's streams list, over 50 changes (budget: p99 under 200 ms).

    .venv/bin/python -m tests.bench.client [--visits 20] [--changes 50]

Needs PostgreSQL, Redis, nginx with the RTMP module and Chromium; it makes a database `veza_bench_client_browser`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.bench.report import row
from tests.browser.accounts import make_product, register
from tests.browser.conftest import CHROMIUM
from tests.browser.stack import CALLBACK_SECRET, Stack, running_stack
from veza.settings import load_settings

os.environ.setdefault("VEZA_ENV", "test")  # config/test.toml: the test database server, no catalog cache

FIRST_VISIT_BUDGET = 150 * 1024
USABLE_BUDGET_MS = 1000
LIVE_BUDGET_MS = 200
PRODUCTS = 40

# Records when the first search result appears, and every change of the number of LIVE badges, on the page's clock
# (performance.timeOrigin + now(): milliseconds since the epoch, comparable with the test's wall clock).
OBSERVER = """
window.__firstResult = null;
window.__resultsChanged = null;
window.__liveChanges = [];
window.__lastInput = null;
let results = '';
addEventListener('input', () => { window.__lastInput = performance.now(); }, true);
let liveCount = 0;
new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    if (window.__firstResult === null && document.querySelector('[data-testid="product-card"]')) {
        window.__firstResult = performance.now();
    }
    const cards = document.querySelectorAll('[data-testid="product-card"] h2');
    const titles = [...cards].map((e) => e.textContent).join('|');
    if (titles !== results) {
        results = titles;
        window.__resultsChanged = performance.now();
    }
    const badges = [...document.querySelectorAll('[data-testid="live-state"]')];
    const live = badges.filter((e) => e.textContent === 'LIVE').length;
    if (live !== liveCount) {
        liveCount = live;
        window.__liveChanges.push({ at: now, live });
    }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def first_visit_bytes(browser, stack: Stack) -> tuple[int, int]:
    """Bytes on the wire (headers and compressed bodies) and requests, for a first visit to / until idle."""
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes: dict[str, int] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto("/", wait_until="networkidle")
    page.wait_for_selector('[data-testid="product-card"]')
    page.wait_for_load_state("networkidle")
    context.close()
    return sum(sizes.values()), len(sizes)


def catalog_usable_ms(browser, stack: Stack, visits: int) -> tuple[list[float], list[float]]:
    """Per fresh visit: navigation start to the first result visible; and the last keystroke of a search to its
    results shown (the client waits 250 ms after the last keystroke before it asks)."""
    usable, searched = [], []
    for n in range(visits):
        context = browser.new_context(base_url=stack.url)
        context.add_init_script(OBSERVER)
        page = context.new_page()
        page.goto("/catalog")
        page.wait_for_function("() => window.__firstResult !== null")
        usable.append(page.evaluate("() => window.__firstResult"))
        number = n % PRODUCTS  # "pack 3" finds "Bench pack 3" and, by prefix, "Bench pack 30" to "39"
        page.get_by_label("Search the catalog").press_sequentially(f"pack {number}", delay=30)
        page.wait_for_function(
            """(number) => {
                const cards = document.querySelectorAll('[data-testid="product-card"] h2');
                const titles = [...cards].map((e) => e.textContent);
                return titles.includes(`Bench pack ${number}`)
                    && titles.every((t) => t.startsWith(`Bench pack ${number}`));
            }""",
            arg=number,
        )
        searched.append(page.evaluate("() => window.__resultsChanged - window.__lastInput"))
        context.close()
    return usable, searched


def callback(stack: Stack, name: str, kind: str, client_id: int) -> None:
    """POST an nginx-rtmp callback as nginx does (form-encoded, the secret in the URL)."""
    body = urllib.parse.urlencode(
        {"name": name, "addr": "127.0.0.1", "clientid": str(client_id), "call": kind, "app": "live"}
    ).encode()
    query = urllib.parse.urlencode({"secret": CALLBACK_SECRET})
    request = urllib.request.Request(f"{stack.url}/api/v1/live/rtmp/on_{kind}?{query}", data=body, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request, timeout=10).close()
    except urllib.error.HTTPError as error:
        if error.code != 302:  # on_publish answers a redirect to the stream's public id
            raise
        error.close()


def wait_change(page: Page, seen: int) -> dict:
    page.wait_for_function(f"() => window.__liveChanges.length > {seen}", timeout=10_000)
    return page.evaluate(f"() => window.__liveChanges[{seen}]")


def live_status_ms(browser, stack: Stack, changes: int) -> list[float]:
    creator = register(stack)
    status, answer = stack.api("GET", "/live/streams/me/key", token=creator["token"])
    assert status == 200, answer
    key = answer["data"]["stream_key"]
    context = browser.new_context(base_url=stack.url)
    context.add_init_script(OBSERVER)
    page = context.new_page()
    page.goto("/live")
    page.wait_for_selector('[data-testid="stream-card"]')
    time.sleep(0.5)  # the socket subscribed
    latencies = []
    seen = page.evaluate("() => window.__liveChanges.length")
    for n in range(changes):
        starting = n % 2 == 0
        sent = time.time() * 1000
        # nginx names the stream by the key it was published with in both callbacks; each publish is a session
        callback(stack, key, "publish" if starting else "publish_done", n // 2 + 1)
        change = wait_change(page, seen)
        seen += 1
        assert change["live"] == (1 if starting else 0), change
        latencies.append(change["at"] - sent)
    context.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=20)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    base = load_settings().database_url.rpartition("/")[0] + "/veza_bench_client"
    redis_url = os.environ.get("REDIS_URL", load_settings().redis_url)
    with tempfile.TemporaryDirectory() as folder, running_stack(base, redis_url, Path(folder)) as stack:
        seller = register(stack, role="seller")
        for n in range(PRODUCTS):
            make_product(stack, seller, f"Bench pack {n}", tags=["bench"])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            size, requests = first_visit_bytes(browser, stack)
            usable, searched = catalog_usable_ms(browser, stack, args.visits)
            live = live_status_ms(browser, stack, args.changes)
            browser.close()
    print(f"first visit to /: {size / 1024:.1f} KiB over {requests} requests (budget {FIRST_VISIT_BUDGET // 1024} KiB)")
    print(
        f"catalog usable (first result visible), {len(usable)} fresh visits: "
        f"median {statistics.median(usable):.0f} ms, "
        f"p95 {percentile(usable, 0.95):.0f} ms, max {max(usable):.0f} ms (budget {USABLE_BUDGET_MS} ms)"
    )
    print(
        f"search as you type, last keystroke -> its results shown: median {statistics.median(searched):.0f} ms, "
        f"p95 {percentile(searched, 0.95):.0f} ms (of which 250 ms is the debounce)"
    )
    print(
        f"live status, RTMP callback -> badge on the streams list, {len(live)} changes: "
        f"median {statistics.median(live):.0f} ms, p99 {percentile(live, 0.99):.0f} ms, max {max(live):.0f} ms "
        f"(budget p99 {LIVE_BUDGET_MS} ms)"
    )
    row("Browser: first visit to /, compressed", f"{size / 1024:.1f} KiB", "< 150 KiB", size < FIRST_VISIT_BUDGET)
    row(
        "Browser: catalog usable (first result shown), p95",
        f"{percentile(usable, 0.95):.0f} ms",
        f"< {USABLE_BUDGET_MS} ms",
        percentile(usable, 0.95) < USABLE_BUDGET_MS,
    )
    row(
        "Browser: live status, RTMP callback to badge, p99",
        f"{percentile(live, 0.99):.0f} ms",
        f"< {LIVE_BUDGET_MS} ms",
        percentile(live, 0.99) < LIVE_BUDGET_MS,
    )
    ok = (
        size < FIRST_VISIT_BUDGET
        and percentile(usable, 0.95) < USABLE_BUDGET_MS
        and percentile(live, 0.99) < LIVE_BUDGET_MS
    )
    print("within budget" if ok else "OVER BUDGET")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
