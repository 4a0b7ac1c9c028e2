"""Display names and content types from clients, made safe; storage keys, generated."""

import uuid

import pytest

from veza.cloud.multipart import parse_tags
from veza.cloud.names import clean_content_type, sanitize_name, storage_key
from veza.cloud.quota import format_bytes
from veza.errors import Invalid
from veza.storage.base import check_key


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("mix.wav", "mix.wav"),
        (None, "untitled"),
        ("", "untitled"),
        ("   ", "untitled"),
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("dir/", "untitled"),
        ("...", "untitled"),
        (".hidden", ".hidden"),
        ("a\x00b\x1fc\x7fd\x85e.wav", "abcde.wav"),
        ("tab\tand\nnewline", "tab and newline"),
        ("many     spaces", "many spaces"),
        ("e\u0301.wav", "\u00e9.wav"),  # NFC
        ("right\u202eto\u2066left\u200f.txt", "righttoleft.txt"),
        ("lone\udc80surrogate", "lonesurrogate"),
        ("\U0001d11e clef", "\U0001d11e clef"),
        ("a" * 300, "a" * 255),
        ("a" * 300 + ".flac", "a" * 250 + ".flac"),
        ("a" * 300 + "." + "b" * 40, ("a" * 300 + "." + "b" * 40)[:255]),
        ("é" * 256, "é" * 255),
    ],
)
def test_sanitize_name(raw, name):
    assert sanitize_name(raw) == name
    assert 1 <= len(sanitize_name(raw)) <= 255
    sanitize_name(raw).encode("utf-8")  # always storable


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("audio/wav", "audio/wav"),
        ("Audio/X-WAV; rate=44100", "audio/x-wav"),
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("wav", "application/octet-stream"),
        ("text/html\r\nX-Evil: 1", "application/octet-stream"),
        ("a/b/c", "application/octet-stream"),
        ("audio/" + "x" * 100, "application/octet-stream"),
        ("application/vnd.api+json", "application/vnd.api+json"),
    ],
)
def test_clean_content_type(raw, clean):
    assert clean_content_type(raw) == clean


def test_storage_keys_are_made_of_ids_only():
    ids = [uuid.uuid4() for _ in range(3)]
    key = storage_key(*ids)
    assert key == f"cloud/{ids[0]}/{ids[1]}/{ids[2]}"
    assert check_key(key) == key


def test_parse_tags():
    assert parse_tags(['["a", "b"]', "c, d,,", " "]) == ["a", "b", "c", " d"]
    assert parse_tags(['{"a": 1}']) == ['{"a": 1}']  # not an array: one tag, normalised later
    for bad in ['["a"', "[1]", "[null]", '["a", ["b"]]']:
        with pytest.raises(Invalid):
            parse_tags([bad])


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (5 * 1024**3, "5.0 GiB"), (10 * 1024**4, "10240.0 GiB")],
)
def test_format_bytes(size, text):
    assert format_bytes(size) == text
