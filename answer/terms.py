"""The numbers and names of a claim, and whether a text holds them as a reader would.

The support check's gate (answer.support) refuses a claim whose numbers or names its
passage does not hold, and one whose two names the passage relates the other way round.
What counts as the same, as a reader reads it:

- typography: curly and straight apostrophes, "CO2" / "CO 2", "SHP-2" / "SHP2";
- an acronym and the capitalised words it abbreviates ("UK" / "United Kingdom"), and an
  acronym spelled by the first letters of a word's parts ("IFN" / "interferon");
- a number in words and in digits ("three" / "3", "once" / "1", "a hundred" / "100"),
  thousands separators ("1,200" / "1200");
- a Greek letter and its name or Latin letter ("interferon-" with a gamma / "IFN-gamma",
  "NF-" kappa "B" / "NF-kB");
- "X (Y)" in a claim, a term and its abbreviation: either will do.

What a claim needs less of than it writes: a hyphenated derivation needs only its name
("Aire-expressing" needs "Aire", "Saudi-led" needs "Saudi"); a lone capital letter ("T
cells", "vitamin D") and the digits inside a name ("YAP1") are not terms of their own;
the claim's first word is not a name (every sentence starts with a capital).

Deliberately not done: units ("5 km" / "5,000 m"), dates written differently ("1 May" /
"May 1st" hold the same terms and pass; "5/1" does not), genus abbreviations ("C.
elegans"): a claim that needs these is refused, and says which term it missed.
"""

from __future__ import annotations

import re

from index.lexical import STOP_WORDS

# Not inside a name ("YAP1", "SHP-2": the name carries it) nor a decade ("1990s").
_NUMBER = re.compile(r"(?<![A-Za-z\d])(?<![A-Za-z]-)\d+(?:[.,:/]\d+)*(?![A-Za-z\d])")
_NAME = re.compile(r"\b[A-Z][\w'’-]*|\b\w*[A-Z]\w*")
_TOKEN = re.compile(r"\w+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_GREEK_NAMES_IN_ORDER = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "sigma", "tau", "upsilon",
    "phi", "chi", "psi", "omega",
]  # fmt: skip  # U+03B1 alpha ... U+03C9 omega (U+03C2 is the final sigma)
GREEK = {chr(0x3B1 + i): name for i, name in enumerate(_GREEK_NAMES_IN_ORDER)}
_GREEK_NAMES = str.maketrans({**GREEK, **{k.upper(): v for k, v in GREEK.items()}})
_GREEK_LETTERS = str.maketrans({k: v[0] for k, v in GREEK.items()})  # "κB" as written "kB"
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "once": 1, "twice": 2, "thrice": 3,
    "dozen": 12, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORD = re.compile(
    r"\b(?:(?:a|" + "|".join(_UNITS) + r")(?:[\s-]+(?:" + "|".join(_UNITS) + r"))?)"
    r"(?:\s+(?:" + "|".join(_SCALES) + r"))?\b|\b(?:" + "|".join(_SCALES) + r")\b",
    re.IGNORECASE,
)
_DERIVED = re.compile(r"^(.+?)-[a-z][a-z-]*$")  # "Aire-expressing" -> "Aire"
_ABBREVIATED = re.compile(r"([A-Z][\w'’-]*(?:\s+[\w'’-]+){0,4})\s+\(([^()]{1,20})\)")


_ONCE_A_NUMBER = re.compile(r"\s*(?:[.,;:!?)]|$|(?:in|a|per|every|more|again|before)\b)")
_ALONE = frozenset(["once", "twice", "thrice", "first", "second", "third", "fourth", "fifth",
                    "sixth", "seventh", "eighth", "ninth", "tenth"])  # fmt: skip


def _word_value(words: str) -> int | None:
    """The value of a number in words ("three", "twenty-one", "a hundred", "two
    thousand"), or None for anything else ("a second", "first three")."""
    parts = re.split(r"[\s-]+", words.lower())
    if any(p in _ALONE for p in parts):
        return _UNITS[parts[0]] if len(parts) == 1 else None
    if parts[0] == "a":
        if len(parts) != 2 or not (parts[1] in _SCALES or parts[1] == "dozen"):
            return None
        parts = parts[1:]
    total, scale = 0, 1
    for part in parts:
        if part in _UNITS:
            total += _UNITS[part]
        elif part in _SCALES:
            scale = _SCALES[part]
        else:
            return None
    return (total or 1) * scale


# Alone in a claim, these are rarely quantities ("one of the causes", "the first time",
# "a second"): a claim's number words count without them; a passage's count with them.
_LOOSE = frozenset([
    "zero", "one", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
    "eighth", "ninth", "tenth",
])  # fmt: skip


def numbers(text: str, claim: bool = False) -> set[str]:
    """The numbers of a text, in digits: those written in digits (not inside a name such
    as "YAP1") and those written in words (in a `claim`, not "one" or an ordinal alone)."""
    found = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}
    for match in _NUMBER_WORD.finditer(text):
        if claim and match.group(0).lower() in _LOOSE:
            continue
        if (
            claim
            and match.group(0).lower() == "once"
            and not _ONCE_A_NUMBER.match(text, match.end())
        ):
            continue  # "once DNA has been replicated": when, not how often
        value = _word_value(match.group(0))
        if value is not None:
            found.add(str(value))
    return found


def key_terms(claim: str) -> tuple[set[str], set[str]]:
    """(numbers, names) a supporting passage must hold. Names: capitalised words or words
    with a capital inside (iPhone), except the claim's first word, "I" and lone capitals;
    a hyphenated derivation ("Aire-expressing") as its name."""
    first = re.match(r"\W*\w+", claim)
    rest = claim[first.end() :] if first else claim
    names = set()
    for word in _NAME.findall(rest):
        word = word.strip("'’-")
        derived = _DERIVED.match(word)
        if derived and derived.group(1)[:1].isupper():
            word = derived.group(1)
        if len(word) > 1 and not word.isdigit():
            names.add(word)
    # Number words are numbers here, not names ("Three" starting a clause).
    names = {n for n in names if _word_value(n) is None}
    return numbers(claim, claim=True), names


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.translate(_APOSTROPHES).translate(_GREEK_NAMES).lower())


def spellings(text: str) -> set[str]:
    """Each run of one to three words of `text`, written without the spaces and
    punctuation between them ("CO 2" -> "co2", "SHP-2" -> "shp2", "Hollow's" -> "hollows"
    and "hollow"), with Greek letters as their names and as their Latin letters ("NF-kB"
    with a kappa -> "nfkappab", "nfkb"), plus the initials of runs of capitalised words ("United
    Kingdom" -> "uk")."""
    out: set[str] = set()
    for variant in {text, text.translate(_GREEK_LETTERS)}:
        tokens = _tokens(variant)
        out |= {"".join(tokens[i : i + n]) for n in (1, 2, 3) for i in range(len(tokens))}
    for run in re.findall(r"(?:\b[A-Z][a-z]+(?:\s+(?:of|the|and|for)\s+|\s+)?){2,}", text):
        words = [w for w in run.split() if w[:1].isupper()]
        out.add("".join(w[0] for w in words).lower())
    return out


def _squashed(name: str) -> set[str]:
    return {"".join(_tokens(name)), "".join(_tokens(name.translate(_GREEK_LETTERS)))}


def _held(name: str, claim: str, text: str, held: set[str], words: set[str]) -> bool:
    for squashed in _squashed(name):
        if squashed in held or squashed.removesuffix("s") in held:
            return True
        if len(squashed) >= 5 and any(squashed in word for word in words):
            return True  # "Tech Crunch" / "TechCrunch"
    return _abbreviated(name, claim, held) or _acronym_of(name, words) or _genus(name, claim, text)


def _genus(name: str, claim: str, text: str) -> bool:
    """True when the text abbreviates `name` as its initial before the same next word of
    the claim ("Escherichia coli" / "E. coli")."""
    following = re.search(rf"\b{re.escape(name)}\s+([a-z][\w-]+)", claim)
    if following is None:
        return False
    return (
        re.search(rf"\b{re.escape(name[0])}\.\s*{re.escape(following.group(1))}\b", text)
        is not None
    )


def _alternatives(claim: str) -> dict[str, set[str]]:
    """For "Apolipoprotein E4 (APOE4)": each side's names -> the other side's names (a
    claim may give a term and its abbreviation; a passage holding either holds it)."""
    pairs: dict[str, set[str]] = {}
    for match in _ABBREVIATED.finditer(claim):
        left = set(_NAME.findall(match.group(1)))
        right = set(_NAME.findall(match.group(2)))
        for name in left:
            pairs.setdefault(name.strip("'’-"), set()).update(right)
        for name in right:
            pairs.setdefault(name.strip("'’-"), set()).update(left)
    return pairs


def missing_terms(claim: str, text: str) -> list[str]:
    """Numbers and names of `claim` that `text` does not hold (see the module docstring)."""
    claim_numbers, names = key_terms(claim)
    missing = sorted(claim_numbers - numbers(text))
    held = spellings(text)
    words = set(_tokens(text))
    alternatives = _alternatives(claim)
    absent = {n for n in names if not _held(n, claim, text, held, words)}
    for name in sorted(absent):
        others = alternatives.get(name, set())
        if others and any(o not in absent and _held(o, claim, text, held, words) for o in others):
            continue
        missing.append(name)
    return missing


def _acronym_of(name: str, words: set[str]) -> bool:
    """True when `name` is an acronym of three or more capitals whose letters a word of
    the text holds in order, starting with its first ("IFN" in "interferon")."""
    if not (3 <= len(name) <= 6 and name.isalpha() and name.isupper()):
        return False
    letters = name.lower()
    for word in words:
        if len(word) < len(letters) + 3 or word[0] != letters[0]:
            continue
        at = 0
        for letter in letters[1:]:
            at = word.find(letter, at + 1)
            if at < 0:
                break
        else:
            return True
    return False


_CAPITALISED = re.compile(r"\b[A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)*")
MAX_RELATION = 8  # words between two names that can make a relation
_SYMMETRIC = {"and", "or", "nor", "with", "versus", "vs", "plus", "between", "the", "both"}


def swapped_roles(claim: str, quote: str) -> str | None:
    """The two names of `claim` that `quote` relates the other way round ("Brightline
    bought Acme" against "Acme bought Brightline"; "from York to Leeds" against "from Leeds
    to York"), as "A ... B", or None. Only the same words between the two names count, so a
    paraphrase ("Brightline was bought by Acme") is left to the support model."""
    said = " " + " ".join(_tokens(quote)) + " "
    names: list[str] = []
    for match in _CAPITALISED.finditer(claim):
        words = _tokens(match.group(0))
        while words and words[0] in STOP_WORDS:  # "The Leeds office" -> "leeds"
            words = words[1:]
        if words[-1:] == ["s"] and match.group(0)[-2:-1] in "'\u2019":
            words = words[:-1]  # "Acme's" -> "acme"
        name = " ".join(words)
        if name and f" {name} " in said:
            names.append(name)
    claim_words = " " + " ".join(_tokens(claim)) + " "
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if first == second or first in second or second in first:
                continue
            start = claim_words.find(f" {first} ")
            end = claim_words.find(f" {second} ", start + len(first) + 1)
            if start < 0 or end < 0:
                continue
            between = claim_words[start + len(first) + 2 : end].strip()
            if not between or len(between.split()) > MAX_RELATION:
                continue
            if set(between.split()) <= _SYMMETRIC:  # "Paris and London": either way round
                continue
            swapped = f" {second} {between} {first} "
            if swapped in said and f" {first} {between} {second} " not in said:
                return f"{second} {between} {first}"
    return None


def _abbreviated(name: str, claim: str, quote_spellings: set[str]) -> bool:
    """True when `name` is one word of a capitalised run of the claim ("United Kingdom")
    whose initials the quote has ("UK")."""
    for run in re.finditer(r"(?:\b[A-Z][a-z]+(?:\s+(?:of|the|and|for)\s+|\s+)?){2,}", claim):
        words = [w for w in run.group(0).split() if w[:1].isupper()]
        if name in words and "".join(w[0] for w in words).lower() in quote_spellings:
            return True
    return False


def words_of(text: str) -> set[str]:
    """The lower-case words of a text, typography aside (what quotes are ranked by)."""
    return set(_tokens(text))
