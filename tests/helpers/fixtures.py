"""The types of the shared fixtures (tests/conftest.py and module fixtures), for annotations."""

from __future__ import annotations

import subprocess
from pathlib import Path

from index import KnowledgeBase

AnswerKb = tuple[KnowledgeBase, Path, Path]  # answer_kb: knowledge base, data dir, corpus folder
CliCorpus = tuple[Path, Path, "subprocess.CompletedProcess[str]"]  # test_cli's corpus
