"""The gate's terms (answer/terms.py): what a reader counts as the same number or name, and
what a claim needs less of than it writes."""

from __future__ import annotations

import pytest

from answer.terms import missing_terms, numbers

GAMMA, KAPPA, BETA = "\u03b3", "\u03ba", "\u03b2"


@pytest.mark.parametrize(
    ("claim", "text"),
    [
        ("It has three arches.", "It has 3 arches."),
        ("It has 3 arches.", "It has three arches."),
        ("It took twenty-one days.", "It took 21 days."),
        ("It happened twice.", "It happened 2 times."),
        ("About a hundred people came.", "About 100 people came."),
        (f"IFN-{GAMMA} levels rose.", "IFN-gamma levels rose."),
        (f"NF-{KAPPA}B is bound.", "NF-kB is bound."),
        ("It binds av-Beta3 integrins.", f"It binds av{BETA}3 integrins."),
        ("Levels of IFN rose.", "Levels of interferon rose."),
        ("The Aire-expressing cells grew.", "The Aire+ cells grew."),
        ("Cells of Type 1 Diabetes patients.", "cells of type 1 diabetes patients"),  # lone capitals
        ("The YAP1 complex moves.", "The YAP1 complex moves."),
        ("Carriers of the Apolipoprotein E4 (APOE4) allele live longer.", "APOE4 carriers live longer."),
        ("Toxins of Escherichia coli kill.", "Toxins of E. coli kill."),
        ("Tech Crunch liked it.", "TechCrunch liked it."),
        ("Histones are degraded once DNA is copied.", "After DNA is copied histones go."),
        ("It was built in the late 1990s.", "It was built in the 1990s."),
    ],
)  # fmt: skip
def test_the_same_term_written_another_way_is_held(claim: str, text: str) -> None:
    assert missing_terms(claim, text) == []


@pytest.mark.parametrize(
    ("claim", "text", "missing"),
    [
        ("It won the World Cup once.", "It has won the World Cup three times.", ["1"]),
        ("It has four arches.", "It has three arches.", ["4"]),
        ("It took 21 days.", "It took twenty days.", ["21"]),
        ("It binds SHP-2.", "It binds SHP-1.", ["SHP-2"]),
        ("Sales fell in Keswick.", "Sales fell in Ambleside.", ["Keswick"]),
    ],
)
def test_a_different_number_or_name_is_missing(claim: str, text: str, missing: list[str]) -> None:
    assert missing_terms(claim, text) == missing


def test_loose_number_words_are_no_terms_of_a_claim() -> None:
    assert numbers("One of the first causes, a second time.", claim=True) == set()
    assert numbers("One of the first causes.") == {"1"}  # a passage's count: it holds "1"
