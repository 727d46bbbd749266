"""Collection names: the store's check and the API's pattern accept the same names."""

from __future__ import annotations

import re

import pytest

from index.errors import ConfigError
from index.names import COLLECTION_NAME_PATTERN, HIDDEN_RANGES, check_collection_name, hidden_ranges

GOOD = ["hr", "a/b", "Q3 plans", "日本語", "naïve", "\U000ab02c", "x" * 200]
BAD = ["", "x" * 201, "bad\x85name", "rtl\u202ename", "line\u2028break", "tab\there", "z\u200bw"]


def test_the_written_ranges_are_this_pythons_unicode() -> None:
    assert hidden_ranges() == list(HIDDEN_RANGES), (
        "this Python's Unicode database differs: paste hidden_ranges() into HIDDEN_RANGES"
    )


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass_both(name: str) -> None:
    check_collection_name(name)
    assert re.fullmatch(COLLECTION_NAME_PATTERN, name)


@pytest.mark.parametrize("name", BAD)
def test_bad_names_fail_both(name: str) -> None:
    with pytest.raises(ConfigError, match="collection name"):
        check_collection_name(name)
    if 1 <= len(name) <= 200:
        assert not re.fullmatch(COLLECTION_NAME_PATTERN, name)
