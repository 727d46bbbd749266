"""Question -> verified answer: retrieve, draft (extractive or generative), verify.

`stream()` yields the events of one answer (passages, text deltas, the final verified
answer) for the API's server-sent events; `ask()` returns just the final answer.
Both modes end in the same verification (answer.verify), so the contract's invariants do
not depend on which mode drafted the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

from answer.extractive import ExtractiveAnswerer
from answer.followup import Turn, condense, rewrite
from answer.generative import build_messages, corrective_message, says_no_answer
from answer.llm import ChatClient
from answer.support import SupportChecker
from answer.text import parse_claims, with_markers
from answer.types import (
    ANSWER_MODES,
    Answer,
    AnswerMode,
    DeltaEvent,
    Event,
    FinalEvent,
    PassagesEvent,
    ReasonCode,
)
from answer.verify import Verified, abstention, verify
from index import ConfigError, Scope
from retrieve import Passage, Retriever

log = logging.getLogger(__name__)

# Cosine by which a follow-up's rewrite may retrieve less well than the question alone and
# still be kept: on bench/conversations.py, 0 dropped two good rewrites (78% -> 76% of
# follow-ups answered) and kept no standalone question better; 0.08 lost one more.
REWRITE_MARGIN = 0.03


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class QuestionAnswerer:
    def __init__(
        self,
        retriever: Retriever,
        checker: SupportChecker,
        extractive: ExtractiveAnswerer,
        llm: ChatClient | None = None,
        *,
        mode: AnswerMode = "extractive",
        top_k: int = 5,
        min_relevance: float = 0.1,
        retry_unverified: bool = True,
        max_sentences: int = 3,
    ) -> None:
        if mode not in ANSWER_MODES:
            raise ConfigError(
                f"CITED_ANSWER_MODE must be one of {', '.join(ANSWER_MODES)}, got {mode!r}"
            )
        if mode == "generative" and llm is None:
            raise ConfigError(_NO_LLM)
        self.retriever = retriever
        self.checker = checker
        self.extractive = extractive
        self.llm = llm
        self.mode: AnswerMode = mode
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.retry_unverified = retry_unverified
        self.max_sentences = max_sentences

    def warm_up(self) -> None:
        """Load the reading models now (checksums checked), not on the first question."""
        _ = self.extractive.model.loaded, self.checker.model.loaded

    @property
    def models_loaded(self) -> bool:
        return self.extractive.model.is_loaded and self.checker.model.is_loaded

    def close(self) -> None:
        """Release the language model clients' connections (the answers', the judge's)."""
        if self.llm is not None:
            self.llm.close()
        if self.checker.judge is not None:
            self.checker.judge.client.close()

    def standalone(
        self,
        question: str,
        history: Sequence[Turn],
        mode: AnswerMode | None = None,
        scope: Scope | None = None,
    ) -> str:
        """The conversation's last question made standalone (answer.followup): by the
        language model in generative mode, by rule otherwise. A rewrite is dropped when
        its best passage (within `scope`) is clearly less close to it than the question's
        own best passage is to the question (by REWRITE_MARGIN), so a question that needed
        nothing is not made worse."""
        if (mode or self.mode) == "generative" and self.llm is not None:
            rewritten = rewrite(self.llm, question, history)
        else:
            rewritten = condense(question, history)
        if rewritten == question:
            return question
        alone = self._best_similarity(question, scope)
        helped = self._best_similarity(rewritten, scope)
        if helped <= alone - REWRITE_MARGIN:
            log.info(
                "follow-up rewrite dropped: it retrieves no better question=%r rewrite=%r "
                "similarity=%.3f/%.3f",
                question,
                rewritten,
                alone,
                helped,
            )
            return question
        return rewritten

    def _best_similarity(self, query: str, scope: Scope | None) -> float:
        passages = self.retriever.retrieve(query, self.top_k, scope=scope).passages
        return max((p.similarity for p in passages), default=-1.0)

    def ask(
        self,
        question: str,
        *,
        mode: AnswerMode | None = None,
        top_k: int | None = None,
        scope: Scope | None = None,
    ) -> Answer:
        for event in self.stream(question, mode=mode, top_k=top_k, scope=scope):
            if isinstance(event, FinalEvent):
                return event.answer
        raise AssertionError("an answer stream always ends with a final event")

    def stream(
        self,
        question: str,
        *,
        mode: AnswerMode | None = None,
        top_k: int | None = None,
        scope: Scope | None = None,
    ) -> Iterator[Event]:
        mode = mode or self.mode
        if mode not in ANSWER_MODES:
            raise ConfigError(f"answer mode must be one of {', '.join(ANSWER_MODES)}, got {mode!r}")
        if mode == "generative" and self.llm is None:
            raise ConfigError(_NO_LLM)
        started = time.perf_counter()
        retrieval = self.retriever.retrieve(question, top_k or self.top_k, scope=scope)
        timings = {"retrieve": _ms(started)}
        passages = retrieval.passages
        yield PassagesEvent(passages)
        model = (
            self.llm.model
            if mode == "generative" and self.llm
            else self.extractive.model.display_name
        )
        relevant = [p for p in passages if p.similarity >= self.min_relevance]
        if not relevant:
            reason = (
                "no passage matched the question"
                if not passages
                else "no retrieved passage is related to the question "
                f"(best similarity {max(p.similarity for p in passages):.2f})"
            )
            code: ReasonCode = "unrelated" if passages else "no_passages"
            timings["total"] = _ms(started)
            yield FinalEvent(abstention(question, reason, code, mode, model, timings))
            return
        if mode == "extractive":
            step = time.perf_counter()
            extract = self.extractive.extract(question, passages)
            timings["generate"] = _ms(step)
            if extract.reason:
                timings["total"] = _ms(started)
                yield FinalEvent(
                    abstention(question, extract.reason, "not_answered", mode, model, timings)
                )
                return
            yield DeltaEvent(" ".join(with_markers(c.text, c.cited) for c in extract.claims))
            step = time.perf_counter()
            verified = verify(question, extract.claims, passages, self.checker, mode, model)
        else:
            yield from self._generate(question, passages, timings, model, started)
            return
        timings["verify"] = _ms(step)
        timings["total"] = _ms(started)
        yield FinalEvent(_with_timings(verified.answer, timings))

    def _generate(
        self,
        question: str,
        passages: tuple[Passage, ...],
        timings: dict[str, float],
        model: str,
        started: float,
    ) -> Iterator[Event]:
        assert self.llm is not None
        messages = build_messages(question, passages, self.max_sentences)
        step = time.perf_counter()
        parts: list[str] = []
        for piece in self.llm.stream(messages):
            parts.append(piece)
            yield DeltaEvent(piece)
        reply = "".join(parts)
        timings["generate"] = _ms(step)
        step = time.perf_counter()
        verified = self._verify_reply(question, reply, passages, model)
        if verified.answer.abstained and verified.rejected and self.retry_unverified:
            log.info("answer could not be verified, asking the model once more")
            retry = [
                *messages,
                {"role": "assistant", "content": reply},
                corrective_message(
                    [f"{r.claim!r}: {r.reason}" for r in verified.rejected], len(passages)
                ),
            ]
            again = self.llm.complete(retry)
            verified = self._verify_reply(question, again, passages, model)
        timings["verify"] = _ms(step)
        timings["total"] = _ms(started)
        yield FinalEvent(_with_timings(verified.answer, timings))

    def _verify_reply(
        self,
        question: str,
        reply: str,
        passages: tuple[Passage, ...],
        model: str,
    ) -> Verified:
        if not reply.strip():
            return Verified(
                abstention(
                    question,
                    "the language model returned an empty reply",
                    "not_answered",
                    "generative",
                    model,
                    {},
                ),
                (),
            )
        if says_no_answer(reply):
            return Verified(
                abstention(
                    question,
                    "the language model found no answer in the retrieved passages",
                    "not_answered",
                    "generative",
                    model,
                    {},
                ),
                (),
            )
        return verify(question, parse_claims(reply), passages, self.checker, "generative", model)


def _with_timings(answer: Answer, timings: dict[str, float]) -> Answer:
    return replace(answer, timings_ms=dict(timings))


_NO_LLM = (
    "generative answers need a language model server: set CITED_LLM_BASE_URL "
    "(e.g. http://localhost:11434/v1 for Ollama) and CITED_LLM_MODEL, or use --mode extractive"
)
