import pytest

from veza.marketplace.search import prefix_query
from veza.tags.normalize import normalize_tag, normalize_tags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hip Hop", "hip-hop"),
        ("  LO   FI  ", "lo-fi"),
        ("drum\tand\nbass", "drum-and-bass"),
        ("Électro", "électro"),
        ("x" * 80, "x" * 50),
        ("a" * 49 + " b", "a" * 49),  # cut at 50, and no dangling dash
        ("   ", ""),
    ],
)
def test_normalize_tag(raw, expected):
    assert normalize_tag(raw) == expected


def test_normalize_tags_drops_empties_and_duplicates_keeping_order():
    assert normalize_tags(["Jazz", " jazz ", "", "Lo Fi", "lo-fi", "JAZZ"]) == ["jazz", "lo-fi"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lofi", "lofi:*"),
        ("Lo-Fi bea", "lo:* & fi:* & bea:*"),
        ("&|!():*'\\", None),
        ("'; DROP TABLE products; --", "drop:* & table:* & products:*"),
        ("", None),
        (None, None),
        ("a b c d e f g h i j", "a:* & b:* & c:* & d:* & e:* & f:* & g:* & h:*"),
    ],
)
def test_search_text_becomes_a_safe_prefix_query(text, expected):
    assert prefix_query(text) == expected
