"""SQL for tag suggestions."""

from __future__ import annotations

from veza.db import Executor, escape_like

MIN_SIMILAR_LENGTH = 3  # shorter prefixes resemble thousands of tags: trigram matching only costs time there
# Similar (misspelt) matches come from tags in real use (usage_count >= 5, the predicate of the
# partial index tags_similar_idx): a long tail of one-off tags would only add noise, and checking
# them costs tens of milliseconds on a large table.


async def suggest(db: Executor, prefix: str, limit: int) -> list[str]:
    """Tags starting with `prefix`, most used first; then, if there is room, tags that look like it."""
    like = escape_like(prefix) + "%"
    names = [
        row["name"]
        for row in await db.fetch_all(
            """
            SELECT name FROM tags WHERE name LIKE %s AND usage_count > 0
            ORDER BY usage_count DESC, name LIMIT %s
            """,
            (like, limit),
        )
    ]
    if len(names) < limit and len(prefix) >= MIN_SIMILAR_LENGTH:
        similar = await db.fetch_all(
            """
            SELECT name FROM tags
            WHERE name %% %(q)s AND name NOT LIKE %(like)s AND usage_count >= 5
            ORDER BY similarity(name, %(q)s) DESC, usage_count DESC, name LIMIT %(limit)s
            """,
            {"q": prefix, "like": like, "limit": limit - len(names)},
        )
        names += [row["name"] for row in similar]
    return names
