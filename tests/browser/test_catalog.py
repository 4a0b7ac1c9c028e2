"""Catalog: a fan signs up, searches, buys on the sandbox, sees the order complete without reloading, downloads
the file and the invoice PDF, leaves a review, and requests a refund whose state follows live."""

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.accounts import PASSWORD, make_product, register
from tests.browser.checks import check_screen

KIT = b"RIFF\x24\x00\x00\x00WAVEfmt midnight drums"
PAYMENT_TIMEOUT_MS = 15_000  # the worker delivers the sandbox's webhook


def test_a_fan_buys_downloads_reviews_and_refunds(page, stack):
    seller = register(stack, role="seller")
    kit = make_product(stack, seller, "Midnight Drums Kit", KIT, price_cents=1999, tags=["drums", "lofi"])
    for title in ("Sunrise Keys", "Bass Therapy"):
        make_product(stack, seller, title)

    page.goto("/signup")
    page.get_by_label("Username").fill("fan2")
    page.get_by_label("Email").fill("fan2@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_test_id("account-username")).to_have_text("fan2")

    page.get_by_role("link", name="Catalog").click()
    expect(page.get_by_test_id("product-card")).to_have_count(3)
    check_screen(page, "catalog")
    page.get_by_label("Search the catalog").fill("midn")  # a word prefix, as typed
    expect(page.get_by_test_id("product-card")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/catalog\?search=midn$"))
    page.get_by_label("Sort by").select_option("price_asc")
    page.get_by_role("link", name="Midnight Drums Kit").click()

    expect(page.get_by_role("heading", name="Midnight Drums Kit")).to_be_visible()
    expect(page.get_by_text("No reviews yet").first).to_be_visible()
    check_screen(page, "product")
    page.evaluate("() => { window.notReloaded = true; }")
    page.get_by_role("button", name=re.compile(r"^Buy for")).click()
    confirm = page.get_by_role("dialog", name="Confirm the payment")
    expect(confirm).to_contain_text("19.99")
    check_screen(page, "checkout-confirm")
    confirm.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("order-status")).to_have_text("Completed", timeout=PAYMENT_TIMEOUT_MS)
    assert page.evaluate("() => window.notReloaded") is True  # completed live, not by a reload
    check_screen(page, "order")

    with page.expect_download() as got:
        page.get_by_role("button", name="Download “Midnight Drums Kit”").click()
    assert Path(got.value.path()).read_bytes() == KIT
    with page.expect_download() as got:
        page.get_by_role("button", name="Invoice (PDF)").click()
    assert got.value.suggested_filename.endswith(".pdf")
    assert Path(got.value.path()).read_bytes().startswith(b"%PDF")

    page.get_by_role("link", name="Midnight Drums Kit").click()
    page.get_by_label("Rating").select_option("4")
    page.get_by_label("Comment").fill("Punchy and warm.")
    page.get_by_role("button", name="Post the review").click()
    expect(page.get_by_test_id("review")).to_contain_text("Punchy and warm.")
    expect(page.get_by_text("4 out of 5 (1 review)")).to_be_visible()

    page.get_by_role("link", name="Library").click()
    expect(page.get_by_test_id("purchase")).to_have_count(1)
    check_screen(page, "library")
    page.get_by_test_id("purchase").get_by_role("link").click()
    page.get_by_label("Reason").fill("Bought it twice by mistake")
    page.get_by_role("button", name="Request the refund").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Refunded", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.get_by_test_id("refund-state")).to_contain_text("refunded")
    assert page.evaluate("() => window.notReloaded") is True
    assert stack.sql("SELECT status FROM orders WHERE buyer_id = (SELECT id FROM users WHERE username = 'fan2')") == [
        ("refunded",)
    ]
    assert kit["id"]


def test_an_empty_search_says_so_and_a_missing_product_says_not_found(page):
    page.goto("/catalog?search=zzzznothing")
    expect(page.get_by_text("Nothing matches “zzzznothing”.")).to_be_visible()
    page.goto("/catalog/00000000-0000-0000-0000-000000000000")
    expect(page.get_by_role("alert")).to_contain_text("not found", ignore_case=True)
    check_screen(page, "product-missing")
