"""What may name a collection, said once for the store, the API schema and the CLI.

A name is 1 to 200 characters of any script, but none that hides in listings, logs and
URLs: control characters (C0, C1), format characters (bidirectional overrides, zero-width
joiners and the like), line and paragraph separators, and lone surrogates.
"""

from __future__ import annotations

import sys
import unicodedata

from index.errors import ConfigError

MAX_COLLECTION_NAME = 200
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


# The code points of those categories (but surrogates, which cannot sit in a pattern) as
# ranges, written out so that importing costs nothing; `hidden_ranges()` computes them from
# this Python's Unicode database, and a test checks that the two agree.
HIDDEN_RANGES = (
    (0x0, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
    (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F),
    (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip


def hidden_ranges() -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        if unicodedata.category(chr(code)) in HIDDEN_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return ranges


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


# A regular expression (Python, Rust and JSON Schema alike) that matches exactly the names
# `check_collection_name` accepts, short of the length: for pydantic and /openapi.json.
COLLECTION_NAME_PATTERN = (
    "^[^"
    + "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in HIDDEN_RANGES)
    + "]+$"
)


def check_collection_name(name: str) -> None:
    """ConfigError unless `name` can name a collection."""
    if not 1 <= len(name) <= MAX_COLLECTION_NAME:
        raise ConfigError(
            f"a collection name has 1 to {MAX_COLLECTION_NAME} characters, got {len(name)}"
        )
    hidden = sorted({c for c in name if unicodedata.category(c) in HIDDEN_CATEGORIES})
    if hidden:
        shown = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        raise ConfigError(
            f"the collection name {name!r} contains control or invisible characters ({shown}); "
            "choose a name of printable characters"
        )
