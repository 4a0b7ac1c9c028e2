"""What a client names, made safe to keep and show: display names, content types; and storage keys.

Storage keys never come from a client: they are ``cloud/<user>/<file>/<version>``, all generated ids.
"""

from __future__ import annotations

import re
import unicodedata
from uuid import UUID

MAX_NAME_LENGTH = 255
MAX_EXTENSION_LENGTH = 16
UNTITLED = "untitled"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_WHITESPACE = re.compile(r"\s+")
# RFC 9110 token characters, type "/" subtype, nothing else (parameters are dropped).
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,63}/[a-z0-9!#$&^_.+-]{1,63}")
_SPACING_CONTROLS = frozenset("\t\n\v\f\r")  # control characters that read as a space; the others go
# Characters that reorder or hide text: they make "evil\u202egnp.exe" look like "evilexe.png".
_INVISIBLE = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def storage_key(user_id: UUID, file_id: UUID, version_id: UUID) -> str:
    return f"cloud/{user_id}/{file_id}/{version_id}"


def _visible(char: str) -> bool:
    if char in _SPACING_CONTROLS:
        return True
    return unicodedata.category(char) not in ("Cc", "Cs") and char not in _INVISIBLE


def sanitize_name(raw: str | None) -> str:
    """A display name: the last path component, without control characters, at most 255 characters.

    Whitespace runs become one space; a name with nothing left (or only dots) is "untitled".
    A long name keeps its extension.
    """
    name = "".join(char for char in unicodedata.normalize("NFC", raw or "") if _visible(char))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _WHITESPACE.sub(" ", name).strip()
    if not name.strip("."):
        return UNTITLED
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= MAX_EXTENSION_LENGTH:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name


def clean_content_type(raw: str | None) -> str:
    """The part's declared type as ``type/subtype`` (parameters dropped), or application/octet-stream."""
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _CONTENT_TYPE.fullmatch(value) else DEFAULT_CONTENT_TYPE
