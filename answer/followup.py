"""A conversation's last question -> a standalone question, for retrieval and answering.

"When was it founded?" after "What is the Port of Kelling?" cannot be searched alone. With
a language model configured (generative mode), the model rewrites it from the
conversation. Otherwise, and whenever the model's rewrite is unusable, a rule does: a
short question that leans on the conversation (a pronoun such as "it" or "they", or an
opening such as "and", "what about") gets, in parentheses, the names in the assistant's
last reply and the topic words of the previous standalone question that it lacks: "Where
did he train?" after "Who is the head baker?" / "Tomasz Wilk [1]." becomes "Where did he
train? (Tomasz Wilk head baker)". Both retrieval and the extractive scorer read words, so
the added topic is what they need.

Deliberately not done: rewriting assistant answers into the question (only user turns are
read by the rule), resolving which of several earlier topics a pronoun means.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from answer.llm import ChatClient
from index import CitedError
from index.lexical import STOP_WORDS

log = logging.getLogger(__name__)

MAX_FOLLOW_UP_WORDS = 14
MAX_TOPIC_TERMS = 8
MAX_NAMES = 4
_REFERS = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|him|his|she|her|hers|"
    r"there|then|one|ones|same|such|former|latter)\b",
    re.IGNORECASE,
)
_LEADS = re.compile(
    r"^\s*(and|but|also|so|or|what about|how about|what else|why not|and what|and how)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'-]+")
_QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
)

REWRITE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the "
    "conversation: replace pronouns and references with what they refer to. Do not answer "
    "it. Reply with the rewritten question only, on one line."
)


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


def leans_on_context(question: str) -> bool:
    words = _WORD.findall(question)
    return len(words) <= MAX_FOLLOW_UP_WORDS and bool(
        _REFERS.search(question) or _LEADS.match(question)
    )


def _topic_terms(question: str) -> list[str]:
    """Content words of a question, in order, without question words and stop words."""
    seen: dict[str, str] = {}
    for word in _WORD.findall(question):
        low = word.lower().strip("'-")
        if (
            low
            and low not in STOP_WORDS
            and low not in _QUESTION_WORDS
            and low not in seen
            and not _REFERS.fullmatch(low)
        ):
            seen[low] = word
    return list(seen.values())


def _names(answer: str) -> list[str]:
    """Capitalised words of an assistant's reply (who or what a pronoun most likely means)."""
    words = _WORD.findall(re.sub(r"\[\d+\]", " ", answer))
    return [w for w in words if w[:1].isupper() and w.lower() not in STOP_WORDS][:MAX_NAMES]


def condense(question: str, history: Sequence[Turn]) -> str:
    """`question` made standalone by the rule above; unchanged when it needs nothing."""
    previous: str | None = None  # the previous user question, made standalone
    reply = ""  # the assistant's reply to it
    for turn in history:
        if turn.role == "user" and turn.text.strip():
            previous = turn.text if previous is None else _with_topic(turn.text, previous, reply)
            reply = ""
        elif turn.role == "assistant":
            reply = turn.text
    if previous is None:
        return question
    return _with_topic(question, previous, reply)


def _with_topic(question: str, previous: str, reply: str) -> str:
    if not leans_on_context(question):
        return question
    have = {w.lower() for w in _WORD.findall(question)}
    missing: dict[str, str] = {}
    for term in _names(reply) + _topic_terms(previous):
        if term.lower() not in have and term.lower() not in missing:
            missing[term.lower()] = term
    if not missing:
        return question
    return f"{question.rstrip()} ({' '.join(list(missing.values())[:MAX_TOPIC_TERMS])})"


def rewrite(client: ChatClient, question: str, history: Sequence[Turn]) -> str:
    """The language model's standalone form of `question`; the rule's when the model fails
    or answers with something that is not one question."""
    fallback = condense(question, history)
    if not any(t.role == "user" for t in history) or not leans_on_context(question):
        return question
    lines = [f"{t.role}: {t.text.strip()}" for t in history[-8:]] + [f"user: {question}"]
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
