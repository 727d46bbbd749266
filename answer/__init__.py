"""Question + passages -> cited answer (extractive or generative), then verified."""

from answer.extractive import ExtractiveAnswerer
from answer.followup import Turn, condense
from answer.judge import SupportJudge
from answer.llm import ChatClient
from answer.models import PairScorer
from answer.service import QuestionAnswerer
from answer.support import SupportChecker, looks_like_instruction
from answer.text import Claim, parse_claims, sentence_spans
from answer.types import (
    ANSWER_MODES,
    NO_ANSWER,
    REASON_CODES,
    Answer,
    AnswerMode,
    AnswerSentence,
    Citation,
    DeltaEvent,
    Event,
    FinalEvent,
    PassagesEvent,
    ReasonCode,
)

__all__ = [
    "ANSWER_MODES",
    "NO_ANSWER",
    "REASON_CODES",
    "Answer",
    "AnswerMode",
    "AnswerSentence",
    "ChatClient",
    "Citation",
    "Claim",
    "DeltaEvent",
    "Event",
    "ExtractiveAnswerer",
    "FinalEvent",
    "PairScorer",
    "PassagesEvent",
    "QuestionAnswerer",
    "ReasonCode",
    "SupportChecker",
    "SupportJudge",
    "Turn",
    "condense",
    "looks_like_instruction",
    "parse_claims",
    "sentence_spans",
]
