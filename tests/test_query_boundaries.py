"""A domain's SQL names only its own tables: another domain's are read through that domain's queries module."""

import ast
import re
from pathlib import Path

import veza
from veza.keys import DB

VEZA = Path(veza.__file__).parent
OWNERS = {
    "users": "users",
    "data_exports": "users",
    "sessions": "auth",
    "refresh_tokens": "auth",
    "live_streams": "live",
    "stream_keys": "live",
    "products": "marketplace",
    "orders": "marketplace",
    "order_items": "marketplace",
    "licenses": "marketplace",
    "reviews": "marketplace",
    "invoices": "marketplace",
    "invoice_counters": "marketplace",
    "seller_transfers": "payments",
    "sandbox_payments": "payments",
    "sandbox_refunds": "payments",
    "sandbox_events": "payments",
    "webhook_events": "payments",
    "connect_accounts": "payments",
    "sandbox_connect_accounts": "payments",
    "sandbox_transfers": "payments",
    "sandbox_transfer_reversals": "payments",
    "refunds": "marketplace",
    "gear_items": "gear",
    "gear_documents": "gear",
    "gear_repairs": "gear",
    "gear_warranty_notices": "gear",
    "idempotency_keys": "idempotency",  # veza/idempotency.py, shared by every write that moves money
    "notifications": "notifications",
    "tags": "tags",
}
SCRATCH = {"alembic_version", "db_probe"}  # not a domain's: migrations' bookkeeping, tests/test_db.py's table
# Reconciliation compares storage with every column that names a blob, whichever domain owns it.
ANY_TABLE = {"storage"}
AFTER_KEYWORD = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_]+)", re.IGNORECASE)


def owner(table: str) -> str:
    return "cloud" if table.startswith("cloud_") else OWNERS[table]


def sql_texts(path: Path) -> list[str]:
    """The module's string constants (f-strings' literal parts included), docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def tables_named(text: str, tables: set[str], columns: set[str]) -> set[str]:
    """Tables the SQL names: a name that is also a column's counts only after FROM, JOIN, INTO, UPDATE."""
    words = set(re.findall(r"\b[a-z_]+\b", text)) & tables - columns
    return words | set(AFTER_KEYWORD.findall(text)) & tables


async def test_every_queries_module_names_only_its_own_tables(client):
    db = client.app[DB]
    tables = {
        row["table_name"]
        for row in await db.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' AND table_name <> ALL(%s)",
            (list(SCRATCH),),
        )
    }
    columns = {
        row["column_name"]
        for row in await db.fetch_all(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    }
    assert {"products", "users", "cloud_files", "tags"} <= tables
    unowned = [table for table in tables if not table.startswith("cloud_") and table not in OWNERS]
    assert unowned == [], "a new table: say which domain owns it in OWNERS"

    modules = sorted(VEZA.glob("*/*queries.py"))  # queries.py, order_queries.py...
    assert len(modules) >= 8
    crossings = []
    for path in modules:
        domain = path.parent.name
        if domain in ANY_TABLE:
            continue
        for text in sql_texts(path):
            crossings += [(domain, table) for table in tables_named(text, tables, columns) if owner(table) != domain]
    assert crossings == []


def test_the_scan_finds_a_table_named_in_sql():
    tables, columns = {"users", "products", "tags"}, {"tags", "id"}
    assert tables_named("SELECT 1 FROM products p JOIN users u ON u.id = p.seller_id", tables, columns) == {
        "products",
        "users",
    }
    assert tables_named("products p WHERE p.tags @> %(tag)s", tables, columns) == {"products"}
    assert tables_named("UPDATE tags SET usage_count = 1", tables, columns) == {"tags"}
