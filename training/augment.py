"""Hard examples made from real sentences: the edits that keep every word of a quote but
change what it says (negation, antonyms, swapped roles, swapped numbers), and the edits
that keep its meaning (a clause or a parenthesis dropped).

Each function returns the edited sentence, or None when its rule does not apply. They are
rules, not a language model: some outputs are clumsy English, none is labelled wrongly by
much (a role swap of a symmetric relation is skipped: "A and B" is not swapped).
"""

from __future__ import annotations

import itertools
import random
import re

AUXILIARIES = [
    "is",
    "are",
    "was",
    "were",
    "can",
    "could",
    "will",
    "would",
    "should",
    "may",
    "might",
    "must",
    "has",
    "have",
    "had",
    "does",
    "do",
    "did",
]
_AUX = re.compile(r"\b(" + "|".join(AUXILIARIES) + r")\b(?!\s+not\b)(?!n't)", re.IGNORECASE)
_NEGATED = re.compile(r"\b(" + "|".join(AUXILIARIES) + r")\s+not\b", re.IGNORECASE)
_CONTRACTED = re.compile(r"\b(is|are|was|were|does|do|did|has|have|had|can|could|would)n't\b")

ANTONYMS = [
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("increases", "decreases"),
    ("increasing", "decreasing"),
    ("higher", "lower"),
    ("more", "less"),
    ("greater", "smaller"),
    ("larger", "smaller"),
    ("largest", "smallest"),
    ("most", "least"),
    ("positive", "negative"),
    ("positively", "negatively"),
    ("before", "after"),
    ("first", "last"),
    ("always", "never"),
    ("early", "late"),
    ("earlier", "later"),
    ("north", "south"),
    ("east", "west"),
    ("rise", "fall"),
    ("rose", "fell"),
    ("gain", "loss"),
    ("won", "lost"),
    ("win", "lose"),
    ("accepted", "rejected"),
    ("allowed", "forbade"),
    ("inhibits", "promotes"),
    ("inhibited", "promoted"),
    ("activates", "inhibits"),
    ("enhances", "reduces"),
    ("enhanced", "reduced"),
    ("improved", "worsened"),
    ("improves", "worsens"),
    ("upregulated", "downregulated"),
    ("up-regulated", "down-regulated"),
    ("strong", "weak"),
    ("stronger", "weaker"),
    ("success", "failure"),
    ("successful", "unsuccessful"),
    ("major", "minor"),
    ("majority", "minority"),
    ("above", "below"),
    ("inside", "outside"),
    ("maximum", "minimum"),
    ("same", "different"),
    ("similar", "different"),
    ("common", "rare"),
    ("old", "new"),
    ("oldest", "newest"),
    ("private", "public"),
    ("legal", "illegal"),
    ("possible", "impossible"),
    ("effective", "ineffective"),
    ("efficient", "inefficient"),
    ("safe", "unsafe"),
    ("present", "absent"),
    ("required", "optional"),
    ("supported", "opposed"),
    ("supports", "opposes"),
    ("agreed", "refused"),
    ("began", "ended"),
    ("opened", "closed"),
    ("born", "died"),
    ("buy", "sell"),
    ("bought", "sold"),
    ("import", "export"),
    ("imports", "exports"),
    ("entered", "left"),
    ("attack", "defend"),
    ("victory", "defeat"),
]
_ANTONYM = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS}
_ANTONYM_RE = re.compile(r"\b(" + "|".join(sorted(_ANTONYM, key=len, reverse=True)) + r")\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_NAME = re.compile(r"\b(?:[A-Z][a-z]+(?:[\s-](?:of|the|de|von|van)?\s?[A-Z][a-z]+)*)\b")
_SYMMETRIC_GAP = re.compile(r"^\W*(and|or|,|with|&|nor|versus|vs\.?)?\W*$", re.I)
_CLAUSE = re.compile(r",\s+(?:which|who|whose|where|while|although|though|and|but|as)\b")
_PAREN = re.compile(r"\s*\([^()]{1,80}\)")
_LEADING = {
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "It",
    "This",
    "That",
    "These",
    "Those",
    "He",
    "She",
    "They",
    "We",
    "By",
    "For",
    "As",
    "After",
    "Before",
    "During",
    "Since",
}


def _case_like(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def negate(sentence: str) -> str | None:
    """Removes the sentence's first negation, else adds "not" after its first auxiliary."""
    contracted = _CONTRACTED.search(sentence)
    if contracted:
        return sentence[: contracted.start()] + contracted.group(1) + sentence[contracted.end() :]
    negated = _NEGATED.search(sentence)
    if negated:
        return sentence[: negated.start()] + negated.group(1) + sentence[negated.end() :]
    aux = _AUX.search(sentence)
    if aux:
        return sentence[: aux.end()] + " not" + sentence[aux.end() :]
    return None


def antonym(sentence: str, rng: random.Random) -> str | None:
    matches = list(_ANTONYM_RE.finditer(sentence))
    if not matches:
        return None
    m = rng.choice(matches)
    word = m.group(0)
    return sentence[: m.start()] + _case_like(_ANTONYM[word.lower()], word) + sentence[m.end() :]


def swap_numbers(sentence: str, rng: random.Random) -> str | None:
    matches = list(_NUMBER.finditer(sentence))
    if not matches:
        return None
    m = rng.choice(matches)
    text = m.group(0)
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    i = rng.choice(digits[-2:])  # change a low digit: 1887 -> 1897, 12 -> 15
    new = str((int(text[i]) + rng.randint(1, 8)) % 10)
    changed = text[:i] + new + text[i + 1 :]
    if changed == text or (changed[0] == "0" and len(changed) > 1):
        return None
    return sentence[: m.start()] + changed + sentence[m.end() :]


def swap_roles(sentence: str) -> str | None:
    """Swaps the first two different names that a relation joins ("Acme bought Brightline"
    -> "Brightline bought Acme"); not names joined by "and", a comma or "with"."""
    names = _names(sentence)
    for a, b in itertools.pairwise(names):
        if a.group(0) == b.group(0) or _SYMMETRIC_GAP.match(sentence[a.end() : b.start()]):
            continue
        return (
            sentence[: a.start()]
            + b.group(0)
            + sentence[a.end() : b.start()]
            + a.group(0)
            + sentence[b.end() :]
        )
    return None


def _names(text: str) -> list[re.Match[str]]:
    """Capitalised runs that are not a sentence's first word."""
    return [
        m
        for m in _NAME.finditer(text)
        if m.group(0) not in _LEADING
        and m.start() > 0
        and text[: m.start()].rstrip()[-1:] not in ".!?\n"
    ]


def swap_name(sentence: str, others: list[str], rng: random.Random) -> str | None:
    """Replaces a name with another name of the same article."""
    names = _names(sentence)
    if not names or not others:
        return None
    m = rng.choice(names)
    choices = [o for o in others if o != m.group(0) and o not in sentence]
    if not choices:
        return None
    return sentence[: m.start()] + rng.choice(choices) + sentence[m.end() :]


def names_of(text: str) -> list[str]:
    return [m.group(0) for m in _names(text)]


def shorten(sentence: str) -> str | None:
    """The sentence without a parenthesis or its trailing clause: what it says, less."""
    without = _PAREN.sub("", sentence)
    if without != sentence and len(without.split()) >= 5:
        return without
    clause = _CLAUSE.search(sentence)
    if clause and len(sentence[: clause.start()].split()) >= 6:
        return sentence[: clause.start()].rstrip() + "."
    return None
