"""A page and its total: two statements (rows, then count(*) of the same FROM/WHERE) or one with count(*) OVER ().

On the catalog data of tests.bench.catalog (10,000 products of 300 sellers), through the application's
own pool (veza.db), one client at a time: for each list (the catalog by date and by price, a search, one
seller's products) and offset, the two ways run in turn, `--runs` times each; the figure is the median
latency in milliseconds. The one-statement way must also count again when the page is past the end
(no row carries the total there).

    .venv/bin/python -m tests.bench.paging [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from typing import Any

from tests.bench.catalog import make_data
from tests.bench.http import bench_database
from veza.db import Executor, Row, connect
from veza.marketplace.queries import ORDER_BY, PRODUCT_COLUMNS


async def one_statement(
    db: Executor, columns: str, source: str, params: dict[str, Any], *, order_by: str, limit: int, offset: int
) -> tuple[list[Row], int]:
    rows = await db.fetch_all(
        f"SELECT {columns}, count(*) OVER () AS page_total FROM {source} ORDER BY {order_by} "
        "LIMIT %(page_limit)s OFFSET %(page_offset)s",
        {**params, "page_limit": limit, "page_offset": offset},
    )
    if not rows:
        return rows, await db.fetch_val(f"SELECT count(*) FROM {source}", params)
    total = rows[0]["page_total"]
    for row in rows:
        del row["page_total"]
    return rows, total


async def timed(call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def main(runs: int) -> None:
    dsn = bench_database()
    make_data(dsn)
    db = await connect(dsn, maxsize=2)
    seller = await db.fetch_val("SELECT seller_id FROM products GROUP BY seller_id ORDER BY count(*) DESC LIMIT 1")
    lists = {
        "catalog newest": ("products p WHERE p.status = 'active'", {}, ORDER_BY["newest"]),
        "catalog price_asc": ("products p WHERE p.status = 'active'", {}, ORDER_BY["price_asc"]),
        "search 'dru:*'": (
            "products p WHERE p.status = 'active' AND p.search @@ to_tsquery('simple', %(q)s)",
            {"q": "dru:*"},
            ORDER_BY["newest"],
        ),
        "one seller": ("products p WHERE p.seller_id = %(seller)s", {"seller": seller}, "p.created_at DESC, p.id"),
    }
    print(f"median ms over {runs} runs, limit 20 | two statements | one with count(*) OVER () | same rows and total")
    for name, (source, params, order_by) in lists.items():
        total = await db.fetch_val(f"SELECT count(*) FROM {source}", params)
        for offset in (0, 200, total + 20):
            kwargs = {"order_by": order_by, "limit": 20, "offset": offset}
            two = await db.fetch_page(PRODUCT_COLUMNS, source, params, **kwargs)
            one = await one_statement(db, PRODUCT_COLUMNS, source, params, **kwargs)
            ways = {
                "two": functools.partial(db.fetch_page, PRODUCT_COLUMNS, source, params, **kwargs),
                "one": functools.partial(one_statement, db, PRODUCT_COLUMNS, source, params, **kwargs),
            }
            times: dict[str, list[float]] = {"two": [], "one": []}
            for _ in range(runs):
                for way, call in ways.items():
                    times[way].append(await timed(call))
            print(
                f"{name:18} ({total:5} rows) offset {offset:5} | {statistics.median(times['two']):6.2f}"
                f" | {statistics.median(times['one']):6.2f} | {two == one}"
            )
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
