"""Make unstructured work with no network: call `prepare()` before importing unstructured.

unstructured reaches the network by itself: a telemetry ping at import and at every
partition() (switched off by DO_NOT_TRACK / SCARF_NO_ANALYTICS, which a self-hosted server
always sets, whatever the user's environment says), and a download + pip install of the spaCy
model en_core_web_sm the first time it classifies text. There is no setting for the latter,
so its loader is replaced by a blank English pipeline with a rule-based sentencizer. The cost
is weaker element classification (short paragraphs come out as "Title"); the chunker
therefore treats titles as preferred break points, never as forced ones.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

OFFLINE_ENV = {
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}
DEFAULT_OFFLINE_ENV = {
    # The user may opt in to the model hub with HF_HUB_OFFLINE=0.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_environment() -> None:
    """Environment for this process and the processes it starts (idempotent)."""
    os.environ.update(OFFLINE_ENV)
    for key, value in DEFAULT_OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@lru_cache(maxsize=1)
def _blank_english() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


@lru_cache(maxsize=1)
def prepare() -> None:
    """Set the environment, then import unstructured with its spaCy loader made offline."""
    set_environment()
    import unstructured.nlp.tokenize as tokenize

    tokenize._get_nlp = _blank_english
