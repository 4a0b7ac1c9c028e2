"""Accounts for the browser tests: made through the API, signed in through the sign-in screen."""

from __future__ import annotations

import itertools
import os

from playwright.sync_api import Page, expect

from tests.browser.stack import Stack

PASSWORD = "Browser-Passw0rd!"
_numbers = itertools.count(1)


def register(stack: Stack, role: str = "user") -> dict:
    """An account made through the API (as another client would): its user fields, password and access token;
    `role` set in the database for sellers and admins (as tests/factories.py does), then signed in again so
    that the token carries it."""
    n = next(_numbers)
    body = {"username": f"web{os.getpid()}x{n}", "email": f"web{os.getpid()}x{n}@example.com", "password": PASSWORD}
    status, answer = stack.api("POST", "/auth/register", body)
    assert status == 201, answer
    if role != "user":
        stack.sql("UPDATE users SET role = %s WHERE id = %s", (role, answer["data"]["user"]["id"]))
        status, answer = stack.api("POST", "/auth/login", {"email": body["email"], "password": PASSWORD})
        assert status == 200, answer
    return {**answer["data"]["user"], "password": PASSWORD, "token": answer["data"]["access_token"]}


def make_product(stack: Stack, seller: dict, title: str, content: bytes = b"RIFF....WAVE", **fields) -> dict:
    """A product of `seller`'s, selling a cloud file with `content`."""
    asset = stack.upload(seller["token"], f"{title}.wav", content)
    body = {"title": title, "kind": "sample_pack", "price_cents": 2999, "asset_file_id": asset["id"], **fields}
    status, answer = stack.api("POST", "/marketplace/products", body, token=seller["token"])
    assert status == 201, answer
    return answer["data"]


def buy(stack: Stack, buyer: dict, product: dict) -> dict:
    """An order of `product` by `buyer`, paid on the sandbox through the API (the webhook completes it)."""
    body = {"items": [{"product_id": product["id"], "quantity": 1}]}
    status, answer = stack.api("POST", "/marketplace/orders", body, token=buyer["token"])
    assert status == 201, answer
    payment = answer["data"]["payment"]["payment_id"]
    status, confirmed = stack.api(
        "POST", f"/payments/sandbox/{payment}/confirm", {"outcome": "succeeded"}, buyer["token"]
    )
    assert status == 200, confirmed
    return answer["data"]["order"]


def sign_in(page: Page, user: dict) -> None:
    """Through the sign-in screen, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("account-username")).to_have_text(user["username"])  # where sign-in leads
