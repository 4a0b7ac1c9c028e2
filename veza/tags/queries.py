"""SQL for tag suggestions."""

from __future__ import annotations

from veza.db import Queries

SIMILARITY_THRESHOLD = 0.3


async def suggest(db: Queries, prefix: str, limit: int) -> list[str]:
    """Tags starting with `prefix`, most used first; then tags that look like it (trigrams)."""
    rows = await db.fetch_all(
        """
        (SELECT name, 0 AS rank, usage_count::float4 AS score FROM tags
         WHERE name LIKE %(like)s AND usage_count > 0
         ORDER BY usage_count DESC, name LIMIT %(limit)s)
        UNION ALL
        (SELECT name, 1 AS rank, similarity(name, %(q)s) AS score FROM tags
         WHERE name %% %(q)s AND name NOT LIKE %(like)s AND usage_count > 0
         ORDER BY name <-> %(q)s, usage_count DESC, name LIMIT %(limit)s)
        ORDER BY rank, score DESC, name
        LIMIT %(limit)s
        """,
        {"q": prefix, "like": escape_like(prefix) + "%", "limit": limit},
    )
    return [row["name"] for row in rows]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
