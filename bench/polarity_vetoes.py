"""Would a lexical veto tell contradictions from support? For each labelled claim/evidence
pair of the support sets (training.evaluate.support_sets), two rules a gate could apply:

- polarity: a negation cue in exactly one of claim and evidence;
- antonym: a claim word absent from the evidence whose antonym (the training edits' list,
  training.augment.ANTONYMS, or a de-/un-/in-/dis-/non- prefix) is in the evidence.

Printed per set and label: how often each rule fires. A veto is worth building only if it
fires far more on contradicted pairs than on supported ones (docs/models.md: it does not).

    .venv/bin/python bench/polarity_vetoes.py
"""

from __future__ import annotations

import re

from training.augment import ANTONYMS
from training.evaluate import support_sets

NEGATION = re.compile(
    r"\b(not|no|never|none|neither|nor|without|cannot|fails?|failed|lack|lacks|lacked|"
    r"absence|absent|unable)\b|n't\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")
PREFIXES = ("de", "un", "in", "dis", "non", "anti", "im", "ir", "il")
OPPOSITE: dict[str, set[str]] = {}
for a, b in ANTONYMS:
    OPPOSITE.setdefault(a, set()).add(b)
    OPPOSITE.setdefault(b, set()).add(a)


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def antonym(claim: str, evidence: str) -> bool:
    said, quoted = words(claim), words(evidence)
    for word in said - quoted:
        if any(o in quoted and o not in said for o in OPPOSITE.get(word, ())):
            return True
        for p in PREFIXES:
            if word.startswith(p) and len(word) - len(p) >= 4 and word[len(p) :] in quoted:
                return True
            if p + word in quoted and p + word not in said:
                return True
    return False


def polarity(claim: str, evidence: str) -> bool:
    return bool(NEGATION.search(claim)) != bool(NEGATION.search(evidence))


def main() -> None:
    for name, rows in support_sets().items():
        for label in ("supported", "contradicted", "not_enough_info"):
            pairs = [(e, c) for e, c, lab in rows if lab == label]
            if not pairs:
                continue
            a = sum(antonym(c, e) for e, c in pairs) / len(pairs)
            p = sum(polarity(c, e) for e, c in pairs) / len(pairs)
            print(f"{name:8} {label:16} {len(pairs):5}  antonym {a:6.1%}  polarity {p:6.1%}")


if __name__ == "__main__":
    main()
