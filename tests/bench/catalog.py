"""The public marketplace pages and tag suggestions on a realistic data set: 100,000 products, 100,000 tags.

1. Data: in the bench database (tests.bench.http.bench_database), 100,000 products of 300 sellers (each
   with its cloud file), 100,000 tags with a skewed usage_count, 2,000 buyers and ~200,000 reviews, made
   once by COPY and INSERT ... SELECT (about half a minute) and kept for the next runs (remade only when
   the counts are off), then VACUUM ANALYZE.
2. Throughput: GET /api/v1/marketplace/products?limit=20 on one Veza web process as it ships (uvloop)
   against a bare aiohttp app on asyncio's default loop answering the very same bytes (and headers) from
   memory. As in tests.bench.http, both are subprocesses pinned to core 0, wrk to core 1, loaded in turn
   round after round; the figure is the median of the per-round ratios. Extra lines, the same way: a
   search (?search=<prefix>), sort=price_asc, the newest product's page, the reviews of the product with
   the most reviews, and the page of the seller with the most products.
3. Latency: GET /api/v1/tags/suggest?q=<prefix>&limit=10 with a Bearer token (a bench user registered
   once, logged in on later runs), a few hundred different prefixes (1-4 letters, and misspellings
   that only trigram similarity finds), one at a time from one aiohttp client pinned to core 1; then
   EXPLAIN (ANALYZE) of the suggestion SQL for a short, a 4-letter and a long (misspelt) prefix.

    .venv/bin/python -m tests.bench.catalog [--duration 5] [--connections 64] [--rounds 5] [--extra-rounds 3]

Needs PostgreSQL and Redis as configured, wrk and taskset. Takes about four minutes with the defaults (half a
minute more the first time, to make the data).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import re
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg2

from tests.bench.http import LOAD_CPU, bench_database, free_port, run_wrk, start, stop, wait_healthy
from tests.bench.report import row
from veza.db import Executor
from veza.tags import queries as tag_queries

N_PRODUCTS = 100_000
N_SELLERS = 300
N_BUYERS = 2_000  # the reviewers: a product has at most this many reviews
N_TAGS = 100_000
SEED = 20240601
SELLER_PREFIX = "bench_seller_"
SELLER_LIKE = SELLER_PREFIX.replace("_", "\\_") + "%"
BUYER_PREFIX = "bench_buyer_"
BUYER_LIKE = BUYER_PREFIX.replace("_", "\\_") + "%"
SUGGEST_USER = {"username": "bench_suggest", "email": "bench_suggest@example.com", "password": "bench-suggest-pw-9f3k"}
CATALOG_PATH = "/api/v1/marketplace/products"
SELLER_PATH = "/api/v1/marketplace/sellers"
CATALOG_GOAL = 0.85  # Veza / bare aiohttp throughput on the catalog page

GENRES = (
    "lofi hiphop trap techno house ambient jazz soul funk drill dubstep dnb garage afrobeat reggaeton synthwave "
    "boombap cinematic orchestral rnb pop rock metal disco edm trance chillout downtempo breakbeat grime phonk "
    "hyperpop jungle footwork dancehall amapiano reggae gospel blues country folk indie electro minimal acid "
    "industrial idm glitch vaporwave chillhop neosoul latin kpop"
).split()
MOODS = (
    "dark chill happy sad epic dreamy aggressive melodic uplifting moody warm gritty dusty smooth bouncy hard "
    "mellow emotional energetic atmospheric nostalgic vintage retro groovy spacey haunting playful raw deep"
).split()
INSTRUMENTS = (
    "piano guitar bass 808 drums kick snare hihat vocals synth pad strings brass flute saxophone violin rhodes "
    "organ percussion claps choir arp pluck lead bells marimba cello trumpet harp sitar koto kalimba"
).split()
NOUNS = (
    "Drum Kit|Drum Loops|Drums|Loop Kit|Sample Pack|One Shots|Preset Bank|Midi Pack|Stems|Beat|Type Beat|"
    "Vocal Chops|Textures|Toolkit|Essentials|Collection|Sessions|Grooves|Chords|Melodies|Foley|Drum Breaks"
).split("|")
FILLER = (
    "made with analog gear recorded at our studio royalty free for your next hit ready to drag and drop tempo "
    "labelled key labelled mixed and mastered crisp punchy wide clean heavy layered processed through tape "
    "inspired by the classics every sound is original use in commercial releases includes wav files"
).split()
KIND_WEIGHTS = {"sample_pack": 40, "beat": 25, "preset": 15, "track": 15, "other": 5}
PRICES = [99, 199, 299, 499, 799, 999, 1499, 1999, 2499, 2999, 3999, 4999, 7999, 9999, 14999]
SYLLABLES = (
    "ba be bi bo ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro sa se si so ta te ti to va ve vi "
    "vo za ze zi zo xa yu qu ch sh th tr dr gr br kr pl fl st sp sk wo wa ja jo ju ny ly fy x on an en in un"
).split()
SUFFIXES = "type-beat vibes loops samples kit 2023 2024 remix style instrumental sounds wav".split()

BARE_APP = """
import json, sys
from aiohttp import web

pages = {key: (page["body"].encode(), page["headers"]) for key, page in json.load(open(sys.argv[2])).items()}

async def page(request):
    body, headers = pages[request.path_qs]
    return web.Response(body=body, content_type="application/json", headers=headers)

app = web.Application()
for path in {key.partition("?")[0] for key in pages}:
    app.router.add_get(path, page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)  # asyncio's default loop
"""


# -- data ---------------------------------------------------------------------------------------------


def tag_vocabulary() -> list[str]:
    return [*GENRES, *MOODS, *INSTRUMENTS]


def tag_names(rng: random.Random) -> list[str]:
    """N_TAGS distinct names, the vocabulary first (the popular ones), then combinations and invented words."""
    vocab = tag_vocabulary()
    names = dict.fromkeys(vocab)
    artists = ["".join(rng.choices(SYLLABLES, k=rng.choice((2, 2, 3, 3, 4)))) for _ in range(30_000)]
    makers = (
        lambda: f"{rng.choice(vocab)}-{rng.choice(vocab)}",
        lambda: f"{rng.choice(vocab)}-{rng.choice(SUFFIXES)}",
        lambda: rng.choice(artists),
        lambda: f"{rng.choice(artists)}-type-beat",
        lambda: f"{rng.choice(artists)}-{rng.choice(vocab)}",
        lambda: f"{rng.choice(MOODS)}-{rng.choice(GENRES)}-{rng.choice(INSTRUMENTS)}",
    )
    while len(names) < N_TAGS:
        name = rng.choice(makers)()[:50].strip("-")
        names.setdefault(name)
    return list(names)


def zipf_choices(rng: random.Random, items: list, k: int, exponent: float = 1.0) -> list:
    return rng.choices(items, weights=[1 / (i + 1) ** exponent for i in range(len(items))], k=k)


def copy_rows(cur, table: str, columns: str, rows: list[tuple]) -> None:
    """COPY rows (lists as PostgreSQL arrays, bytes as bytea, None as NULL) into `table`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in rows:
        writer.writerow(
            "{" + ",".join(v) + "}" if isinstance(v, list) else "\\x" + v.hex() if isinstance(v, bytes) else v
            for v in values
        )
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def product_rows(rng: random.Random, seller_ids: list[uuid.UUID], now: datetime) -> tuple[list[tuple], list[tuple]]:
    """The cloud files and products of N_PRODUCTS products; review_count is how many reviews to make."""
    vocab = tag_vocabulary()
    popular_tags = rng.sample(vocab, len(vocab))  # their popularity order among products
    files, products = [], []
    kinds, kind_weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    for seller in zipf_choices(rng, seller_ids, N_PRODUCTS, exponent=0.8):
        file_id = uuid.uuid4()
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        genre, mood, noun = rng.choice(GENRES), rng.choice(MOODS), rng.choice(NOUNS)
        title = f"{mood.title()} {genre.title()} {noun}"
        if rng.random() < 0.4:
            title += f" Vol. {rng.randint(1, 12)}"
        words = [*rng.choices(FILLER, k=rng.randint(8, 25)), *rng.choices(vocab, k=rng.randint(3, 8))]
        rng.shuffle(words)
        description = " ".join(words).capitalize() + "."
        tags = list(dict.fromkeys([genre, mood, *zipf_choices(rng, popular_tags, rng.randint(1, 5))]))
        reviews = 0 if rng.random() < 0.4 else min(N_BUYERS, int(rng.paretovariate(1.3)))
        size = rng.randint(1_000_000, 900_000_000)
        files.append((file_id, seller, f"{title}.zip", 1, size, "application/zip", rng.randbytes(32), created, created))
        products.append(
            (
                seller,
                file_id,
                title,
                description,
                rng.choices(kinds, kind_weights)[0],
                rng.choice(PRICES) if rng.random() < 0.8 else rng.randint(50, 30_000),
                rng.choices(("EUR", "USD", "GBP"), (70, 25, 5))[0],
                tags,
                "archived" if rng.random() < 0.05 else "active",
                reviews,
                int(rng.paretovariate(1.1)) - 1,
                created,
                created + timedelta(seconds=rng.randrange(86400)),
            )
        )
    return files, products


def make_data(dsn: str) -> None:
    """Sellers, their cloud files, products, tags, buyers and their reviews, unless they are there already.

    Set-based: rows go in by COPY or INSERT ... SELECT. The per-row tag-counting trigger is off while the
    products go in (each product would update its popular tags' rows again and again in one transaction,
    which took over 20 minutes for 10,000 products); their tags are then counted in one statement, as the
    migration that made the trigger does.
    """
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            # The bench sellers' products only: other benchmarks add their own to this database.
            "SELECT (SELECT count(*) FROM products p JOIN users u ON u.id = p.seller_id WHERE u.username LIKE %s),"
            " (SELECT count(*) FROM tags), (SELECT count(*) FROM users WHERE username LIKE %s),"
            " (SELECT count(*) FROM users WHERE username LIKE %s)",
            (SELLER_LIKE, SELLER_LIKE, BUYER_LIKE),
        )
        products, tags, sellers, buyers = cur.fetchone()
    if products == N_PRODUCTS and tags >= N_TAGS and sellers == N_SELLERS and buyers == N_BUYERS:
        print(f"data: {products} products, {tags} tags, {sellers} sellers, {buyers} buyers already there")
        conn.close()
        return

    started = time.monotonic()
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with conn, conn.cursor() as cur:
        # Payouts name their seller, and orders their buyer (with invoices, licenses, refunds): earlier runs of
        # the other benchmarks bought from and paid the bench sellers.
        cur.execute("TRUNCATE products, tags, seller_transfers, orders CASCADE")
        cur.execute(
            "DELETE FROM cloud_files WHERE user_id IN (SELECT id FROM users WHERE username LIKE %s)",
            (SELLER_LIKE,),
        )
        cur.execute("DELETE FROM users WHERE username LIKE %s OR username LIKE %s", (SELLER_LIKE, BUYER_LIKE))

        seller_ids = [uuid.uuid4() for _ in range(N_SELLERS)]
        copy_rows(
            cur,
            "users",
            "id, username, email, password_hash, role, created_at",
            [
                (sid, f"{SELLER_PREFIX}{i:03d}", f"{SELLER_PREFIX}{i:03d}@example.com", "bench-not-a-real-hash",
                 "seller", now - timedelta(days=400 + i))
                for i, sid in enumerate(seller_ids)
            ],
        )  # fmt: skip

        # Tags first, with a Zipf-like usage_count by rank (3% unused); the products' own counts are added below.
        names = tag_names(rng)
        head, tail = names[: len(tag_vocabulary())], names[len(tag_vocabulary()) :]
        rng.shuffle(head)
        rng.shuffle(tail)
        copy_rows(
            cur,
            "tags",
            "name, usage_count",
            [
                (name, 0 if rng.random() < 0.03 else max(1, int(20_000 / (rank + 1) ** 0.85)))
                for rank, name in enumerate(head + tail)
            ],
        )

        files, products = product_rows(rng, seller_ids, now)
        copy_rows(
            cur,
            "cloud_files",
            "id, user_id, name, current_version, size_bytes, content_type, sha256, created_at, updated_at",
            files,
        )
        cur.execute("ALTER TABLE products DISABLE TRIGGER products_count_tags")
        copy_rows(
            cur,
            "products",
            "seller_id, asset_file_id, title, description, kind, price_cents, currency, tags, status, review_count,"
            " sales_count, created_at, updated_at",
            products,
        )
        cur.execute("ALTER TABLE products ENABLE TRIGGER products_count_tags")
        cur.execute(
            "INSERT INTO tags (name, usage_count) SELECT t, count(*) FROM products, unnest(tags) t GROUP BY t"
            " ON CONFLICT (name) DO UPDATE SET usage_count = tags.usage_count + EXCLUDED.usage_count"
        )

        # Buyers, each with one completed order that their reviews name; each product gets review_count
        # reviews from distinct buyers, and its rating is counted from them as the app does.
        cur.execute(
            """
            INSERT INTO users (username, email, password_hash, created_at)
            SELECT %(prefix)s || lpad(n::text, 4, '0'), %(prefix)s || lpad(n::text, 4, '0') || '@example.com',
                   'bench-not-a-real-hash', now() - interval '400 days'
            FROM generate_series(0, %(buyers)s - 1) n
            """,
            {"prefix": BUYER_PREFIX, "buyers": N_BUYERS},
        )
        cur.execute(
            """
            INSERT INTO orders (buyer_id, status, total_cents, currency, payment_method, gateway, paid_at, created_at)
            SELECT id, 'completed', 999, 'EUR', 'card', 'sandbox', created_at, created_at
            FROM users WHERE username LIKE %s
            """,
            (BUYER_LIKE,),
        )
        cur.execute(
            """
            CREATE TEMPORARY TABLE bench_buyers ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY u.username) - 1 AS n, u.id, o.id AS order_id
            FROM users u JOIN orders o ON o.buyer_id = u.id WHERE u.username LIKE %s
            """,
            (BUYER_LIKE,),
        )
        cur.execute(
            """
            INSERT INTO reviews (product_id, buyer_id, order_id, rating, comment, created_at)
            SELECT p.id, b.id, b.order_id,
                   (ARRAY[1, 2, 3, 3, 4, 4, 4, 5, 5, 5])[1 + abs(hashtext(p.id::text || j)) %% 10],
                   (ARRAY['', 'Great sounds', 'Exactly what I needed', 'Punchy and clean, used it on two tracks'])
                       [1 + abs(hashtext(j || p.id::text)) %% 4],
                   least(now(), p.created_at + j * interval '7 hours')
            FROM (SELECT id, created_at, review_count, row_number() OVER (ORDER BY id) AS k FROM products) p
            CROSS JOIN LATERAL generate_series(0, p.review_count - 1) j
            JOIN bench_buyers b ON b.n = (p.k * 7919 + j) %% %(buyers)s
            """,
            {"buyers": N_BUYERS},
        )
        cur.execute(
            """
            UPDATE products p SET rating_avg = counted.average, review_count = counted.number
            FROM (SELECT product_id, round(avg(rating), 2) AS average, count(*) AS number FROM reviews
                  GROUP BY product_id) AS counted
            WHERE p.id = counted.product_id
            """
        )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) users, orders, cloud_files, products, tags, reviews")
        cur.execute(
            "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM tags), (SELECT count(*) FROM reviews)"
        )
        products_n, tags_n, reviews_n = cur.fetchone()
    conn.close()
    print(
        f"data: made {products_n} products, {tags_n} tags, {N_SELLERS} sellers, {N_BUYERS} buyers, {reviews_n} reviews"
        f" in {time.monotonic() - started:.1f}s"
    )


# -- catalog throughput -------------------------------------------------------------------------------


def fetch_page(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read().decode()
        headers = {name: resp.headers[name] for name in ("ETag", "Cache-Control")}
    data = json.loads(body)
    listed = next((data["data"][name] for name in ("products", "reviews") if name in data.get("data", {})), None)
    if not data.get("success") or listed == [] or None in headers.values():
        raise SystemExit(f"unexpected answer from {url}: {body[:300]}")
    shown = "one object" if listed is None else f"{len(listed)} items of {data['data']['total']}"
    return {"body": body, "headers": headers, "shown": shown}


def hot_objects(dsn: str) -> tuple[str, str, str]:
    """The newest product, the product on sale with the most reviews, the seller with the most products on sale."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT id FROM products WHERE status = 'active' ORDER BY created_at DESC, id LIMIT 1),"
            " (SELECT id FROM products WHERE status = 'active' ORDER BY review_count DESC, id LIMIT 1),"
            " (SELECT seller_id FROM products WHERE status = 'active' GROUP BY seller_id ORDER BY count(*) DESC,"
            " seller_id LIMIT 1)"
        )
        ids = cur.fetchone()
    conn.close()
    return ids


def load(url: str, duration: int, connections: int, timeouts: list[int]) -> tuple[float, float]:
    """tests.bench.http.run_wrk, except that wrk's socket timeouts (requests slower than its 2 s) are counted
    in `timeouts` rather than fatal: a slow extra line should not throw away the whole run."""
    try:
        return run_wrk(url, duration, connections)
    except SystemExit as exc:
        out = str(exc.code)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if "Non-2xx" in out or errors is None or any(int(n) for n in errors.groups()[:3]):
            raise
    timeouts.append(int(errors.group(4)))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), float(value) * {
        "us": 0.001,
        "ms": 1.0,
        "s": 1000.0,
    }[unit]


def bench_catalog(
    cases: dict[str, str],
    veza_port: int,
    env: dict[str, str],
    workdir: Path,
    args: argparse.Namespace,
    servers: list[subprocess.Popen],
) -> dict[str, dict]:
    """Throughput of each catalog case on Veza and on the bare app (started here, added to `servers`)."""
    pages = {query: fetch_page(f"http://127.0.0.1:{veza_port}{query}") for query in cases.values()}
    pages_file = workdir / "pages.json"
    pages_file.write_text(json.dumps(pages))
    bare_port = free_port()
    servers.append(start([sys.executable, "-c", BARE_APP, str(bare_port), str(pages_file)], env))
    for query, page in pages.items():
        print(f"  {query}: {len(page['body'].encode()):,} bytes, {page['shown']}")
    ports = {"veza": veza_port, "bare aiohttp": bare_port}
    wait_healthy(f"http://127.0.0.1:{bare_port}{next(iter(cases.values()))}")

    results: dict[str, dict] = {}
    for number, (label, query) in enumerate(cases.items()):
        rounds = args.rounds if number == 0 else args.extra_rounds
        urls = {name: f"http://127.0.0.1:{port}{query}" for name, port in ports.items()}
        timeouts: list[int] = []
        for url in urls.values():
            load(url, 2, args.connections, [])  # warm-up
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
        for _ in range(rounds):
            for name, url in urls.items():
                runs[name].append(load(url, args.duration, args.connections, timeouts))
        ratios = [v[0] / b[0] for v, b in zip(runs["veza"], runs["bare aiohttp"], strict=True)]
        results[label] = {
            "query": query,
            "rounds": rounds,
            "shown": pages[query]["shown"],
            **{
                name: (statistics.median(r for r, _ in server_runs), statistics.median(p for _, p in server_runs))
                for name, server_runs in runs.items()
            },
            "ratio": statistics.median(ratios),
            "ratios": ratios,
            "timeouts": sum(timeouts),
        }
        print_catalog_case(label, results[label])
    return results


def print_catalog_case(label: str, result: dict) -> None:
    print(f"{label}: GET {result['query']}  ({result['shown']}, median of {result['rounds']} rounds)")
    for name in ("veza", "bare aiohttp"):
        rps, p99 = result[name]
        print(f"  {name:<13} {rps:>9.0f} req/s   p99 {p99:7.2f} ms")
    print(
        f"  throughput ratio veza / bare: {result['ratio']:.2f} (rounds: "
        + ", ".join(f"{r:.2f}" for r in result["ratios"])
        + ")"
    )
    if result["timeouts"]:
        print(f"  {result['timeouts']} requests timed out (over 2 s) and are left out of req/s")


# -- tag suggestions ----------------------------------------------------------------------------------


def misspell(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return rng.choice(
        (
            word[:i] + word[i + 1 :],  # a letter dropped
            word[:i] + word[i + 1] + word[i] + word[i + 2 :],  # two swapped
            word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :],  # one replaced
            word[:i] + word[i] + word[i:],  # one doubled
        )
    )


def suggest_prefixes(names: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Groups of distinct prefixes: 1 letter, 2-4 letters (as common as the tag names have them), misspellings."""
    groups: dict[str, list[str]] = {"1 letter": sorted({name[0] for name in names if name[0].isalpha()})}
    for length, count in ((2, 90), (3, 90), (4, 90)):
        seen = list(dict.fromkeys(name[:length] for name in rng.sample(names, len(names)) if len(name) >= length))
        groups[f"{length} letters"] = seen[:count]
    words = [word for word in tag_vocabulary() if len(word) >= 5 and word.isalpha()]
    misspelled: list[str] = []
    while len(misspelled) < 60:
        typo = misspell(rng, rng.choice(words))
        # Only trigram similarity can find it: no tag starts with it.
        if typo not in misspelled and not any(name.startswith(typo) for name in names):
            misspelled.append(typo)
    groups["misspelt"] = misspelled
    return groups


async def bench_token(session: aiohttp.ClientSession, base: str, dsn: str) -> str:
    """A Bearer token of the bench user: logged in when it exists, registered (once) otherwise."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM users WHERE email = %s", (SUGGEST_USER["email"],))
        exists = cur.fetchone() is not None
    conn.close()
    if exists:
        path, body = "/api/v1/auth/login", {"email": SUGGEST_USER["email"], "password": SUGGEST_USER["password"]}
    else:
        path, body = "/api/v1/auth/register", SUGGEST_USER
    async with session.post(base + path, json=body) as resp:
        answer = await resp.json()
        if resp.status not in (200, 201):
            raise SystemExit(f"{path} answered {resp.status}: {answer}")
    return answer["data"]["access_token"]


async def measure_suggest(base: str, dsn: str, groups: dict[str, list[str]]) -> dict[str, list[tuple[float, int]]]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = {"Authorization": f"Bearer {await bench_token(session, base, dsn)}"}

        async def one(prefix: str) -> tuple[float, int]:
            started = time.perf_counter()
            async with session.get(
                f"{base}/api/v1/tags/suggest", params={"q": prefix, "limit": "10"}, headers=headers
            ) as resp:
                body = await resp.read()
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status != 200:
                raise SystemExit(f"/tags/suggest?q={prefix} answered {resp.status}: {body[:300]!r}")
            return elapsed, len(json.loads(body)["data"]["suggestions"])

        for prefix in ["zz", "qu", "lo", "tra", "pian"] * 10:  # warm-up: connection, pool, plans
            await one(prefix)
        return {group: [await one(prefix) for prefix in prefixes] for group, prefixes in groups.items()}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class ExplainedQueries(Executor):
    """Runs the SQL of a query function for real on a psycopg2 cursor, keeping EXPLAIN (ANALYZE) of each statement,
    so what is explained is exactly what the code sends, however many statements that is."""

    def __init__(self, cur: psycopg2.extensions.cursor) -> None:
        self.cur = cur
        self.plans: list[tuple[float, list[str]]] = []

    async def _run(self, sql: str, params: object, fetch: str) -> object:
        times = []
        for _ in range(5):  # the median of warm runs
            self.cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [line for (line,) in self.cur.fetchall()]
            times.append(float(re.search(r"Execution Time: ([\d.]+)", plan[-1]).group(1)))
        self.plans.append((statistics.median(times), plan))
        self.cur.execute(sql, params)
        if fetch == "rowcount":
            return self.cur.rowcount
        columns = [column.name for column in self.cur.description]
        rows = [dict(zip(columns, row, strict=True)) for row in self.cur.fetchall()]
        return rows if fetch == "all" else next(iter(rows), None)


def explain_suggest(dsn: str, prefixes: list[str]) -> list[tuple[str, float, list[str]]]:
    """(prefix, milliseconds of SQL execution, the plan lines of its scans) for each prefix."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    explained = []
    with conn.cursor() as cur:
        for prefix in prefixes:
            queries = ExplainedQueries(cur)
            asyncio.run(tag_queries.suggest(queries, prefix, 10))
            lines = [line for _, plan in queries.plans for line in plan if re.search(r"Scan|Index Recheck", line)]
            explained.append((prefix, sum(ms for ms, _ in queries.plans), lines))
    conn.close()
    return explained


# -- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the plain catalog page")
    parser.add_argument("--extra-rounds", type=int, default=3, help="rounds of each other line")
    parser.add_argument("--search", default="dru", help="the word prefix of the search line")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("wrk and taskset are needed: apt-get install wrk util-linux")
    # A SIGTERM (or SIGHUP) unwinds like Ctrl-C, so the servers are always stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))

    dsn = bench_database()
    make_data(dsn)
    env = {**os.environ, "DATABASE_URL": dsn, "UVLOOP": "true"}  # Veza as it ships; the bare app ignores it
    veza_port = free_port()
    base = f"http://127.0.0.1:{veza_port}"
    servers = [start([sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(veza_port)], env)]
    product, reviewed, seller = hot_objects(dsn)
    cases = {
        "catalog": f"{CATALOG_PATH}?limit=20",
        "search": f"{CATALOG_PATH}?search={args.search}&limit=20",
        "price_asc": f"{CATALOG_PATH}?sort=price_asc&limit=20",
        "product": f"{CATALOG_PATH}/{product}",
        "reviews": f"{CATALOG_PATH}/{reviewed}/reviews?limit=20",
        "seller": f"{SELLER_PATH}/{seller}?limit=20",
    }
    try:
        with tempfile.TemporaryDirectory(prefix="veza-bench-catalog-") as workdir:
            wait_healthy(f"{base}/api/v1/health")
            print(f"wrk -t1 -c{args.connections} -d{args.duration}s; servers on core 0, wrk on core 1")
            catalog = bench_catalog(cases, veza_port, env, Path(workdir), args, servers)

            conn = psycopg2.connect(dsn)
            with conn, conn.cursor() as cur:
                cur.execute("SELECT name FROM tags WHERE usage_count > 0")
                names = [name for (name,) in cur.fetchall()]
            conn.close()
            groups = suggest_prefixes(names, random.Random(SEED))
            os.sched_setaffinity(0, {LOAD_CPU})
            suggest = asyncio.run(measure_suggest(base, dsn, groups))
    finally:
        stop(*servers)

    every = [ms for runs in suggest.values() for ms, _ in runs]
    print(f"tag suggestions: GET /api/v1/tags/suggest?q=<prefix>&limit=10, {len(every)} prefixes one at a time")
    for group, runs in suggest.items():
        times = [ms for ms, _ in runs]
        found = sum(1 for _, n in runs if n) / len(runs)
        print(
            f"  {group:<10} {len(runs):>4} prefixes   p50 {percentile(times, 0.5):6.2f} ms   "
            f"p99 {percentile(times, 0.99):6.2f} ms   max {max(times):6.2f} ms   {found:4.0%} with suggestions"
        )
    slowest = sorted(
        (
            (ms, prefix)
            for (group, runs) in suggest.items()
            for (ms, _), prefix in zip(runs, groups[group], strict=True)
        ),
        reverse=True,
    )[:5]
    print("  slowest: " + ", ".join(f"{prefix!r} {ms:.1f} ms" for ms, prefix in slowest))
    p50, p99 = percentile(every, 0.5), percentile(every, 0.99)
    print(f"  all        {len(every):>4} prefixes   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")

    print("suggestion SQL in PostgreSQL, EXPLAIN (ANALYZE, BUFFERS), median of 5:")
    explained = explain_suggest(dsn, ["a", groups["4 letters"][0], max(groups["misspelt"], key=len)])
    for prefix, total, lines in explained:
        print(f"  q={prefix!r}: execution {total:.2f} ms")
        for line in lines:
            print(f"    {line.strip()}")

    print()
    print("| benchmark | Veza | bare aiohttp | Veza / bare | goal |")
    print("|---|---|---|---|---|")
    for number, result in enumerate(catalog.values()):
        (v_rps, v_p99), (b_rps, b_p99) = result["veza"], result["bare aiohttp"]
        goal = (f"≥ {CATALOG_GOAL} " + ("✅" if result["ratio"] >= CATALOG_GOAL else "❌")) if number == 0 else "—"
        print(
            f"| `GET {result['query'].removeprefix('/api/v1')}` | {v_rps:,.0f} req/s, p99 {v_p99:.1f} ms "
            f"| {b_rps:,.0f} req/s, p99 {b_p99:.1f} ms | {result['ratio']:.2f} | {goal} |"
        )
    print(
        f"| `GET /tags/suggest?q=…&limit=10` ({len(every)} prefixes, one at a time) | p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms | — | — | p99 < 10 ms {'✅' if p99 < 10 else '❌'} |"
    )
    sql_times = ", ".join(f"`{prefix}` {total:.1f} ms" for prefix, total, _ in explained)
    print(f"| suggestion SQL alone (EXPLAIN ANALYZE) | {sql_times} | — | — | — |")

    for label, result in catalog.items():
        (v_rps, _), (b_rps, _) = result["veza"], result["bare aiohttp"]
        path = re.sub(r"[0-9a-f-]{36}", "{id}", result["query"].removeprefix("/api/v1"))
        row(
            f"`GET {path}` req/s: Veza (uvloop) / bare aiohttp (asyncio's default loop) serving the same bytes "
            f"({N_PRODUCTS:,} products)",
            f"{result['ratio']:.2f} ({v_rps:,.0f} / {b_rps:,.0f} req/s)",
            f"≥ {CATALOG_GOAL}" if label == "catalog" else "—",
            result["ratio"] >= CATALOG_GOAL if label == "catalog" else None,
        )
    row("`GET /tags/suggest?q=…&limit=10` p99, one at a time", f"{p99:.2f} ms (p50 {p50:.2f} ms)", "< 10 ms", p99 < 10)


if __name__ == "__main__":
    main()
