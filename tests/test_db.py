import pytest

from veza.db import UniqueViolation, escape_like, transaction
from veza.errors import NotFound
from veza.keys import DB


@pytest.fixture
async def db(client):
    database = client.app[DB]
    await database.execute("CREATE TABLE IF NOT EXISTS db_probe (id int PRIMARY KEY, note text)")
    await database.execute("TRUNCATE db_probe")
    return database


async def test_commit_keeps_rows_and_runs_after_commit(db):
    ran = []

    async def record(value):
        ran.append(value)

    async with transaction(db) as tx:
        await tx.execute("INSERT INTO db_probe VALUES (%s, %s)", (1, "one"))
        tx.after_commit(record, "done")
        assert ran == []
    assert ran == ["done"]
    assert await db.fetch_one("SELECT id, note FROM db_probe") == {"id": 1, "note": "one"}


async def test_rollback_leaves_no_trace(db):
    ran = []

    async def record(value):
        ran.append(value)

    with pytest.raises(UniqueViolation):
        async with transaction(db) as tx:
            await tx.execute("INSERT INTO db_probe VALUES (1, 'a')")
            tx.after_commit(record, "never")
            await tx.execute("INSERT INTO db_probe VALUES (1, 'b')")
    assert ran == []
    assert await db.fetch_val("SELECT count(*) FROM db_probe") == 0
    # The pooled connection is usable again: it is not left inside the failed transaction.
    assert await db.fetch_val("SELECT 1") == 1


async def test_a_failing_after_commit_action_does_not_undo_the_commit(db, caplog):
    async def broken():
        raise RuntimeError("redis down")

    async with transaction(db) as tx:
        await tx.execute("INSERT INTO db_probe VALUES (2, 'kept')")
        tx.after_commit(broken)
    assert await db.fetch_val("SELECT note FROM db_probe WHERE id = 2") == "kept"
    assert any("after-commit action broken failed" in r.getMessage() for r in caplog.records)


async def test_fetch_helpers_and_named_parameters(db):
    await db.execute("INSERT INTO db_probe VALUES (%(id)s, %(note)s)", {"id": 3, "note": "x"})
    assert await db.fetch_all("SELECT id FROM db_probe ORDER BY id") == [{"id": 3}]
    assert await db.fetch_one("SELECT id FROM db_probe WHERE id = 99") is None
    assert await db.execute("UPDATE db_probe SET note = 'y' WHERE id = 3") == 1


async def test_fetch_found_returns_the_row_or_raises_not_found_with_the_message(db):
    await db.execute("INSERT INTO db_probe VALUES (4, 'here')")
    sql = "SELECT id, note FROM db_probe WHERE id = %s"
    assert await db.fetch_found(sql, (4,), "Probe not found") == {"id": 4, "note": "here"}
    with pytest.raises(NotFound) as caught:
        await db.fetch_found(sql, (5,), "Probe not found")
    assert (caught.value.status, caught.value.message) == (404, "Probe not found")
    # In a transaction too, and for a statement that changes rows.
    async with transaction(db) as tx:
        with pytest.raises(NotFound):
            await tx.fetch_found("UPDATE db_probe SET note = 'x' WHERE id = 5 RETURNING id", None, "Probe not found")
        assert await tx.fetch_found("UPDATE db_probe SET note = 'x' WHERE id = 4 RETURNING id", None, "-") == {"id": 4}


@pytest.mark.parametrize(
    ("limit", "offset", "ids"),
    [
        (3, 0, [1, 2, 3]),  # a full first page
        (3, 3, [4, 5, 6]),  # a full middle page
        (3, 6, [7]),  # the last page, partly filled
        (3, 7, []),  # just past the end
        (3, 50, []),  # far past the end
        (20, 0, [1, 2, 3, 4, 5, 6, 7]),  # everything on the first page
        (7, 0, [1, 2, 3, 4, 5, 6, 7]),  # exactly full: there may be more
    ],
)
async def test_fetch_page_gives_the_rows_and_the_total_of_the_whole_list(db, limit, offset, ids):
    await db.execute("INSERT INTO db_probe SELECT i, 'odd' FROM generate_series(1, 13, 2) i")  # 7 odd ids
    await db.execute("INSERT INTO db_probe SELECT i, 'even' FROM generate_series(2, 12, 2) i")
    rows, total = await db.fetch_page(
        "id / 2 + 1 AS n", "db_probe WHERE note = %(note)s", {"note": "odd"}, order_by="id", limit=limit, offset=offset
    )
    assert ([row["n"] for row in rows], total) == (ids, 7)


async def test_fetch_page_of_an_empty_list(db):
    assert await db.fetch_page("id", "db_probe", order_by="id", limit=5, offset=0) == ([], 0)
    assert await db.fetch_page("id", "db_probe", order_by="id", limit=5, offset=10) == ([], 0)


async def test_escape_like_matches_the_text_literally(db):
    names = ["100% vocal", "100 vocal", "a_b", "axb", "back\\slash", "back\\\\slash"]
    await db.execute("INSERT INTO db_probe SELECT i, n FROM unnest(%s) WITH ORDINALITY AS t(n, i)", (names,))

    async def matching(text: str) -> list[str]:
        rows = await db.fetch_all(
            "SELECT note FROM db_probe WHERE note LIKE %s ORDER BY id", ("%" + escape_like(text) + "%",)
        )
        return [row["note"] for row in rows]

    assert await matching("0%") == ["100% vocal"]
    assert await matching("_") == ["a_b"]
    assert await matching("\\") == ["back\\slash", "back\\\\slash"]
    assert await matching("\\\\") == ["back\\\\slash"]
    assert escape_like("plain") == "plain"
