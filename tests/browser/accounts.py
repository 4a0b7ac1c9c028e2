"""Accounts for the browser tests: made through the API, signed in through the sign-in screen."""

from __future__ import annotations

import itertools
import os

from playwright.sync_api import Page, expect

from tests.browser.stack import Stack

PASSWORD = "Browser-Passw0rd!"
_numbers = itertools.count(1)


def register(stack: Stack, role: str = "user") -> dict:
    """An account made through the API (as another client would), with its password; `role` set in the
    database for sellers and admins, as tests/factories.py does."""
    n = next(_numbers)
    body = {"username": f"web{os.getpid()}x{n}", "email": f"web{os.getpid()}x{n}@example.com", "password": PASSWORD}
    status, answer = stack.api("POST", "/auth/register", body)
    assert status == 201, answer
    if role != "user":
        stack.sql("UPDATE users SET role = %s WHERE id = %s", (role, answer["data"]["user"]["id"]))
    return {**answer["data"]["user"], "password": PASSWORD}


def sign_in(page: Page, user: dict) -> None:
    """Through the sign-in screen, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Account", exact=True)).to_be_visible()
