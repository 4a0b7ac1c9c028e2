"""Gear: each warranty state in its own words and colour (an item ending in 5 days is "expiring soon"), an
item's documents uploaded, downloaded and deleted, and its repair log with the total cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.checks import check_screen


def test_warranty_badges_documents_and_the_repair_log(signed_in, user, stack, tmp_path):
    page = signed_in
    today = datetime.now(UTC).date()
    for body in [
        {"name": "Tube amp", "lifetime_warranty": True},
        {"name": "Old synth", "warranty_expires_at": str(today - timedelta(days=10))},
        {"name": "Ribbon mic", "warranty_expires_at": str(today + timedelta(days=200))},
        {"name": "Cable box"},
    ]:
        status, answer = stack.api("POST", "/inventory/gear", body, token=user["token"])
        assert status == 201, answer

    page.get_by_role("link", name="Gear").click()
    expect(page.get_by_test_id("gear-item")).to_have_count(4)
    page.get_by_text("Add an item").click()
    page.get_by_label("Brand").fill("Genelec")
    page.get_by_role("button", name="Add the item").click()  # no name: the API's 422, in words, by the field
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator(".field").filter(has=page.get_by_label("Name")).locator(".field-error")).not_to_be_empty()
    expect(page.get_by_test_id("gear-item")).to_have_count(4)
    page.get_by_label("Name").fill("Studio monitor")
    expect(page.get_by_label("Brand")).to_have_value("Genelec")  # what was typed stayed
    page.get_by_label("Warranty", exact=True).select_option(label="Until a date")
    page.get_by_label("Warranty ends on").fill(str(today + timedelta(days=5)))
    page.get_by_role("button", name="Add the item").click()

    items = page.get_by_test_id("gear-item")
    expect(items).to_have_count(5)
    badges = {
        "Studio monitor": "Expiring soon (5 days left)",
        "Tube amp": "Lifetime warranty",
        "Old synth": "Expired",
        "Ribbon mic": "Under warranty (200 days left)",
        "Cable box": "No warranty",
    }
    for name, words in badges.items():
        expect(items.filter(has_text=name).get_by_test_id("warranty")).to_have_text(words)
    colours = page.eval_on_selector_all(
        "[data-testid=warranty] .badge", "(badges) => badges.map((b) => getComputedStyle(b).color)"
    )
    assert len(set(colours)) == 5, colours  # five states, five colours
    check_screen(page, "gear")

    page.get_by_label("Filter by warranty").select_option(label="Expiring within 30 days")
    expect(items).to_have_count(1)
    expect(items).to_contain_text("Studio monitor")

    items.get_by_role("link", name="Studio monitor").click()
    expect(page.get_by_role("heading", name="Studio monitor")).to_be_visible()
    expect(page.get_by_test_id("warranty")).to_have_text("Expiring soon (5 days left)")

    manual = tmp_path / "manual.pdf"
    manual.write_bytes(b"%PDF-1.4 the monitor's manual\n")
    page.get_by_label("Document type").select_option(label="Manual")
    page.get_by_label("Upload a document").set_input_files(manual)
    document = page.get_by_test_id("gear-document")
    expect(document).to_have_count(1)
    expect(document).to_contain_text("manual.pdf (manual)")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download manual.pdf").click()
    assert Path(downloading.value.path()).read_bytes() == manual.read_bytes()

    for day, cost, what in [(3, "12.50", "Tweeter replaced"), (1, "7.50", "Fuse")]:
        page.get_by_label("Repair date").fill(str(today - timedelta(days=day)))
        page.get_by_label("Cost (EUR)").fill(cost)
        page.get_by_label("What was repaired").fill(what)
        page.get_by_role("button", name="Log the repair").click()
        expect(page.get_by_test_id("repair").filter(has_text=what)).to_be_visible()
    expect(page.get_by_test_id("repair-total")).to_have_text("Total cost: €20.00")
    check_screen(page, "gear-item")

    page.get_by_role("button", name="Delete manual.pdf").click()
    page.get_by_role("dialog", name="Delete manual.pdf?").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No documents yet.")).to_be_visible()


def test_a_form_sent_twice_at_once_sends_one_call_and_its_own_check_keeps_what_was_typed(signed_in, user, stack):
    page = signed_in
    posts = []

    def count_posts(request):
        if request.method == "POST" and request.url.endswith("/api/v1/inventory/gear"):
            posts.append(request.url)

    page.on("request", count_posts)
    page.get_by_role("link", name="Gear").click()
    expect(page.get_by_text("No gear yet: add your first item above.")).to_be_visible()
    page.get_by_text("Add an item").click()
    page.get_by_label("Name").fill("Drum machine")
    page.get_by_label("Price (EUR)").fill("a lot")
    page.get_by_role("button", name="Add the item").click()
    expect(page.get_by_role("alert")).to_have_text("The price must be an amount such as 199.00.")
    expect(page.get_by_label("Name")).to_have_value("Drum machine")
    assert posts == []

    page.get_by_label("Price (EUR)").fill("499.00")
    # Both submits in one task: the button is not disabled yet for the second one, which must be ignored.
    form = page.locator("form").filter(has=page.get_by_label("Name"))
    form.evaluate("(form) => { form.requestSubmit(); form.requestSubmit(); }")
    expect(page.get_by_test_id("gear-item")).to_have_count(1)
    expect(page.get_by_label("Name")).to_have_value("")  # cleared after the success
    expect(page.get_by_role("button", name="Add the item")).to_be_enabled()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert len(posts) == 1, posts
    status, answer = stack.api("GET", "/inventory/gear", token=user["token"])
    assert status == 200, answer
    assert answer["data"]["total"] == 1, answer
