"""Turning what a shopper types into a safe full-text query."""

from __future__ import annotations

import re

MAX_TERMS = 8
_WORD = re.compile(r"\w+", re.UNICODE)


def prefix_query(text: str | None) -> str | None:
    """`lo-fi bea` -> `lo:* & fi:* & bea:*` for to_tsquery('simple', ...), or None when nothing is left.

    Only word characters survive, so no input can carry tsquery syntax (& | ! ( ) : * ').
    """
    if not text:
        return None
    words = [word.lower() for word in _WORD.findall(text)][:MAX_TERMS]
    return " & ".join(f"{word[:50]}:*" for word in words) or None
