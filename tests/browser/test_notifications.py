"""Notifications: a new one appears in the bell live; the unread count follows read and read-all; each links
to what it is about."""

import re

from playwright.sync_api import expect

from tests.browser.accounts import buy, make_product, register, sign_in
from tests.browser.checks import check_screen

DELIVERY_TIMEOUT_MS = 15_000  # the worker delivers the sandbox's webhook, which completes the order


def test_the_bell_counts_live_and_follows_read_and_read_all(page, stack):
    seller = register(stack, role="seller")
    product = make_product(stack, seller, "Tape Loops")
    fan = register(stack)
    sign_in(page, fan)
    bell = page.get_by_test_id("bell")
    expect(bell).to_have_attribute("aria-label", "Notifications, none unread")
    page.get_by_role("link", name="Notifications, none unread").click()
    expect(page.get_by_text("No notifications yet.")).to_be_visible()
    check_screen(page, "notifications-empty")
    page.evaluate("() => { window.notReloaded = true; }")

    orders = [buy(stack, fan, product)]  # through the API, as another device of the fan's would
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread", timeout=DELIVERY_TIMEOUT_MS)
    expect(page.get_by_test_id("notification")).to_have_count(1)  # the open list grows live too
    orders.append(buy(stack, fan, product))
    expect(bell).to_have_attribute("aria-label", "Notifications, 2 unread", timeout=DELIVERY_TIMEOUT_MS)
    expect(page.get_by_test_id("unread-count")).to_have_text("2")
    expect(page.get_by_test_id("notification")).to_have_count(2)
    check_screen(page, "notifications")

    page.get_by_test_id("notification").first.get_by_role("button", name=re.compile("^Mark read")).click()
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread")
    page.get_by_role("button", name="Mark all read").click()
    expect(bell).to_have_attribute("aria-label", "Notifications, none unread")
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Mark read"))).to_have_count(0)
    assert page.evaluate("() => window.notReloaded") is True
    assert stack.sql("SELECT count(*) FROM notifications WHERE user_id = %s AND read_at IS NULL", (fan["id"],)) == [
        (0,)
    ]

    page.get_by_test_id("notification").first.get_by_role("link", name="Open the order").click()
    expect(page).to_have_url(re.compile(rf"/orders/({orders[0]['id']}|{orders[1]['id']})$"))
    expect(page.get_by_test_id("order-status")).to_have_text("Completed")
