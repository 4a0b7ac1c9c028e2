"""Settings: the profile and the password changed, an archive of the user's data requested and downloaded once
the worker built it, and the account deleted after a confirmation (a wrong password is said in words)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.checks import check_screen

EXPORT_TIMEOUT_MS = 30000
NEW_PASSWORD = "Another-Passw0rd!"


def test_profile_password_and_data_export(signed_in, user, stack):
    page = signed_in
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(page.get_by_text("No archive requested yet.")).to_be_visible()
    check_screen(page, "settings")

    page.get_by_label("Username").fill(f"{user['username']}-renamed")
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()

    page.get_by_label("Current password", exact=True).fill("not-the-password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("New password", exact=True)).to_have_value(NEW_PASSWORD)  # what was typed stays
    page.get_by_label("Current password", exact=True).fill(user["password"])
    page.get_by_role("button", name="Change the password").click()
    expect(page.get_by_text("Your password is changed")).to_be_visible()
    status, _ = stack.api("POST", "/auth/login", {"email": user["email"], "password": NEW_PASSWORD})
    assert status == 200

    page.get_by_role("button", name="Request an archive").click()
    archive = page.get_by_test_id("export")
    expect(archive).to_have_count(1)
    link = archive.get_by_role("link", name="Download the archive")
    expect(link).to_be_visible(timeout=EXPORT_TIMEOUT_MS)  # the worker built it; the page followed its status
    expect(archive).to_contain_text("Ready")
    with page.expect_download() as downloading:
        link.click()
    with zipfile.ZipFile(Path(downloading.value.path())) as zipped:
        assert any(name.endswith(".json") for name in zipped.namelist()), zipped.namelist()
    page.reload()
    expect(page.get_by_label("Username")).to_have_value(f"{user['username']}-renamed")
    check_screen(page, "settings-export")


def test_deleting_the_account_asks_for_the_password_and_a_confirmation(signed_in, user, stack):
    page = signed_in
    page.goto("/settings")
    password = page.get_by_label("Password (to delete the account)")
    password.fill("not-the-password")
    page.get_by_role("button", name="Delete my account").click()
    confirm = page.get_by_role("dialog", name="Delete your account for good?")
    check_screen(page, "settings-delete")
    confirm.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("alert")).to_contain_text("The password is incorrect")

    password.fill(user["password"])
    page.get_by_role("button", name="Delete my account").click()
    confirm.get_by_role("button", name="Cancel").click()  # changed their mind: nothing happens
    expect(confirm).to_be_hidden()
    status, _ = stack.api("POST", "/auth/login", {"email": user["email"], "password": user["password"]})
    assert status == 200

    page.get_by_role("button", name="Delete my account").click()
    confirm.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()  # the home page, signed out
    expect(page).to_have_url(f"{stack.url}/")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()
    status, _ = stack.api("POST", "/auth/login", {"email": user["email"], "password": user["password"]})
    assert status == 401
