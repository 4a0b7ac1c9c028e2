"""Live: a creator opens "Go live", ffmpeg publishes to nginx-rtmp with the key read from the page, and a fan on
the streams list sees LIVE within 2 s without a reload, then sees it end; the key is regenerated after a
confirmation."""

import subprocess
import time

from playwright.sync_api import expect

from tests.browser.accounts import sign_in
from tests.browser.checks import check_screen
from tests.live import rtmp

SHOWN_WITHIN_MS = 2000
PUBLISH_SECONDS = 60  # at most: the test stops the encoder once it has seen what it waits for
PLAY_SECONDS = 3
ENCODER_CONNECT_SECONDS = 15
RECONNECT_NOISE = ("ERR_CONNECTION_REFUSED", "WebSocket connection")


def publish(url: str, seconds: float) -> subprocess.Popen:
    """ffmpeg publishing `seconds` of test signal to `url` in real time (the arguments tests/live/rtmp.py uses)."""
    # fmt: off
    return subprocess.Popen(
        [rtmp.FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
         "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
         "-re", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15",
         "-c:a", "aac", "-f", "flv", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    # fmt: on


def play(url: str, seconds: float) -> subprocess.Popen:
    """ffmpeg playing `url` for `seconds`, as a viewer would."""
    command = [
        rtmp.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        url,
        "-t",
        str(seconds),
        "-f",
        "null",
        "-",
    ]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def my_stream(stack, user: dict) -> str:
    """The id of the user's stream (a draft is made for a streamer who has none)."""
    status, answer = stack.api("GET", "/live/streams/me/key", token=user["token"])
    assert status == 200, answer
    return answer["data"]["stream_id"]


def stream_card(page, stream_id: str):
    """One stream's card on the streams list (other tests' streams are listed too)."""
    return page.get_by_test_id("stream-card").filter(has=page.locator(f'a[href="/live/{stream_id}"]'))


def wait_until_live(stack, user_id: str, live: bool) -> float:
    """Poll the database until the creator's stream is (or is no longer) live: when the RTMP callback committed."""
    deadline = time.monotonic() + ENCODER_CONNECT_SECONDS
    while time.monotonic() < deadline:
        if bool(stack.sql("SELECT 1 FROM live_streams WHERE user_id = %s AND is_live", (user_id,))) == live:
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"the stream did not turn {'live' if live else 'offline'} in {ENCODER_CONNECT_SECONDS}s")


def test_go_live_shows_live_to_fans_without_a_reload(new_page, user, stack):
    creator = new_page()
    sign_in(creator, user)
    creator.get_by_role("link", name="Go live").click()
    expect(creator.get_by_test_id("live-state")).to_have_text("Offline")
    expect(creator.get_by_test_id("stream-key")).to_have_count(0)  # hidden until revealed
    check_screen(creator, "go-live")
    creator.get_by_role("button", name="Reveal the key").click()
    key = creator.get_by_test_id("stream-key").inner_text()
    server = creator.get_by_test_id("rtmp-url").inner_text()
    assert server == f"rtmp://127.0.0.1:{stack.nginx.rtmp_port}/live" and len(key) > 16

    fan = new_page()
    fan.goto("/live")
    card = stream_card(fan, my_stream(stack, user))
    expect(card.get_by_test_id("live-state")).to_have_text("Offline")
    fan.evaluate("() => { window.notReloaded = true; }")

    encoder = publish(f"{server}/{key}", PUBLISH_SECONDS)
    try:
        went_live = wait_until_live(stack, user["id"], True)
        expect(card.get_by_test_id("live-state")).to_have_text("LIVE", timeout=SHOWN_WITHIN_MS)
        assert time.monotonic() - went_live < SHOWN_WITHIN_MS / 1000
        expect(creator.get_by_test_id("live-state")).to_have_text("LIVE", timeout=SHOWN_WITHIN_MS)
        check_screen(fan, "live")
        check_screen(creator, "go-live-on-air")
        card.get_by_role("link").click()
        expect(fan.get_by_test_id("live-state")).to_have_text("LIVE")
        check_screen(fan, "stream")
        stream_id = fan.url.rsplit("/", 1)[1]
        player = play(f"{server}/{stream_id}", PLAY_SECONDS)  # nginx's on_play: the viewer count follows live
        try:
            expect(fan.get_by_test_id("viewers")).to_have_text("1 viewer", timeout=PLAY_SECONDS * 1000)
        finally:
            player.wait(PLAY_SECONDS + 20)
        expect(fan.get_by_test_id("viewers")).to_have_text("0 viewers")
        assert encoder.poll() is None, encoder.stderr.read().decode(errors="replace")  # still publishing
        encoder.terminate()  # the streamer stops: nginx calls on_publish_done
        encoder.wait(10)
    finally:
        if encoder.poll() is None:
            encoder.kill()
        encoder.wait()
        encoder.stderr.close()

    ended = wait_until_live(stack, user["id"], False)
    expect(fan.get_by_test_id("live-state")).to_have_text("Ended", timeout=SHOWN_WITHIN_MS)
    assert time.monotonic() - ended < SHOWN_WITHIN_MS / 1000
    assert fan.evaluate("() => window.notReloaded") is True


def test_the_key_is_regenerated_only_after_a_confirmation(signed_in):
    page = signed_in
    page.get_by_role("link", name="Go live").click()
    page.get_by_role("button", name="Reveal the key").click()
    old = page.get_by_test_id("stream-key").inner_text()
    page.get_by_role("button", name="Regenerate the key").click()
    dialog = page.get_by_role("dialog", name="Regenerate the stream key?")
    expect(dialog).to_be_visible()
    check_screen(page, "go-live-regenerate")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_test_id("stream-key")).to_have_text(old)

    page.get_by_role("button", name="Regenerate the key").click()
    dialog.get_by_role("button", name="Regenerate").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("stream-key")).not_to_have_text(old)


def test_the_socket_reconnects_after_a_restart_and_resubscribes(new_page, watches, user, stack):
    status, answer = stack.api("GET", "/live/streams/me/key", token=user["token"])
    assert status == 200, answer
    key = answer["data"]["stream_key"]
    fan = new_page()
    fan.goto("/live")
    card = stream_card(fan, answer["data"]["stream_id"])
    expect(card.get_by_test_id("live-state")).to_have_text("Offline")
    banner = fan.get_by_text("You are offline")

    stack.stop_web()
    try:
        expect(banner).to_be_visible()
    finally:
        stack.start_web()
    expect(banner).to_have_count(0, timeout=20_000)  # backoff: at most 15 s between tries
    encoder = publish(f"rtmp://127.0.0.1:{stack.nginx.rtmp_port}/live/{key}", 2)
    try:
        expect(card.get_by_test_id("live-state")).to_have_text("LIVE", timeout=ENCODER_CONNECT_SECONDS * 1000)
    finally:
        encoder.wait(30)
        encoder.stderr.close()
    expect(card.get_by_test_id("live-state")).to_have_text("Ended", timeout=ENCODER_CONNECT_SECONDS * 1000)
    # While the server was down, the browser logged its failed attempts to reconnect: expected here.
    for watch in watches:
        watch.errors = [e for e in watch.errors if not any(word in e for word in RECONNECT_NOISE)]
