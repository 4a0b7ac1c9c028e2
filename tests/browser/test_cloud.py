"""Cloud: several uploads at once with their progress (a 20 MiB one among them), one cancelled; a version
restored; a share link opened in a browser that is not signed in, downloaded, then revoked."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.checks import check_screen
from tests.browser.observe import record_texts, recorded_texts, throttle_uploads

MIB = 1024 * 1024
UPLOAD_TIMEOUT_MS = 30000


def upload_row(page, name: str):
    return page.get_by_test_id("upload").filter(has_text=name)


def test_uploads_show_their_progress_complete_and_one_is_cancelled(signed_in, tmp_path):
    page = signed_in
    page.get_by_role("link", name="Cloud").click()
    expect(page.get_by_role("heading", name="Cloud")).to_be_visible()
    expect(page.get_by_text("No files yet")).to_be_visible()
    check_screen(page, "cloud-empty")

    big, small, dropped = tmp_path / "big-mix.wav", tmp_path / "notes.txt", tmp_path / "dropped.wav"
    big.write_bytes(os.urandom(20 * MIB))
    small.write_bytes(b"verse, chorus, verse\n")
    dropped.write_bytes(os.urandom(20 * MIB))
    throttle_uploads(page)
    record_texts(page, "upload-state")

    page.get_by_label("Upload files").set_input_files([big, small])
    for name in ("notes.txt", "big-mix.wav"):
        state = upload_row(page, name).get_by_test_id("upload-state")
        expect(state).to_have_text("Uploaded", timeout=UPLOAD_TIMEOUT_MS)
    percents = [int(m.group(1)) for text in recorded_texts(page) if (m := re.fullmatch(r"(\d+) %", text))]
    assert any(0 < p < 100 for p in percents), f"no progress shown between 0 and 100 %: {percents}"

    files = page.get_by_test_id("cloud-file")
    expect(files).to_have_count(2)
    expect(files.filter(has_text="big-mix.wav")).to_contain_text("20.0 MiB")
    expect(page.get_by_test_id("cloud-usage")).to_contain_text("2 files")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download notes.txt").click()
    assert Path(downloading.value.path()).read_bytes() == small.read_bytes()

    page.get_by_label("Upload files").set_input_files(dropped)
    state = upload_row(page, "dropped.wav").get_by_test_id("upload-state")
    expect(state).to_have_text(re.compile(r"^\d+ %$"))
    page.get_by_role("button", name="Cancel the upload of dropped.wav").click()
    expect(state).to_have_text("Cancelled")
    check_screen(page, "cloud")

    page.reload()  # nothing of the cancelled upload was kept
    expect(page.get_by_test_id("cloud-file")).to_have_count(2)
    expect(page.get_by_test_id("cloud-usage")).to_contain_text("2 files")


def test_a_version_is_restored_and_a_share_link_downloads_in_a_fresh_context(signed_in, new_page, tmp_path):
    page = signed_in
    first, second = b"first take\n" * 10, b"second take, longer\n" * 20
    take = tmp_path / "take.txt"
    take.write_bytes(first)
    page.goto("/cloud")
    page.get_by_label("Upload files").set_input_files(take)
    page.get_by_role("link", name="take.txt").click()
    expect(page.get_by_role("heading", name="take.txt")).to_be_visible()
    expect(page.get_by_test_id("file-version")).to_have_text("1")

    take.write_bytes(second)
    page.get_by_label("Upload a new version").set_input_files(take)
    expect(page.get_by_test_id("file-version")).to_have_text("2")
    expect(page.get_by_test_id("version")).to_have_count(2)
    expect(page.get_by_test_id("file-size")).to_contain_text(f"({len(second)} bytes)")

    page.get_by_role("button", name="Restore version 1").click()
    page.get_by_role("dialog", name="Restore version 1?").get_by_role("button", name="Restore").click()
    expect(page.get_by_test_id("file-version")).to_have_text("3")
    expect(page.get_by_test_id("file-size")).to_contain_text(f"({len(first)} bytes)")
    expect(page.get_by_test_id("version")).to_have_count(3)
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download version 2").click()
    assert Path(downloading.value.path()).read_bytes() == second  # past versions stay as they were

    page.get_by_label("Link expires after").select_option(label="7 days")
    page.get_by_role("button", name="Create a share link").click()
    link = page.get_by_test_id("new-share-link").text_content()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]{43}", link), link
    expect(page.get_by_test_id("share")).to_have_count(1)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy the link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    check_screen(page, "cloud-file")

    guest = new_page()  # its own context: not signed in
    guest.goto(link)
    expect(guest.get_by_role("heading", name="take.txt")).to_be_visible()
    check_screen(guest, "shared")
    with guest.expect_download() as downloading:
        guest.get_by_role("link", name="Download take.txt").click()
    assert Path(downloading.value.path()).read_bytes() == first  # the restored content
    assert downloading.value.suggested_filename == "take.txt"

    page.get_by_role("button", name="Refresh the links").click()
    expect(page.get_by_test_id("share-downloads")).to_have_text("1 download")
    page.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name="Revoke this link?").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("share")).to_contain_text("Revoked")

    guest.reload()
    expect(guest.get_by_role("alert")).to_contain_text("This link does not exist or has expired")
