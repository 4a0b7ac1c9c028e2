"""One spelling per tag: lower case, trimmed, inner spaces to '-', at most 50 characters."""

from __future__ import annotations

import re

MAX_TAG_LENGTH = 50
_SPACES = re.compile(r"\s+")


def normalize_tag(raw: str) -> str:
    return _SPACES.sub("-", raw.strip().lower())[:MAX_TAG_LENGTH].strip("-")


def normalize_tags(raw: list[str]) -> list[str]:
    """Normalised, empty ones dropped, duplicates removed, first-seen order kept."""
    return list(dict.fromkeys(tag for tag in map(normalize_tag, raw) if tag))
