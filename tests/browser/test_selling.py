"""Selling and admin: a seller sets up payouts (the sandbox's onboarding), lists a product from a cloud file,
edits and archives it, and sees the transfer of a sale; the payout gateway refuses it, and an admin finds it
with the filters, reads why it failed, and retries it."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.browser.accounts import buy, register, sign_in
from tests.browser.checks import check_screen

TRANSFER_WAIT_SECONDS = 30.0


def transfer_of(stack, order_id: str, status: str) -> str:
    deadline = time.monotonic() + TRANSFER_WAIT_SECONDS
    while time.monotonic() < deadline:
        rows = stack.sql("SELECT id::text, status FROM seller_transfers WHERE order_id = %s", (order_id,))
        if rows and rows[0][1] == status:
            return rows[0][0]
        time.sleep(0.2)
    raise AssertionError(f"the order's transfer is not {status}: {rows}\n{stack.log_tail()}")


def test_a_seller_sells_and_an_admin_retries_the_failed_transfer(signed_in, user, stack, new_page):
    page = signed_in
    stack.upload(user["token"], "night-drive.wav", b"RIFF....WAVEfmt night drive")
    page.get_by_role("link", name="Selling").click()
    balance = page.get_by_test_id("balance")
    expect(balance).to_contain_text("Not set up")
    expect(page.get_by_text("You have no products yet.")).to_be_visible()
    check_screen(page, "selling-empty")

    page.get_by_role("button", name="Set up payouts").click()  # the sandbox's onboarding link completes it
    page.wait_for_url("**/sell/connect/sandbox/complete?**")
    page.goto("/sell/payouts?onboarding=done")  # where a real payout provider sends the seller back
    expect(page.get_by_text("Welcome back: your payout account is being checked.")).to_be_visible()
    expect(balance).to_contain_text("Connected")
    stack.sql(
        "UPDATE sandbox_connect_accounts SET failing_transfers = 1 "
        "WHERE id = (SELECT account_id FROM connect_accounts WHERE user_id = %s)",
        (user["id"],),
    )  # the sandbox gateway refuses the next transfer

    page.get_by_text("List a new product").click()
    page.get_by_label("Title").fill("Night Drive")
    page.get_by_label("Kind").select_option(label="Beat")
    page.get_by_label("Price").fill("29.99")
    page.get_by_label("File buyers get (from your cloud)").select_option(label="night-drive.wav")
    page.get_by_role("button", name="List the product").click()
    product = page.get_by_test_id("seller-product").filter(has_text="Night Drive")
    expect(product).to_contain_text("On sale")
    expect(product).to_contain_text("€29.99")

    page.get_by_role("button", name="Edit Night Drive").click()
    dialog = page.get_by_role("dialog", name="Edit Night Drive")
    dialog.get_by_label("Price").fill("24.99")
    dialog.get_by_role("button", name="Save the changes").click()
    expect(dialog).to_be_hidden()
    expect(product).to_contain_text("€24.99")
    product_id = stack.sql("SELECT id::text FROM products WHERE title = 'Night Drive'")[0][0]

    order_id = buy(stack, register(stack), {"id": product_id})["id"]
    expect(page.get_by_test_id("seller-transfer")).to_have_count(1)  # the sale's notification, over the socket
    transfer_id = transfer_of(stack, order_id, "failed")
    # the worker's own retry (a minute later) must not beat the admin's button on a slow machine
    stack.sql("UPDATE seller_transfers SET next_retry_at = now() + interval '1 hour' WHERE id = %s", (transfer_id,))

    page.goto("/settings")  # a seller with a payout still to settle cannot leave yet: the 409 in words
    page.get_by_label("Password (to delete the account)").fill(user["password"])
    page.get_by_role("button", name="Delete my account").click()
    confirm = page.get_by_role("dialog", name="Delete your account for good?")
    confirm.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("alert")).to_contain_text("the account can be deleted once they are settled")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)  # not an admin: no admin screen
    page.goto("/admin/transfers")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()

    page.goto("/selling")
    page.get_by_role("button", name="Archive Night Drive").click()
    page.get_by_role("dialog", name="Archive Night Drive?").get_by_role("button", name="Archive").click()
    expect(product).to_contain_text("Archived")
    page.reload()  # a first refusal notifies no one: the page shows it once reloaded
    expect(page.get_by_test_id("seller-transfer")).to_have_count(1)
    expect(page.get_by_test_id("seller-transfer")).to_contain_text("€22.49")  # 24.99 less the 10 % fee
    expect(page.get_by_test_id("transfer-status")).to_have_text("Failed, will retry")
    check_screen(page, "selling")

    admin_user = register(stack, role="admin")
    admin = new_page()
    sign_in(admin, admin_user)
    admin.get_by_role("link", name="Admin").click()
    expect(admin.get_by_role("heading", name="Transfers")).to_be_visible()
    rows = admin.get_by_test_id("admin-transfer")
    expect(rows.first).to_be_visible()
    admin.get_by_label("Seller ID").fill(user["id"])  # other tests' sellers sold too
    expect(rows).to_have_count(1)
    admin.get_by_label("Status").select_option(label="Paid out")
    expect(admin.get_by_text("No transfer matches these filters.")).to_be_visible()
    admin.get_by_label("Status").select_option(label="Failed, will retry")
    expect(rows).to_have_count(1)
    reason = rows.get_by_test_id("failure-reason")
    expect(reason).to_have_text("Why it failed: The sandbox was told to fail this transfer")
    admin.get_by_label("Created to").fill("2000-01-01")
    expect(admin.get_by_text("No transfer matches these filters.")).to_be_visible()
    admin.get_by_label("Created to").fill("")
    expect(rows).to_have_count(1)
    admin.get_by_label("Created from").fill("2999-01-01")  # from after to: the API's 422, in words
    admin.get_by_label("Created to").fill("2998-01-01")
    expect(admin.get_by_role("alert")).to_contain_text("`from` must be before `to`")
    admin.get_by_label("Created from").fill("")
    admin.get_by_label("Created to").fill("")
    expect(rows).to_have_count(1)
    check_screen(admin, "admin")

    rows.get_by_role("button", name="Retry").click()
    expect(admin.get_by_text("Transfer retried: paid out.")).to_be_visible()
    expect(admin.get_by_text("No transfer matches these filters.")).to_be_visible()  # it left the failed ones
    admin.get_by_label("Status").select_option(label="Paid out")
    expect(rows).to_have_count(1)
    expect(rows).not_to_contain_text("Why it failed")

    page.reload()
    expect(page.get_by_test_id("transfer-status")).to_have_text("Paid out")
