"""The types of the shared fixtures (tests/conftest.py and module fixtures), for annotations."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from answer import PairScorer
from index import KnowledgeBase

AnswerKb = tuple[KnowledgeBase, Path, Path]  # answer_kb: knowledge base, data dir, corpus folder


@dataclass(frozen=True)
class Readers:
    """The shipped reading models, loaded once per session (the `readers` fixture)."""

    answer: PairScorer
    support: PairScorer


CliCorpus = tuple[Path, Path, "subprocess.CompletedProcess[str]"]  # test_cli's corpus
