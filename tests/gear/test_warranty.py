"""The warranty notifier: 30, 7, 1 and 0 days before the end, each window once, whatever the runs."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import register, run_burst_worker, ws_receive, ws_subscribe
from tests.gear.helpers_docs import make_item
from veza.constants import WARRANTY_CHECK_JOB
from veza.gear.notifier import check_warranties
from veza.jobs import enqueue
from veza.keys import DB
from workers.gear import WARRANTY_CHECK_TIMEOUT
from workers.settings import WorkerSettings

TODAY = date(2027, 3, 10)
WS = "/api/v1/ws"


def days(n: int) -> timedelta:
    return timedelta(days=n)


async def notifications(app, user) -> list[tuple[str, dict]]:
    """The user's notifications, oldest first: (type, data)."""
    rows = await app[DB].fetch_all(
        "SELECT type, data FROM notifications WHERE user_id = %s ORDER BY created_at, id", (user["user"]["id"],)
    )
    return [(row["type"], row["data"]) for row in rows]


async def notices(app, item: str) -> dict[int, date]:
    rows = await app[DB].fetch_all(
        "SELECT window_days, expires_at FROM gear_warranty_notices WHERE item_id = %s", (item,)
    )
    return {row["window_days"]: row["expires_at"] for row in rows}


async def test_each_window_once_across_two_runs_on_the_same_day(client):
    app = client.app
    owner = await register(client)
    items = {n: await make_item(app, owner, f"Item {n}", expires=TODAY + days(n)) for n in (30, 7, 1, 0)}
    await make_item(app, owner, "Between", expires=TODAY + days(20))  # 30-day window crossed: notified too
    await make_item(app, owner, "No warranty")

    assert await check_warranties(app, TODAY) == 5
    assert await check_warranties(app, TODAY) == 0

    sent = await notifications(app, owner)
    assert len(sent) == 5
    by_item = {data["gear_id"]: (type_, data["window_days"]) for type_, data in sent}
    assert by_item[items[30]] == ("gear.warranty_expiring", 30)
    assert by_item[items[7]] == ("gear.warranty_expiring", 7)
    assert by_item[items[1]] == ("gear.warranty_expiring", 1)
    assert by_item[items[0]] == ("gear.warranty_expired", 0)
    assert {data["expires_at"] for _, data in sent if data["gear_id"] == items[1]} == {(TODAY + days(1)).isoformat()}
    # Each item's windows already crossed are done: the 7-day item does not hear of its 30-day window later.
    assert await notices(app, items[7]) == {30: TODAY + days(7), 7: TODAY + days(7)}
    assert await notices(app, items[0]) == {30: TODAY, 7: TODAY, 1: TODAY, 0: TODAY}
    far = await make_item(app, owner, "Far", expires=TODAY + days(31))

    # The next day: the 1-day item ends (its day notice) and the far one enters its 30 days; nothing else.
    assert await check_warranties(app, TODAY + days(1)) == 2
    sent = await notifications(app, owner)
    assert [(type_, data["gear_id"], data["window_days"]) for type_, data in sent[5:]] in (
        [("gear.warranty_expired", items[1], 0), ("gear.warranty_expiring", far, 30)],
        [("gear.warranty_expiring", far, 30), ("gear.warranty_expired", items[1], 0)],
    )


async def test_a_run_skipped_for_three_days_sends_what_was_crossed_once(client):
    app = client.app
    owner = await register(client)
    item = await make_item(app, owner, expires=TODAY + days(31))
    end = TODAY + days(31)
    for day in range(0, 23):  # daily runs: the 30-day notice on day 1
        await check_warranties(app, TODAY + days(day))
    # No run on days 23, 24, 25 (the 7-day window, 8 to 6 days left, passes unseen); the next run sends it once.
    assert await check_warranties(app, TODAY + days(26)) == 1
    assert await check_warranties(app, TODAY + days(26)) == 0
    assert await check_warranties(app, TODAY + days(27)) == 0
    # No run on days 30, 31, 32: the 1-day and the day's windows were crossed; one notice says it ended.
    assert await check_warranties(app, TODAY + days(33)) == 1
    for day in range(33, 45):
        assert await check_warranties(app, TODAY + days(day)) == 0
    assert await notifications(app, owner) == [
        ("gear.warranty_expiring", {"gear_id": item, "window_days": 30, "expires_at": end.isoformat()}),
        ("gear.warranty_expiring", {"gear_id": item, "window_days": 7, "expires_at": end.isoformat()}),
        ("gear.warranty_expired", {"gear_id": item, "window_days": 0, "expires_at": end.isoformat()}),
    ]
    assert await notices(app, item) == {30: end, 7: end, 1: end, 0: end}


async def test_a_late_run_crossing_several_windows_sends_only_the_most_urgent(client):
    app = client.app
    owner = await register(client)
    item = await make_item(app, owner, expires=TODAY + days(5))  # new, or the job was down for weeks
    assert await check_warranties(app, TODAY) == 1
    assert await check_warranties(app, TODAY) == 0
    [(type_, data)] = await notifications(app, owner)
    assert (type_, data["gear_id"], data["window_days"]) == ("gear.warranty_expiring", item, 7)
    assert set(await notices(app, item)) == {30, 7}


async def test_a_run_each_day_sends_four_notices_in_all(client):
    app = client.app
    owner = await register(client)
    item = await make_item(app, owner, expires=TODAY + days(40))
    sent = [await check_warranties(app, TODAY + days(day)) for day in range(50)]
    assert [day for day, count in enumerate(sent) if count] == [10, 33, 39, 40]
    assert sum(sent) == 4
    types = [(type_, data["gear_id"], data["window_days"]) for type_, data in await notifications(app, owner)]
    assert types == [
        ("gear.warranty_expiring", item, 30),
        ("gear.warranty_expiring", item, 7),
        ("gear.warranty_expiring", item, 1),
        ("gear.warranty_expired", item, 0),
    ]


async def test_an_ended_warranty_long_ago_is_not_notified(client):
    app = client.app
    owner = await register(client)
    await make_item(app, owner, expires=TODAY - days(8))
    await make_item(app, owner, expires=date(1999, 1, 1))
    assert await check_warranties(app, TODAY) == 0
    assert await notifications(app, owner) == []


async def test_an_edited_expiry_does_not_send_a_window_again(client):
    app = client.app
    owner = await register(client)
    item = await make_item(app, owner, expires=TODAY + days(30))
    assert await check_warranties(app, TODAY) == 1

    # Corrected by a few days: the 30-day window was sent, whatever the date says now.
    await app[DB].execute("UPDATE gear_items SET warranty_expires_at = %s WHERE id = %s", (TODAY + days(33), item))
    for day in range(4):
        assert await check_warranties(app, TODAY + days(day)) == 0
    # Its 7-day window comes by the new date.
    assert await check_warranties(app, TODAY + days(25)) == 0
    assert await check_warranties(app, TODAY + days(26)) == 1
    # Edited back within the window (earlier): the windows sent stay sent, the next comes by the new date.
    await app[DB].execute("UPDATE gear_items SET warranty_expires_at = %s WHERE id = %s", (TODAY + days(28), item))
    assert await check_warranties(app, TODAY + days(26)) == 0
    assert await check_warranties(app, TODAY + days(27)) == 1  # the 1-day window of the new date
    windows = [data["window_days"] for _, data in await notifications(app, owner)]
    assert windows == [30, 7, 1]

    # Renewed: a date a year later is a new term, whose windows notify again.
    renewed = TODAY + days(28 + 365)
    await app[DB].execute("UPDATE gear_items SET warranty_expires_at = %s WHERE id = %s", (renewed, item))
    assert await check_warranties(app, TODAY + days(28)) == 0
    assert await check_warranties(app, renewed - days(30)) == 1
    assert await check_warranties(app, renewed - days(30)) == 0
    last = (await notifications(app, owner))[-1]
    assert last == ("gear.warranty_expiring", {"gear_id": item, "window_days": 30, "expires_at": renewed.isoformat()})


async def test_lifetime_warranties_are_never_notified(client):
    app = client.app
    owner = await register(client)
    await make_item(app, owner, expires=TODAY + days(7), lifetime=True)
    await make_item(app, owner, expires=TODAY, lifetime=True)
    await make_item(app, owner, lifetime=True)
    for day in range(-10, 40):
        assert await check_warranties(app, TODAY + days(day)) == 0
    assert await notifications(app, owner) == []
    assert await app[DB].fetch_val("SELECT count(*) FROM gear_warranty_notices") == 0


async def test_notices_reach_their_owner_live_and_nobody_else(client):
    app = client.app
    alice, bob = await register(client), await register(client)
    alice_item = await make_item(app, alice, "Alice's amp", expires=TODAY + days(7))
    bob_item = await make_item(app, bob, "Bob's mic", expires=TODAY + days(60))
    alice_ws = await client.ws_connect(f"{WS}?token={alice['access_token']}")
    bob_ws = await client.ws_connect(f"{WS}?token={bob['access_token']}")
    await ws_subscribe(alice_ws, "notifications")
    await ws_subscribe(bob_ws, "notifications")

    assert await check_warranties(app, TODAY) == 1

    event = await ws_receive(alice_ws, type_="event")
    assert (event["channel"], event["event"]) == ("notifications", "notification.created")
    assert event["data"]["type"] == "gear.warranty_expiring"
    assert event["data"]["title"] == "Warranty ending in 7 days"
    assert event["data"]["data"]["gear_id"] == alice_item
    with pytest.raises(asyncio.TimeoutError):
        await ws_receive(bob_ws, type_="event", timeout=0.5)
    assert await notifications(app, bob) == []
    assert await notices(app, bob_item) == {}
    resp = await client.get("/api/v1/notifications", headers=alice["headers"])
    assert [note["data"]["gear_id"] for note in (await resp.json())["data"]["notifications"]] == [alice_item]
    await alice_ws.close()
    await bob_ws.close()


def test_the_worker_runs_it_daily_once_with_its_own_timeout():
    [job] = [job for job in WorkerSettings.cron_jobs if job.name == WARRANTY_CHECK_JOB]
    assert (job.unique, job.timeout_s, job.max_tries, job.hour, job.minute) == (
        True,
        WARRANTY_CHECK_TIMEOUT,
        3,
        {7},
        {13},
    )


async def test_the_worker_job_notifies_for_today(client, settings):
    app = client.app
    owner = await register(client)
    today = datetime.now(UTC).date()
    item = await make_item(app, owner, expires=today + days(1))
    await enqueue(app, WARRANTY_CHECK_JOB)
    worker = await run_burst_worker(settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert [(t, d["gear_id"], d["window_days"]) for t, d in await notifications(app, owner)] == [
        ("gear.warranty_expiring", item, 1)
    ]


@pytest.mark.slow
async def test_the_command_runs_it_by_hand(client, settings):
    app = client.app
    owner = await register(client)
    await make_item(app, owner, expires=TODAY + days(7))
    await make_item(app, owner, expires=TODAY)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir)}

    def run() -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "veza", "warranty-check", "--date", TODAY.isoformat()]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    first = await asyncio.to_thread(run)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == f"2 warranty notification(s) sent for {TODAY.isoformat()}"
    again = await asyncio.to_thread(run)
    assert again.stdout.splitlines()[-1] == f"0 warranty notification(s) sent for {TODAY.isoformat()}"
    assert len(await notifications(app, owner)) == 2


async def test_two_runs_at_once_send_each_window_once(client):
    app = client.app
    owners = [await register(client) for _ in range(3)]
    for owner in owners:
        for n in (30, 7, 1, 0):
            await make_item(app, owner, expires=TODAY + days(n))
    counts = await asyncio.gather(*(check_warranties(app, TODAY) for _ in range(3)))
    assert sum(counts) == 12
    for owner in owners:
        assert sorted(data["window_days"] for _, data in await notifications(app, owner)) == [0, 1, 7, 30]
