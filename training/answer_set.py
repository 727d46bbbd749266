"""The answer model's training examples: (question, sentence [SEP] the sentence before it)
-> does the sentence answer the question?

- SQuAD v1.1 and 2.0 training articles (training.data: split by article): the sentence
  holding the gold answer is a positive; the other sentences of the paragraph sharing most
  words with the question are negatives (the hard ones: same topic, same words, no answer);
  every sentence offered for an unanswerable SQuAD 2.0 question is a negative;
- SelQA test (its dev set is held out for evaluation): the marked sentences against the
  others of the same section;
- yes/no questions, which SQuAD lacks: BoolQ (the passage sentence sharing most words with
  the question is taken as its answer, a weak label; two sentences sharing fewest are
  negatives) and PubMedQA (the abstract's conclusion answers its question; its first,
  background sentence does not);
- made negatives: the question itself as a candidate, and the article's title (a document
  restating the question or its heading does not answer it);
- made unanswerable questions, as SQuAD 2.0's writers made theirs (Rajpurkar et al. 2018:
  entity swap, antonym, negation, a changed number): half of the answerable training
  questions are edited so that the paragraph no longer answers them ("When was the Hollow
  Bridge rebuilt?" -> "When was the Elm Street bridge rebuilt?"), and the sentence that
  answered the original is a negative for the edit. Only the answer sentence changes
  label, so the model learns to check the question's particulars, not the topic. The edit
  is dropped when its new word occurs anywhere in the paragraph (it might answer it);
- question headings of permissively licensed documentation and podcast/meeting
  transcripts (../shared/data/train/doc_faq: "## Why does curl not fail when the cable is
  unplugged?" and the text under it): the section's first sentence answers (and the second
  too when the first is a short lead-in); the sentences of other sections of the same page
  sharing most words with the question, and one at random, do not. Pages whose bucket is
  FAQ_HELD_OUT or more are held out for evaluation (training.evaluate);
- related paragraphs: a question against the sentences sharing most words with it in
  another paragraph of the same article that does not hold its answer (a related but not
  answering passage, the commonest wrong answer of the first model).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator

from answer.extractive import answer_pair as candidate_text
from answer.text import normalize_space, sentence_spans
from training import augment
from training.data import (
    DATA,
    SETS,
    Example,
    Question,
    answer_sentence_ids,
    bucket,
    read_jsonl,
    selqa,
    squad,
)

HARD_NEGATIVES = 3
_WORD = re.compile(r"\w+")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "as",
    ]
)


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def hardest(question: str, sentences: list[str], ids: list[int], n: int) -> list[int]:
    wanted = words(question)
    return sorted(ids, key=lambda i: (-len(wanted & words(sentences[i])), i))[:n]


def squad_examples(questions: list[Question], rng: random.Random, source: str) -> list[Example]:
    out: list[Example] = []
    for q in questions:
        paragraph = q.paragraph
        sentences = [paragraph.context[s:e] for s, e in paragraph.sentences]
        positives = answer_sentence_ids(q)
        if not q.impossible and not positives:
            continue
        others = [i for i in range(len(sentences)) if i not in positives]
        for i in sorted(positives):
            out.append(Example(q.text, candidate_text(sentences, i), 1, source))
        count = HARD_NEGATIVES + (1 if q.impossible else 0)
        for i in hardest(q.text, sentences, others, count):
            out.append(Example(q.text, candidate_text(sentences, i), 0, source))
        roll = rng.random()
        if roll < 0.05:
            out.append(Example(q.text, q.text, 0, "made_question"))
        elif roll < 0.10:
            out.append(Example(q.text, paragraph.title.replace("_", " "), 0, "made_title"))
    return out


def selqa_examples(rng: random.Random) -> list[Example]:
    out: list[Example] = []
    for row in selqa("test"):
        sentences = row["candidates"]
        positives = set(row["answers"])
        others = [i for i in range(len(sentences)) if i not in positives]
        for i in sorted(positives):
            out.append(Example(row["question"], candidate_text(sentences, i), 1, "selqa"))
        picked = hardest(row["question"], sentences, others, 2)
        rest = [i for i in others if i not in picked]
        picked += rng.sample(rest, min(2, len(rest)))
        for i in picked:
            out.append(Example(row["question"], candidate_text(sentences, i), 0, "selqa"))
    return out


def yes_no_examples() -> list[Example]:
    out: list[Example] = []
    for row in read_jsonl(DATA / "train" / "boolq" / "dev.jsonl"):
        passage = row["passage"]
        sentences = [passage[s:e] for s, e in sentence_spans(passage)]
        if len(sentences) < 3:
            continue
        question = row["question"].rstrip("?") + "?"
        question = question[:1].upper() + question[1:]
        order = hardest(question, sentences, list(range(len(sentences))), len(sentences))
        out.append(Example(question, candidate_text(sentences, order[0]), 1, "boolq"))
        for i in order[-2:]:
            out.append(Example(question, candidate_text(sentences, i), 0, "boolq"))
    for split in ("train_dev", "test"):
        for row in read_jsonl(DATA / "train" / "pubmedqa_labeled" / f"{split}.jsonl"):
            context = " ".join(row["contexts"])
            first = next(iter(sentence_spans(context)), None)
            out.append(Example(row["question"], row["long_answer"], 1, "pubmedqa"))
            if first is not None:
                out.append(Example(row["question"], context[first[0] : first[1]], 0, "pubmedqa"))
    return out


FAQ = DATA / "train" / "doc_faq" / "faq.jsonl"  # not in ../shared/data now: see faq_pages
FAQ_HELD_OUT = 85  # page buckets [85, 100) are held out
FAQ_REPEAT = 2  # small and in the users' domain: seen twice per epoch


def faq_pages(held_out: bool) -> list[dict]:  # type: ignore[type-arg]
    if not FAQ.exists():
        raise FileNotFoundError(
            f"{FAQ} is missing: doc_faq was converted into ../shared/data, which is read-only "
            "and rebuilt from its own sources, and its converter went with it; the set is "
            "measured, not shipped (docs/models.md). Rebuild it under training/sets/ to use "
            "--extra faq"
        )
    return [
        row
        for row in read_jsonl(FAQ)
        if (bucket(f"{row['repo']}/{row['path']}") >= FAQ_HELD_OUT) == held_out
    ]


def sentences_of(text: str) -> list[str]:
    return [normalize_space(text[s:e]) for s, e in sentence_spans(text)]


def faq_answers(row: dict) -> tuple[list[str], set[int]]:  # type: ignore[type-arg]
    """The section's sentences and which of them answer its question heading."""
    sentences = sentences_of(row["answer"])
    answers = {0}
    if len(sentences) > 1 and (len(sentences[0].split()) < 8 or sentences[0].endswith(":")):
        answers.add(1)
    return sentences, answers


def faq_examples(rng: random.Random) -> list[Example]:
    out: list[Example] = []
    for row in faq_pages(held_out=False):
        question = row["question"]
        sentences, answers = faq_answers(row)
        if not sentences:
            continue
        made = [Example(question, candidate_text(sentences, i), 1, "faq") for i in sorted(answers)]
        elsewhere = [t for other in row["others"] for t in sentences_of(other)]
        elsewhere = [t for t in elsewhere if len(t.split()) >= 4]
        ids = list(range(len(elsewhere)))
        picked = hardest(question, elsewhere, ids, 2)
        rest = [i for i in ids if i not in picked]
        picked += rng.sample(rest, min(1, len(rest)))
        made += [Example(question, elsewhere[i], 0, "faq") for i in picked]
        out += made * FAQ_REPEAT
    return out


FRIENDS_HELD_OUT = 70  # episode buckets [70, 100) are held out: 5 of 17 episodes
FRIENDS_NEGATIVES = 3  # hard (most words shared), and one at random
FRIENDS_REPEAT = 2  # small and the only dialogue: seen twice per epoch


def friends_scenes(held_out: bool) -> list[dict]:  # type: ignore[type-arg]
    return [
        row
        for row in read_jsonl(SETS / "friendsqa" / "friendsqa.jsonl")
        if (bucket(row["episode"]) >= FRIENDS_HELD_OUT) == held_out
    ]


def friends_questions(row: dict) -> Iterator[tuple[str, list[str], set[int], set[int]]]:  # type: ignore[type-arg]
    """Each question of a scene with the scene's sentences, the ones holding its first
    answer, and the ones holding any annotator's answer (never negatives). A question
    answered by who spoke (the speaker's name) is left out: no sentence states it."""
    text = row["text"]
    spans = sentence_spans(text)
    sentences = [normalize_space(text[s:e]) for s, e in spans]

    def holding(start: int, end: int) -> set[int]:
        return {i for i, (s, e) in enumerate(spans) if s < end and start < e}

    for qa in row["questions"]:
        first = qa["answers"][0]
        if text[first[1] : first[1] + 2] == ": " and "\n" not in text[first[0] : first[1]]:
            continue  # the answer is the speaker's name
        positives = holding(*first)
        anywhere = set().union(*(holding(s, e) for s, e in qa["answers"]))
        if positives:
            yield qa["question"], sentences, positives, anywhere


def friends_examples(rng: random.Random) -> list[Example]:
    """Questions written about dialogue (FriendsQA): the sentence holding the answer
    against the scene's other lines; conversational text and questions in the readers'
    own words, which SQuAD's lack."""
    out: list[Example] = []
    for row in friends_scenes(held_out=False):
        for question, sentences, positives, anywhere in friends_questions(row):
            made = [
                Example(question, candidate_text(sentences, i), 1, "friendsqa")
                for i in sorted(positives)
            ]
            others = [
                i
                for i in range(len(sentences))
                if i not in anywhere and len(sentences[i].split()) >= 4
            ]
            picked = hardest(question, sentences, others, FRIENDS_NEGATIVES)
            rest = [i for i in others if i not in picked]
            picked += rng.sample(rest, min(1, len(rest)))
            made += [
                Example(question, candidate_text(sentences, i), 0, "friendsqa") for i in picked
            ]
            out += made
    return out * FRIENDS_REPEAT


MADE_UNANSWERABLE = 0.5  # share of answerable training questions given an edited twin
RELATED = 0.3  # share of them read against a related paragraph of the same article
_NEGATION = re.compile(r"\b(not|never|no|n't|without)\b", re.IGNORECASE)


def unanswerable_twin(question: Question, others: list[str], rng: random.Random) -> str | None:
    """The question edited so that its paragraph no longer answers it, or None."""
    context = question.paragraph.context
    edits = ["name", "number", "antonym", "negation"]
    rng.shuffle(edits)
    for edit in edits:
        if edit == "name":
            fresh = [o for o in others if o not in context]
            made = augment.swap_name(question.text, fresh, rng)
        elif edit == "number":
            made = augment.swap_numbers(question.text, rng)
        elif edit == "antonym":
            made = augment.antonym(question.text, rng)
        else:
            made = augment.negate(question.text) if not _NEGATION.search(context) else None
        if made is None or made == question.text:
            continue
        new = words(made) - words(question.text)
        if new and new & words(context):
            continue  # the paragraph mentions the new word: it may well answer the edit
        return made
    return None


def made_unanswerable(questions: list[Question], rng: random.Random) -> list[Example]:
    """Edited twins of answerable questions and related-paragraph negatives."""
    by_article: dict[str, list[Question]] = {}
    for q in questions:
        by_article.setdefault(q.paragraph.title, []).append(q)
    out: list[Example] = []
    for article in by_article.values():
        paragraphs = list({q.paragraph.context: q.paragraph for q in article}.values())
        names = sorted({n for p in paragraphs for n in augment.names_of(p.context)})
        for q in article:
            positives = answer_sentence_ids(q)
            if q.impossible or not positives:
                continue
            sentences = [q.paragraph.context[s:e] for s, e in q.paragraph.sentences]
            if rng.random() < MADE_UNANSWERABLE:
                twin = unanswerable_twin(q, names, rng)
                if twin is not None:
                    for i in sorted(positives):
                        out.append(Example(twin, candidate_text(sentences, i), 0, "made_twin"))
            if rng.random() < RELATED:
                elsewhere = [
                    p
                    for p in paragraphs
                    if p.context != q.paragraph.context
                    and not any(a.lower() in p.context.lower() for a in q.answers)
                ]
                if elsewhere:
                    other = rng.choice(elsewhere)
                    texts = [other.context[s:e] for s, e in other.sentences]
                    for i in hardest(q.text, texts, list(range(len(texts))), 1):
                        out.append(Example(q.text, candidate_text(texts, i), 0, "made_related"))
    return out


EXTRA = ("faq", "friends")  # sets measured but not in the shipped mix (docs/models.md)


def examples(seed: int, extra: tuple[str, ...] = ()) -> list[Example]:
    rng = random.Random(seed)
    v1, v2 = squad("v1.1", "train"), squad("v2", "train")
    out = (
        squad_examples(v1, rng, "squad_v1.1")
        + squad_examples(v2, rng, "squad_v2")
        + made_unanswerable(v1 + v2, rng)
        + selqa_examples(rng)
        + yes_no_examples()
    )
    if "faq" in extra:
        out += faq_examples(rng)
    if "friends" in extra:
        out += friends_examples(rng)
    return out


def describe(items: list[Example]) -> dict[str, int]:
    return dict(Counter(f"{e.source}:{e.label}" for e in items))
