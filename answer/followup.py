"""A conversation's last question -> a standalone question, for retrieval and answering.

"When was it founded?" after "What is the Port of Kelling?" cannot be searched alone. With
a language model configured (generative mode), the model rewrites it from the
conversation. Otherwise, and whenever the model's rewrite is unusable, a rule does.

Only a question that refers back is rewritten: a pronoun ("it", "their", "this"; not "IT"
or "US", which are names), an opening that continues the conversation ("and", "what
about", "how about"), or a question of three words or fewer ("And on Saturdays?"). Its
referent is the last *answered* exchange: a turn the assistant declined is skipped, so its
words are never carried into later questions. Then:

- an ellipsis that names another of something the last question asked about takes its
  place: "And the other parent?" after "How many weeks of leave does the birth parent
  get?" becomes "How many weeks of leave does the other parent get?";
- anything else gets, in parentheses, the names in the assistant's last answer and the
  topic words of the last answered question that it lacks: "Where did he train?" after
  "Who is the head baker?" / "Tomasz Wilk [1]." becomes "Where did he train? (Tomasz Wilk
  head baker)". Both retrieval and the extractive scorer read words, so the added topic is
  what they need.

A rewrite is a guess, so the caller keeps it only when it retrieves better than the
question alone (QuestionAnswerer.standalone): a standalone question that merely contains a
pronoun is never made worse. Deliberately not done: rewriting assistant answers into the
question, resolving which of several earlier topics a pronoun means.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from answer.llm import ChatClient
from answer.types import NO_ANSWER
from index import CitedError
from index.lexical import STOP_WORDS

log = logging.getLogger(__name__)

MAX_FOLLOW_UP_WORDS = 14
SHORT_QUESTION_WORDS = 3  # this short, a question leans on the conversation
MAX_TOPIC_TERMS = 8
MAX_NAMES = 4
PRONOUNS = frozenset(
    [
        "it",
        "its",
        "it's",
        "itself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "this",
        "that",
        "these",
        "those",
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "former",
        "latter",
    ]
)
_LEADS = re.compile(
    r"^\s*(and|but|also|so|or|what about|how about|what else|what if|and what|and how)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'-]+")
_QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
    | {"what's", "who's", "where's", "when's", "how's", "which's"}
)
PERSONS = frozenset(["he", "him", "his", "she", "her", "hers"])  # these mean a name
MIN_OWN_TERMS = 2  # a question with fewer topic words of its own lends its rewrite's too
_PREPOSITIONS = frozenset(["in", "on", "at", "for", "during", "from", "to", "with", "by"])
_DETERMINERS = frozenset(
    ["the", "a", "an", "my", "our", "your", "their", "his", "her", "its", "this", "that"]
)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n)([\w'-]+)")

REWRITE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the "
    "conversation: replace pronouns and references with what they refer to. Do not answer "
    "it. Reply with the rewritten question only, on one line."
)


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


def _is_pronoun(word: str) -> bool:
    """A pronoun, not a name spelled like one ("IT", "US" are departments, countries)."""
    return word.lower() in PRONOUNS and not (len(word) > 1 and word.isupper())


_EXISTS = frozenset(["is", "are", "was", "were", "be", "been", "will"])
_ONE_AFTER = frozenset(["new", "other", "another", "old", "the", "that", "this", "which", "same"])


def _refers(words: list[str], i: int) -> bool:
    """Whether words[i] points back: a pronoun; "there" as a place ("in there", not "is
    there" or "there are"); "one" standing for a thing ("a new one", not "one of")."""
    word, low = words[i], words[i].lower()
    before = words[i - 1].lower() if i else ""
    after = words[i + 1].lower() if i + 1 < len(words) else ""
    if low == "there":
        return before not in _EXISTS and after not in _EXISTS
    if low in ("one", "ones"):
        return before in _ONE_AFTER and after != "of"
    return _is_pronoun(word)


def leans_on_context(question: str) -> bool:
    """Whether the question refers back to the conversation (see the module docstring)."""
    words = _WORD.findall(question)
    if not words or len(words) > MAX_FOLLOW_UP_WORDS:
        return False
    return (
        any(_refers(words, i) for i in range(len(words)))
        or bool(_LEADS.match(question))
        or len(words) <= SHORT_QUESTION_WORDS
    )


def declined(reply: str) -> bool:
    """An assistant turn that said the documents do not answer (or said nothing)."""
    return not reply.strip() or reply.strip().startswith(NO_ANSWER)


_HOW = re.compile(r"\bhow\s+(long|much|many|often|far|old|soon)\b", re.IGNORECASE)


def _topic_terms(question: str) -> list[str]:
    """Content words of a question, in order, without question words ("how long" too) and
    stop words."""
    seen: dict[str, str] = {}
    for word in _WORD.findall(_HOW.sub(" ", question)):
        low = word.lower().strip("'-")
        if (
            low
            and low not in STOP_WORDS
            and low not in _QUESTION_WORDS
            and low not in seen
            and not _is_pronoun(word)
        ):
            seen[low] = word
    return list(seen.values())


def _names(answer: str) -> list[str]:
    """Capitalised words of an assistant's reply (who or what a pronoun most likely means),
    leaving out a sentence's first word when the next is in lower case ("Only staff with
    a licence ..."), capitalised only for starting it."""
    text = re.sub(r"\[\d+\]", " ", answer)
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    words = list(_WORD.finditer(text))
    names = []
    for i, match in enumerate(words):
        word = match.group()
        if not word[:1].isupper() or word.lower() in STOP_WORDS:
            continue
        following = words[i + 1].group() if i + 1 < len(words) else ""
        if match.start() in starts and not following[:1].isupper():
            continue
        names.append(word)
    return list(dict.fromkeys(names))[:MAX_NAMES]


def _answered(history: Sequence[Turn]) -> list[tuple[str, str]]:
    """(user question, the assistant's reply) of each exchange the assistant answered; a
    question without a reply (a client that sends user turns only) counts as answered."""
    exchanges: list[tuple[str, str | None]] = []
    for turn in history:
        if turn.role == "user" and turn.text.strip():
            exchanges.append((turn.text, None))
        elif turn.role == "assistant" and exchanges and exchanges[-1][1] is None:
            exchanges[-1] = (exchanges[-1][0], turn.text)
    return [(q, r or "") for q, r in exchanges if r is None or not declined(r)]


def condense(question: str, history: Sequence[Turn]) -> str:
    """`question` made standalone by the rule above; unchanged when it needs nothing."""
    previous: str | None = None  # the last answered question, made standalone
    reply = ""  # the assistant's reply to it
    for asked, answered in _answered(history):
        previous = asked if previous is None else _with_topic(asked, previous, reply)
        reply = answered
    if previous is None:
        return question
    return _with_topic(question, previous, reply)


def _with_topic(question: str, previous: str, reply: str) -> str:
    if not leans_on_context(question):
        return question
    for ellipsis in (_replace_like, _continue_with):
        replaced = ellipsis(question, previous)
        if replaced is not None:
            return replaced
    have = {w.lower() for w in _WORD.findall(question)}
    # Who a "he" or "she" is, the answer names; what an "it" or "they" is, the question
    # asked about (the names in an answer about it are other things: places, teams).
    names = _names(reply) if any(w.lower() in PERSONS for w in _WORD.findall(question)) else []
    missing: dict[str, str] = {}
    for term in names + _previous_topic(previous):
        if term.lower() not in have and term.lower() not in missing:
            missing[term.lower()] = term
    if not missing:
        return question
    return f"{question.rstrip()} ({' '.join(list(missing.values())[:MAX_TOPIC_TERMS])})"


def _previous_topic(previous: str) -> list[str]:
    """The topic words of the last question, as asked; those its own rewrite added (in
    parentheses) only when it had too few of its own: the most recent topic wins."""
    asked, _, added = previous.partition(" (")
    own = _topic_terms(asked)
    return own if len(own) >= MIN_OWN_TERMS else own + _topic_terms(added)


def _body(question: str) -> list[str] | None:
    """The words of an ellipsis after its opening ("and", "what about"): a short phrase
    with no question word and no pronoun; None for anything else."""
    words = _LEADS.sub("", question).strip().rstrip("?").strip().split()
    if not words or len(words) > 4:
        return None
    if any(w.lower() in _QUESTION_WORDS or _is_pronoun(w) for w in words):
        return None
    return words


def _continue_with(question: str, previous: str) -> str | None:
    """ "And in Hamburg?" / "And on Saturdays?" after a question: that question with the
    phrase in place of its own phrase of the same preposition, or added to it; "what
    about contractors?": the last question, then this one, so both are read together."""
    if not _LEADS.match(question):
        return None
    words = _body(question)
    if words is None:
        return None
    asked = previous.partition(" (")[0].rstrip().rstrip("?").rstrip()
    if words[0].lower() not in _PREPOSITIONS:
        return f"{asked}? {question.strip()}"
    tokens = asked.split()
    for i, token in enumerate(tokens):
        if token.lower() == words[0].lower():
            end = i + 1
            while end < len(tokens) and tokens[end].lower() not in _PREPOSITIONS:
                end += 1
            return " ".join([*tokens[:i], *words, *tokens[end:]]) + "?"
    return f"{asked} {' '.join(words)}?"


def _replace_like(question: str, previous: str) -> str | None:
    """ "And the other parent?" after a question about "the birth parent": the previous
    question with that phrase replaced; None when the follow-up is not such an ellipsis."""
    words = _body(question)
    if words is None or words[0].lower() in _PREPOSITIONS:
        return None
    body = " ".join(words)
    head = words[-1].lower()
    asked = previous.split(" (")[0].rstrip().rstrip("?")
    tokens = asked.split()
    replacement = body if words[0].lower() in _DETERMINERS else f"the {body}"
    lowered = [t.lower().strip(",.;:") for t in tokens]
    first = words[0].lower()
    named = len(words) > 1 and first not in _DETERMINERS and first in lowered
    if named and lowered.index(first) >= len(tokens) - 4:
        # "and refunds under 500?" after "who approves refunds above €5,000?"
        at = lowered.index(first)
        if " ".join(tokens[at:]).lower() != body.lower():
            return " ".join([*tokens[:at], body]) + "?"
    for end in range(len(tokens) - 1, -1, -1):
        if tokens[end].lower().strip(",.;:") != head:
            continue
        start = end
        while start > 0 and tokens[start - 1].lower() not in _DETERMINERS and end - start < 3:
            start -= 1
        if start > 0 and tokens[start - 1].lower() in _DETERMINERS:
            start -= 1
        if " ".join(tokens[start : end + 1]).lower() == replacement.lower():
            return None  # the same thing asked again
        return " ".join([*tokens[:start], replacement, *tokens[end + 1 :]]) + "?"
    return None


def rewrite(client: ChatClient, question: str, history: Sequence[Turn]) -> str:
    """The language model's standalone form of `question`; the rule's when the model fails
    or answers with something that is not one question."""
    fallback = condense(question, history)
    if not any(t.role == "user" for t in history) or not leans_on_context(question):
        return question
    kept = [t for t in history if t.role == "user" or not declined(t.text)]
    lines = [f"{t.role}: {t.text.strip()}" for t in kept[-8:]] + [f"user: {question}"]
    messages = [
        {"role": "system", "content": REWRITE_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]
    try:
        reply = client.complete(messages).strip().strip('"')
    except CitedError as exc:
        log.warning("follow-up rewrite failed, using the rule reason=%s", exc.message)
        return fallback
    if not reply or "\n" in reply or len(reply) > 4 * max(len(question), 100):
        return fallback
    return reply
