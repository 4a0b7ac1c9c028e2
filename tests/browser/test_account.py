"""Account: sign up, sign in, sign out; the session renewed from the refresh cookie; a session ended elsewhere
asks for the password again without leaving the page."""

from playwright.sync_api import expect

from tests.browser.accounts import PASSWORD
from tests.browser.checks import check_screen


def test_sign_up_then_reload_then_sign_out(page, stack):
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    check_screen(page, "signup")
    page.get_by_label("Username").fill("webfan1")
    page.get_by_label("Email").fill("webfan1@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()

    expect(page).to_have_url(f"{stack.url}/account")
    expect(page.get_by_test_id("account-username")).to_have_text("webfan1")
    check_screen(page, "account")

    page.reload()  # the access token was in memory only: the refresh cookie renews the session
    expect(page.get_by_test_id("account-username")).to_have_text("webfan1")

    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/account")  # signed out: the page asks to sign in, and comes back after
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "next=%2Faccount" in page.url
    check_screen(page, "login")


def test_a_wrong_password_is_said_in_words_and_the_next_try_works(page, user):
    page.goto("/login")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid email or password")
    expect(page.get_by_label("Email")).to_have_value(user["email"])  # what was typed stays

    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("account-username")).to_have_text(user["username"])


def test_a_session_ended_elsewhere_asks_for_the_password_and_keeps_what_was_typed(signed_in, user, stack):
    page = signed_in
    page.get_by_role("link", name="Catalog").click()
    page.get_by_label("Search the catalog").fill("half-typed search")
    expect(page.get_by_test_id("bell")).to_be_visible()
    refresh = next(c["value"] for c in page.context.cookies() if c["name"] == "veza_refresh")
    status, _ = stack.api("POST", "/auth/logout", {"refresh_token": refresh})
    assert status == 200

    # The server closes the page's socket (4401); the cookie cannot renew an ended session: the page asks.
    dialog = page.get_by_role("dialog", name="Your session ended")
    expect(dialog).to_be_visible()
    check_screen(page, "session-ended")
    dialog.get_by_label("Password").fill(user["password"])
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Search the catalog")).to_have_value("half-typed search")
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_test_id("account-username")).to_have_text(user["username"])


def test_the_page_says_when_it_is_offline_and_when_it_is_back(signed_in):
    page = signed_in
    banner = page.get_by_text("You are offline")
    expect(banner).to_have_count(0)
    page.context.set_offline(True)
    expect(banner).to_be_visible()
    check_screen(page, "offline")
    page.context.set_offline(False)
    expect(banner).to_have_count(0)
    page.get_by_role("link", name="Catalog").click()  # and the API answers again
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()


def test_a_refused_access_token_is_renewed_from_the_cookie_without_asking(signed_in, user):
    page = signed_in
    expect(page.get_by_test_id("account-username")).to_have_text(user["username"])
    page.get_by_role("link", name="Catalog").click()
    # The access token the page holds in memory stops working (as when it expires): the next call gets a 401.
    page.evaluate(
        """async () => {
            const main = document.querySelector('link[rel="modulepreload"][href$="/app/session.js"]').href;
            const session = await import(main);
            session.update({ token: 'not-a-valid-token' });
        }"""
    )
    answers = []
    page.on("response", lambda r: answers.append((r.request.method, r.url.split("/api/v1")[-1], r.status)))
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_test_id("account-username")).to_have_text(user["username"])
    expect(page.get_by_role("dialog", name="Your session ended")).to_have_count(0)
    refused = [path for _, path, status in answers if status == 401]
    assert refused and set(refused) <= {"/users/me", "/notifications/unread-count"}, answers
    assert [a for a in answers if a[1] == "/auth/refresh"] == [("POST", "/auth/refresh", 200)]  # one renewal
    assert [a for a in answers if a[1] == "/users/me"][-1] == ("GET", "/users/me", 200)
