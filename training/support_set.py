"""The support model's training examples: (quote, claim) -> supported / contradicted /
not enough information.

- SNLI dev+test (entailment / contradiction / neutral), BEGIN dev (a dialogue response
  "fully attributable" to its knowledge snippet is supported, the rest not enough info),
  WiCE claim dev (a Wikipedia claim against the sentences of the page it cites; partially
  supported counts as not enough info) and WiCE's token-task train split (all partially
  supported);
- DocNLI's binary MNLI (ten genres) and 8,000 of its FEVER-NLI pairs: entailed is
  supported, not entailed "contradicted or not enough info" (docnli_examples);
- BoolQ and PubMedQA yes/no questions turned into the statements they ask about, against
  their passage (question_examples);
- made from sentences of SQuAD training articles and PubMedQA abstracts (training.augment):
  the sentence with a clause dropped (supported), quoted with its neighbour (supported),
  negated / an antonym / roles swapped / a number changed (contradicted), another sentence
  of the same paragraph or a name of the article swapped in (not enough info).
"""

from __future__ import annotations

import random
from collections import Counter

from answer.models import SUPPORT_LABELS
from answer.text import sentence_spans
from training import augment
from training.data import DATA, SETS, Example, read_jsonl, squad

SUPPORTED, CONTRADICTED, NEI, NOT_SUPPORTED = range(4)  # NOT_SUPPORTED: contradicted or NEI
FEVER_SAMPLE = 8000  # of DocNLI's 18,209 FEVER pairs (Wikipedia, like SNLI and WiCE)
assert SUPPORT_LABELS == ("supported", "contradicted", "not_enough_info")
_SNLI = {"entailment": SUPPORTED, "contradiction": CONTRADICTED, "neutral": NEI}


def wice_evidence(row: dict) -> str:  # type: ignore[type-arg]
    """The sentences marked as (partly) supporting, else the three sharing most words."""
    sentences = row["evidence"]
    marked = sorted({i for group in row.get("supporting_sentences") or [] for i in group})
    if not marked:
        words = set(row["claim"].lower().split())
        overlap = [
            (len(words & set(s.lower().split())), i)
            for i, s in enumerate(sentences)
            if not s.startswith("(meta data)")
        ]
        marked = sorted(i for _, i in sorted(overlap, reverse=True)[:3])
    return " ".join(sentences[i] for i in marked if i < len(sentences))


def real_examples() -> list[Example]:
    out: list[Example] = []
    for split in ("dev", "test"):
        for row in read_jsonl(DATA / "train" / "snli_esnli" / f"{split}.jsonl"):
            if row["label"] in _SNLI:
                out.append(Example(row["premise"], row["hypothesis"], _SNLI[row["label"]], "snli"))
    for row in read_jsonl(DATA / "train" / "begin" / "dev.jsonl"):
        label = SUPPORTED if row["label"] == "Fully attributable" else NEI
        example = Example(row["knowledge"], row["response"], label, "begin")
        out.extend([example, example])  # small and in-domain: seen twice per epoch
    for row in read_jsonl(DATA / "train" / "wice" / "claim_dev.jsonl"):
        label = SUPPORTED if row["label"] == "supported" else NEI
        example = Example(wice_evidence(row), row["claim"], label, "wice")
        out.extend([example, example, example])
    for row in read_jsonl(DATA / "train" / "wice" / "nonsupported_tokens_train.jsonl"):
        out.append(Example(wice_evidence(row), row["claim"], NEI, "wice_tokens"))
    return out


def docnli_examples(seed: int) -> list[Example]:
    """DocNLI's binary MNLI (ten genres: speech, letters, fiction, reports...) and a sample of
    its FEVER-NLI: entailed is supported, not entailed is "contradicted or not enough info"
    (NOT_SUPPORTED; training.loop's loss reads it as 1 - P(supported))."""
    rng = random.Random(seed)
    out: list[Example] = []
    folder = SETS / "docnli_binary"
    for name, sample in (("mnli", None), ("fever", FEVER_SAMPLE)):
        rows = [
            r for split in ("dev", "test") for r in read_jsonl(folder / f"{name}_{split}.jsonl.gz")
        ]
        if sample is not None:
            rows = rng.sample(rows, min(sample, len(rows)))
        for row in rows:
            label = SUPPORTED if row["label"] == "entailment" else NOT_SUPPORTED
            out.append(Example(row["premise"], row["hypothesis"], label, f"docnli_{name}"))
    return out


def source_paragraphs() -> list[tuple[list[str], list[str]]]:
    """(sentences, names of the article) of SQuAD training paragraphs and PubMedQA
    abstracts."""
    out: list[tuple[list[str], list[str]]] = []
    seen: set[str] = set()
    for question in squad("v1.1", "train") + squad("v2", "train"):
        paragraph = question.paragraph
        if paragraph.context in seen:
            continue
        seen.add(paragraph.context)
        sentences = [paragraph.context[s:e] for s, e in paragraph.sentences]
        out.append((sentences, augment.names_of(paragraph.context)))
    for split in ("train_dev", "test"):
        for row in read_jsonl(DATA / "train" / "pubmedqa_labeled" / f"{split}.jsonl"):
            text = " ".join(row["contexts"])
            sentences = [text[s:e] for s, e in sentence_spans(text)]
            out.append((sentences, augment.names_of(text)))
    return out


PER_PARAGRAPH = 3  # sentences of each paragraph to make examples from


def made_examples(seed: int) -> list[Example]:
    """Hard examples from real sentences. Every sentence that allows a role swap or an
    antonym gets one, so that a claim sharing all its words with the quote is as often
    contradicted as supported and word overlap alone decides nothing."""
    rng = random.Random(seed)
    out: list[Example] = []
    for sentences, names in source_paragraphs():
        usable = [i for i, s in enumerate(sentences) if 6 <= len(s.split()) <= 60]
        for i in rng.sample(usable, min(PER_PARAGRAPH, len(usable))):
            quote = sentences[i]
            made: list[tuple[str | None, int, str]] = [
                (augment.shorten(quote), SUPPORTED, "made_shorter"),
                (augment.antonym(quote, rng), CONTRADICTED, "made_antonym"),
                (augment.swap_roles(quote), CONTRADICTED, "made_roles"),
            ]
            roll = rng.random()
            if roll < 0.4:
                made.append((augment.negate(quote), CONTRADICTED, "made_negation"))
            elif roll < 0.6:
                made.append((augment.swap_numbers(quote, rng), CONTRADICTED, "made_number"))
            elif roll < 0.8:
                made.append((augment.swap_name(quote, names, rng), NEI, "made_name"))
            others = [s for j, s in enumerate(sentences) if j != i and len(s.split()) >= 6]
            if others and rng.random() < 0.4:
                made.append((rng.choice(others), NEI, "made_other_sentence"))
            if rng.random() < 0.3:
                made.append((quote, SUPPORTED, "made_same"))
            for claim, label, source in made:
                if claim is None or (claim == quote and label != SUPPORTED):
                    continue
                out.append(Example(quote, claim, label, source))
            if i + 1 < len(sentences) and rng.random() < 0.3:
                # the quote runs on past the claim: still supported
                claim = augment.shorten(quote) or quote
                out.append(Example(f"{quote} {sentences[i + 1]}", claim, SUPPORTED, "made_longer"))
    return out


DO = {"do", "does", "did"}
MOVED = set(augment.AUXILIARIES) - DO  # auxiliaries a question moves to its front
_PREDICATE = set(
    [
        "a",
        "likely",
        "an",
        "not",
        "more",
        "less",
        "still",
        "also",
        "always",
        "never",
        "only",
        "better",
        "worse",
        "same",
        "different",
        "part",
        "able",
        "allowed",
        "legal",
        "illegal",
        "possible",
        "necessary",
        "true",
        "real",
        "safe",
        "effective",
        "associated",
        "related",
        "linked",
        "common",
        "rare",
        "available",
        "used",
        "called",
        "known",
        "considered",
        "required",
        "higher",
        "lower",
        "greater",
        "larger",
        "smaller",
        "in",
        "on",
        "at",
        "based",
        "made",
        "going",
    ]
)
_OPENERS = {"of", "and", "in", "on", "for", "with", "to", "from", "by"}


def _participle(word: str) -> bool:
    return len(word) > 4 and (word.endswith("ing") or (word.endswith("ed") and word[-3] != "e"))


def question_claim(question: str) -> str | None:
    """A yes/no question as the statement it asks about ("Is the sea of Galilee a lake?"
    -> "The sea of Galilee is a lake."); None when it does not start with an auxiliary."""
    words = question.strip().rstrip("?").split()
    if len(words) < 3:
        return None
    aux, rest = words[0].lower(), words[1:]
    if aux in DO:
        body = rest
    elif aux in MOVED:
        if rest[0].lower() == "there":
            body = ["there", aux, *rest[1:]]
        else:
            at = next(
                (
                    j
                    for j in range(1, len(rest))
                    if rest[j].lower() in _PREDICATE
                    or _participle(rest[j].lower())
                    or (rest[j].lower() == "the" and rest[j - 1].lower() not in _OPENERS)
                ),
                None,
            )
            if at is None:
                return None
            body = [*rest[:at], aux, *rest[at:]]
    else:
        return None
    text = " ".join(body)
    return text[:1].upper() + text[1:] + "."


def question_examples() -> list[Example]:
    """BoolQ and PubMedQA: the statement a yes/no question asks about, against the passage
    that answers it: yes is supported, no contradicted (and the statement negated is then
    supported: "not" alone decides nothing), PubMedQA's maybe is not enough info."""
    out: list[Example] = []
    items: list[tuple[str, str, str, str]] = []  # (evidence, question, yes/no/maybe, source)
    for row in read_jsonl(DATA / "train" / "boolq" / "dev.jsonl"):
        items.append((row["passage"], row["question"], "yes" if row["answer"] else "no", "boolq"))
    for split in ("train_dev", "test"):
        for row in read_jsonl(DATA / "train" / "pubmedqa_labeled" / f"{split}.jsonl"):
            labels = row.get("context_labels") or []
            results = [
                c for c, lab in zip(row["contexts"], labels, strict=False) if "RESULT" in lab
            ]
            evidence = " ".join(results or row["contexts"])
            items.append((evidence, row["question"], row["final_decision"], "pubmedqa"))
    for evidence, question, decision, source in items:
        claim = question_claim(question)
        if claim is None:
            continue
        label = {"yes": SUPPORTED, "no": CONTRADICTED}.get(decision, NEI)
        out.append(Example(evidence, claim, label, f"{source}_claims"))
        negated = augment.negate(claim) if label != NEI else None
        if negated is not None:
            flipped = CONTRADICTED if label == SUPPORTED else SUPPORTED
            out.append(Example(evidence, negated, flipped, f"{source}_claims_negated"))
    return out


EXTRA: tuple[str, ...] = ()  # sets measured but not in the shipped mix (docs/models.md)


def examples(seed: int, extra: tuple[str, ...] = ()) -> list[Example]:
    return real_examples() + docnli_examples(seed) + made_examples(seed) + question_examples()


def describe(items: list[Example]) -> dict[str, int]:
    names = (*SUPPORT_LABELS, "not_supported")
    return dict(Counter(f"{e.source}:{names[e.label]}" for e in items))
