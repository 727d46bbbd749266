"""The browser tests' corpus: the answer tests' documents (tests/corpus.py), plus a PDF
whose fact is on page 2, a document whose text carries HTML and script, and one whose
text has characters outside the Basic Multilingual Plane before the quoted sentence (a
JavaScript string counts them twice: the highlight must not drift)."""

from __future__ import annotations

from pathlib import Path

from tests.corpus import write_corpus
from tests.files import make_pdf

PAYLOAD = "window.__pwned = true"
MARKUP = f"""Release notes <img src=x onerror="{PAYLOAD}"> for the staging server

The staging server restarts every Sunday at 03:00 <script>{PAYLOAD}</script> for patching.
Release checklists are signed by Oona Lindahl <b onmouseover="{PAYLOAD}">before</b> deployment.
"""
EMOJI = """Harvest festival programme

The 🎃 lantern walk starts at dusk; the 🍎 apple press opens at ten.
The 🥧 pie contest is judged by Marta Kowalczyk, the 🏆 winner gets a copper ladle.
"""
PDF_PAGES = [
    ["Otter survey of the Tarn valley", "Fieldwork ran from March to October."],
    ["The Tarn valley survey counted 214 otters along the river."],
]

# question -> a phrase of the quote that answers it
WEB_QUESTIONS = {
    "How long is the rye sourdough fermented?": "36 hours",
    "When does the staging server restart?": "every Sunday at 03:00",
    "Who judges the pie contest?": "Marta Kowalczyk",
    "How many otters did the Tarn valley survey count?": "214 otters",
}


def write_web_corpus(folder: Path) -> Path:
    write_corpus(folder)
    (folder / "release-notes.txt").write_text(MARKUP, encoding="utf-8")
    (folder / "festival.txt").write_text(EMOJI, encoding="utf-8")
    (folder / "otters.pdf").write_bytes(make_pdf(PDF_PAGES, title="Otter survey"))
    return folder
