"""Parser processes: a deadline and a memory cap per file, and no process outlives its pool."""

from __future__ import annotations

import time
from concurrent.futures import Future
from pathlib import Path

import psutil
import pytest

from index import SentenceTransformerEmbedder
from ingest.chunking import Chunked, Chunker, Chunking
from ingest.parsing import Element, ParsedFile, parse_file
from ingest.workers import ParseFailure, ParseLimits, ParserPool
from tests.files import make_docx_bomb, write_stalling_files

pytestmark = pytest.mark.slow


def parser_children() -> list[psutil.Process]:
    """This process's parser workers (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_file_past_the_deadline_fails_with_the_setting_and_the_next_file_parses(
    tmp_path: Path,
) -> None:
    stalling = write_stalling_files(tmp_path)
    good = tmp_path / "good.md"
    good.write_text("# Harbour\n\nThe ferry leaves at nine.\n")
    with ParserPool(1, ParseLimits(timeout_s=2)) as pool:
        started = time.monotonic()
        hung = pool.submit(str(stalling["brackets.md"]), "markdown").result(timeout=60)
        waited = time.monotonic() - started
        after = pool.submit(str(good), "markdown").result(timeout=60)
    assert isinstance(hung, ParseFailure)
    assert "2 s" in hung.reason and "CITED_PARSE_TIMEOUT_S" in hung.reason
    assert waited < 30  # the worker was killed at the deadline, not waited for
    assert isinstance(after, ParsedFile) and "ferry leaves at nine" in after.text


def test_a_file_past_the_memory_cap_fails_with_the_setting(tmp_path: Path) -> None:
    bomb = make_docx_bomb(tmp_path / "bomb.docx", paragraphs=3_000_000)  # 300 KB -> 105 MB XML
    good = tmp_path / "good.txt"
    good.write_text("The lighthouse was painted red in 1911.\n")
    with ParserPool(1, ParseLimits(timeout_s=120, memory_bytes=2048 * 2**20)) as pool:
        result = pool.submit(str(bomb), "docx").result(timeout=180)
        after = pool.submit(str(good), "text").result(timeout=60)
    assert isinstance(result, ParseFailure)
    assert "2048 MB" in result.reason and "CITED_PARSE_MEMORY_MB" in result.reason
    assert isinstance(after, ParsedFile) and "1911" in after.text


def test_a_parser_that_dies_fails_its_own_file_only(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("The tram depot closes at midnight.\n")
    with ParserPool(2, ParseLimits(timeout_s=60)) as pool:
        first = pool.submit(str(good), "text")
        assert isinstance(first.result(timeout=60), ParsedFile)
        (worker,) = parser_children()
        slow = pool.submit(str(write_stalling_files(tmp_path)["brackets.md"]), "markdown")
        time.sleep(1)  # the stalling file went to the idle worker
        worker.kill()
        died = slow.result(timeout=60)
        after = pool.submit(str(good), "text").result(timeout=60)
    assert isinstance(died, ParseFailure) and "died" in died.reason and "SIGKILL" in died.reason
    assert isinstance(after, ParsedFile)


def test_close_stops_every_worker_and_fails_what_was_waiting(tmp_path: Path) -> None:
    stalling = write_stalling_files(tmp_path)
    pool = ParserPool(2, ParseLimits(timeout_s=600))
    futures = [pool.submit(str(stalling["brackets.md"]), "markdown") for _ in range(3)]
    time.sleep(2)
    assert len(parser_children()) == 2
    pool.close()
    assert parser_children() == []
    outcomes = [f.result(timeout=1) if not f.cancelled() else None for f in futures]
    assert all(o is None or isinstance(o, ParseFailure) for o in outcomes)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(str(stalling["brackets.md"]), "markdown")


def test_limits_refuse_values_that_cannot_work() -> None:
    with pytest.raises(ValueError, match="deadline"):
        ParseLimits(timeout_s=0)
    with pytest.raises(ValueError, match="256 MB"):
        ParseLimits(memory_bytes=100 * 2**20)


def test_parsers_chunk_what_they_parse_with_a_chunking_sent_after_they_start(
    tmp_path: Path,
) -> None:
    """The chunking (the torch tokenizer, which travels as its Rust tokenizer) may come
    after the workers started; files wait for it, then come back chunked, and a file over
    the chunk cap fails in the parser with the setting named."""
    model = SentenceTransformerEmbedder()
    good = tmp_path / "good.txt"
    good.write_text("The tram depot closes at midnight.\n\nTrams leave every ten minutes.\n")
    long = tmp_path / "long.txt"
    long.write_text("The tram depot closes at midnight and opens again at five. " * 400)
    chunking: Future[Chunking] = Future()
    with ParserPool(1, ParseLimits(timeout_s=60), chunking) as pool:
        first = pool.submit(str(good), "text")
        over = pool.submit(str(long), "text")
        time.sleep(1)
        assert not first.done()  # no file is given out before the chunking is known
        chunking.set_result(Chunking(model.tokenizer, 64, 0, max_chunks=20))
        chunked = first.result(timeout=120)
        refused = over.result(timeout=60)
    assert isinstance(chunked, Chunked) and chunked.parsed.elements == ()
    expected = Chunker(model.tokenizer, 64, 0).chunk(*_parsed(good))
    assert chunked.chunks == expected
    assert isinstance(refused, ParseFailure)
    assert "over the limit of 20 chunks per file (CITED_MAX_CHUNKS_PER_FILE)" in refused.reason


def _parsed(path: Path) -> tuple[str, tuple[Element, ...]]:
    parsed = parse_file(str(path), "text")
    return parsed.text, parsed.elements
