import pytest

from veza.db import UniqueViolation, transaction
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
