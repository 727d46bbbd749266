"""`Ingestor.run` over real folders: outcomes and reasons, idempotency, updates, prune, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index import KnowledgeBase, SentenceTransformerEmbedder, Store, WriterLock, WriterLockedError
from ingest import Ingestor, IngestReport, NoProgress, ParseLimits, StopRequest
from ingest.discover import Candidate
from ingest.report import FileOutcome
from tests.files import (
    make_pdf,
    make_pptx,
    write_bad_corpus,
    write_good_corpus,
    write_huge_text_files,
    write_stalling_files,
)

Run = Callable[..., IngestReport]


@pytest.fixture
def kb(
    database_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[KnowledgeBase]:
    store = Store(database_url)
    yield KnowledgeBase(store, tmp_path / "data" / "vectors.faiss", embedder.model_name)
    store.close()


@pytest.fixture
def run(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder) -> Run:
    def run_once(
        *paths: Path, prune: bool = False, reparse: bool = False, collection: str = "default"
    ) -> IngestReport:
        ingestor = Ingestor(
            kb, embedder, max_file_bytes=2 * 2**20, parse_workers=1, chunk_tokens=128
        )
        return ingestor.run(list(paths), collection, prune=prune, reparse=reparse)

    return run_once


def by_name(report: IngestReport) -> dict[str, tuple[str, str | None]]:
    return {Path(o.source).name: (o.status, o.reason) for o in report.outcomes}


def top_hit(kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, question: str) -> str:
    hits = kb.search(embedder.embed_query(question), 1)
    return hits[0].chunk.text if hits else ""


def test_bad_files_are_reported_and_good_ones_ingested(
    run: Run, kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    facts = write_good_corpus(tmp_path / "in")
    expected_failures = write_bad_corpus(tmp_path / "in" / "bad")
    more = tmp_path / "in" / "more"  # every other format, through the real parser processes
    more.mkdir()
    make_pptx(more / "deck.pptx", "Review", "Revenue grew 14 percent in Lisbon.")
    (more / "cities.csv").write_text("city,population\nTromso,77000\n")
    (more / "outage.eml").write_text(
        "From: ops@example.org\nTo: all@example.org\nSubject: Outage\n\n"
        "The backup generator in hall B starts within 9 seconds.\n"
    )
    (tmp_path / "in" / ".secret.txt").write_text("hidden")
    (tmp_path / "in" / "image.bmp").write_bytes(b"BM")

    # The same file named twice (directly and through its folder) is ingested once.
    report = run(tmp_path / "in", tmp_path / "in" / "notes.txt", tmp_path / "does-not-exist")

    outcomes = by_name(report)
    for name in facts:
        assert outcomes[name] == ("added", None)
    for name in ("latin1.txt", "deck.pptx", "cities.csv", "outage.eml"):
        assert outcomes[name] == ("added", None)
    for name, reason_word in expected_failures.items():
        status, reason = outcomes[name]
        assert status == "failed" and reason_word in (reason or ""), (name, reason)
    assert outcomes["does-not-exist"] == ("failed", "no such file or directory")
    assert outcomes[".secret.txt"] == ("skipped", "hidden")
    assert outcomes["image.bmp"][0] == "skipped" and ".bmp" in (outcomes["image.bmp"][1] or "")
    assert report.exit_code == 1
    assert [Path(o.source).name for o in report.outcomes].count("notes.txt") == 1
    summary = report.to_dict()
    assert summary["files"]["added"] == len(facts) + 4
    assert summary["files"]["failed"] == len(expected_failures) + 1
    assert summary["chunks"]["added"] == kb.store.count_chunks() > 0
    # What was ingested is whole and searchable; nothing of the bad files got in.
    assert kb.store.count_documents() == len(facts) + 4
    for fact in facts.values():
        assert fact in top_hit(kb, embedder, fact)
    vectors = kb.vectors()
    assert vectors is not None and set(vectors.ids()) == set(kb.store.chunk_ids())


def test_second_run_parses_and_embeds_nothing(run: Run, kb: KnowledgeBase, tmp_path: Path) -> None:
    write_good_corpus(tmp_path / "in")
    first = run(tmp_path / "in")
    generation = kb.store.state().generation

    second = run(tmp_path / "in")

    assert first.exit_code == second.exit_code == 0
    assert {o.status for o in second.outcomes} == {"unchanged"}
    assert second.tokens_embedded == 0 and second.timings.parse == 0 and second.timings.embed == 0
    assert kb.store.state().generation == generation


def test_reparse_reads_unchanged_files_again_in_place(
    run: Run, kb: KnowledgeBase, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ferry.md").write_text("| route | departs |\n|---|---|\n| Skye | 07:00 |\n")
    run(folder)
    [before] = kb.store.list_documents()
    old_chunks = set(kb.store.chunk_ids())

    report = run(folder, reparse=True)

    assert by_name(report) == {"ferry.md": ("updated", None)}
    [after] = kb.store.list_documents()
    assert (after.id, after.content_hash) == (before.id, before.content_hash)
    new_chunks = set(kb.store.chunk_ids())
    assert new_chunks and not new_chunks & old_chunks  # the old chunks gone, new ones in
    vectors = kb.vectors()
    assert vectors is not None and set(vectors.ids()) == new_chunks
    assert "route: Skye; departs: 07:00." in kb.document_text(after.id)


def test_changed_file_replaces_its_chunks(
    run: Run, kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    note = folder / "note.txt"
    note.write_text("The ferry to Skye leaves at seven in the morning.")
    run(folder)
    [old] = kb.store.list_documents()

    note.write_text("The ferry to Skye now leaves at nine in the evening.")
    report = run(folder)

    assert by_name(report)["note.txt"] == ("updated", None)
    assert report.chunks_removed == old.n_chunks
    [new] = kb.store.list_documents()
    assert new.id == old.id and new.content_hash != old.content_hash
    assert top_hit(kb, embedder, "when does the ferry to Skye leave?") == note.read_text()
    assert kb.store.lexical_search("seven morning", 5) == []


def test_prune_removes_documents_whose_files_are_gone(
    run: Run, kb: KnowledgeBase, tmp_path: Path
) -> None:
    write_good_corpus(tmp_path / "in")
    run(tmp_path / "in")
    (tmp_path / "in" / "notes.txt").unlink()

    without = run(tmp_path / "in")
    assert kb.store.count_documents() == 5 and "notes.txt" not in by_name(without)

    pruned = run(tmp_path / "in", prune=True)
    assert by_name(pruned)["notes.txt"][0] == "removed"
    assert sorted(Path(d.source).name for d in kb.store.list_documents()) == [
        "guide.md",
        "memo.docx",
        "page.html",
        "report.pdf",
    ]
    assert kb.store.lexical_search("lighthouse keeper Varn", 5) == []


@pytest.mark.slow
def test_unreadable_file_fails_alone(tmp_path: Path) -> None:
    """Through the real CLI. Root reads any file, so when the tests run as root the CLI runs
    without the capabilities that bypass file permissions."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.txt").write_text("Readable notes about river otters.")
    (folder / "locked.txt").write_text("Nobody may read this.")
    (folder / "locked.txt").chmod(0o000)
    command = [str(Path(sys.executable).with_name("cited")), "ingest", str(folder), "--json"]
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", "--", *command]
    env = {**os.environ, "CITED_DATA_DIR": str(tmp_path / "data")}
    env.pop("CITED_DATABASE_URL", None)
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 1, done.stderr
    outcomes = {Path(o["source"]).name: o for o in json.loads(done.stdout)["outcomes"]}
    assert outcomes["ok.txt"]["status"] == "added"
    assert outcomes["locked.txt"]["status"] == "failed"
    assert "Permission denied" in outcomes["locked.txt"]["reason"]


def test_a_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    with (
        WriterLock(tmp_path),
        pytest.raises(WriterLockedError, match=f"pid {os.getpid()}.*wait for it"),
    ):
        WriterLock(tmp_path).acquire()
    with WriterLock(tmp_path):  # released on exit, usable again
        pass


@pytest.mark.slow
def test_files_that_stall_a_parser_fail_at_the_deadline_and_the_batch_goes_on(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_stalling_files(folder)
    (folder / "ferry.md").write_text("# Ferry\n\nThe last ferry to Vigra leaves at 23:40.\n")
    ingestor = Ingestor(kb, embedder, parse_workers=2, parse_limits=ParseLimits(timeout_s=3))
    report = ingestor.run([folder], "default")
    outcomes = by_name(report)
    for name in ("brackets.md", "nested.md"):
        status, reason = outcomes[name]
        assert status == "failed" and reason is not None
        assert "3 s" in reason and "CITED_PARSE_TIMEOUT_S" in reason
    assert outcomes["ferry.md"][0] == "added"
    assert "23:40" in top_hit(kb, embedder, "When does the last ferry to Vigra leave?")


def test_a_text_with_nul_bytes_is_stored_on_every_database(
    run: Run, kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    filler = "The harbour log records calm weather on most days of the season.\n" * 150
    (folder / "log.txt").write_bytes((filler + "The crane lifts 40\x00 tonnes.\n").encode())
    (folder / "ferry.txt").write_text("The last ferry to Vigra leaves at 23:40.\n")
    report = run(folder)
    assert by_name(report) == {"log.txt": ("added", None), "ferry.txt": ("added", None)}
    (document,) = [d for d in kb.store.list_documents() if d.source.endswith("log.txt")]
    assert "The crane lifts 40 tonnes." in kb.store.document_text(document.id)


def test_a_document_the_database_refuses_fails_alone(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    names = {
        "ferry.txt": "The last ferry to Vigra leaves at 23:40.\n",
        "crane.txt": "The harbour crane lifts 40 tonnes.\n",
        "odd.txt": "A file its caller named with a lone surrogate.\n",
    }
    candidates = []
    for name, text in names.items():
        path = folder / name
        path.write_text(text)
        source = str(path) + ("\udcff" if name == "odd.txt" else "")
        candidates.append(Candidate(path, source, "text", path.stat().st_size))
    report = Ingestor(kb, embedder, parse_workers=1).run_files(candidates, "default")
    outcomes = {Path(o.source).name: (o.status, o.reason) for o in report.outcomes}
    assert outcomes["ferry.txt"] == ("added", None) and outcomes["crane.txt"] == ("added", None)
    status, reason = outcomes["odd.txt\udcff"]
    assert status == "failed" and "not valid Unicode" in (reason or ""), reason
    assert "23:40" in top_hit(kb, embedder, "When does the last ferry to Vigra leave?")
    assert len(kb.store.list_documents()) == 2


def test_content_is_judged_by_its_bytes_not_its_name(
    run: Run, kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "report.txt").write_bytes(make_pdf([["The pier opens at dawn."]]))
    (folder / "noise.eml").write_bytes(bytes(range(1, 256)) * 40)
    (folder / "tides.txt").write_bytes("Tromsø: the tide turns at 06:12.\n".encode("utf-16"))
    outcomes = by_name(run(folder))
    status, reason = outcomes["report.txt"]
    assert status == "failed" and "rename it to .pdf" in (reason or ""), reason
    status, reason = outcomes["noise.eml"]
    assert status == "failed" and "not an e-mail message" in (reason or ""), reason
    assert outcomes["tides.txt"] == ("added", None)
    assert "Tromsø: the tide turns at 06:12." in top_hit(kb, embedder, "When does the tide turn?")


FERRY = "The last ferry to Vigra leaves at 23:40.\n"


@pytest.mark.slow
def test_files_over_the_chunk_cap_fail_with_the_setting_and_the_good_file_is_added(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    huge = write_huge_text_files(folder)
    (folder / "ferry.txt").write_text(FERRY)
    report = Ingestor(kb, embedder, parse_workers=1, max_chunks=100).run([folder], "default")
    outcomes = by_name(report)
    for name in huge:
        status, reason = outcomes[name]
        assert status == "failed" and reason is not None, name
        assert "over the limit of 100 chunks per file (CITED_MAX_CHUNKS_PER_FILE)" in reason
    assert outcomes["ferry.txt"] == ("added", None)
    assert [d.source for d in kb.store.list_documents()] == [str(folder / "ferry.txt")]
    assert kb.store.count_chunks() == 1  # nothing of the refused files was kept


@pytest.mark.slow
def test_a_file_past_its_time_while_embedded_fails_and_the_batch_goes_on(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # ~600 chunks of 128 tokens: many seconds of embedding, parsed and chunked in well under 1
    line = "The harbour log records calm weather and the cranes at work on most days.\n"
    (folder / "log.txt").write_text(line * 4_000)
    (folder / "ferry.txt").write_text(FERRY)
    limits = ParseLimits(timeout_s=60, file_timeout_s=1.0)
    ingestor = Ingestor(kb, embedder, parse_workers=1, parse_limits=limits, chunk_tokens=128)
    report = ingestor.run([folder], "default")
    outcomes = by_name(report)
    status, reason = outcomes["log.txt"]
    assert status == "failed" and reason is not None
    assert "limit of 1 s per file (CITED_FILE_TIMEOUT_S), while its" in reason
    assert "chunks were embedded" in reason
    assert outcomes["ferry.txt"] == ("added", None)
    assert [d.source for d in kb.store.list_documents()] == [str(folder / "ferry.txt")]


def test_a_stop_before_the_run_reports_every_file_interrupted(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_good_corpus(folder)
    stop = StopRequest()
    stop.stop("the ingestion was stopped (SIGTERM)")
    report = Ingestor(kb, embedder, parse_workers=1, stop=stop).run([folder], "default", prune=True)
    assert report.interrupted == "the ingestion was stopped (SIGTERM)"
    assert {o.status for o in report.outcomes} == {"interrupted"}
    assert all(
        o.reason == "the ingestion was stopped (SIGTERM) before this file was stored"
        for o in report.outcomes
    )
    assert report.exit_code == 1 and "STOPPED" in report.summary()
    assert kb.store.count_documents() == 0


@pytest.mark.slow
def test_a_stop_mid_run_keeps_what_was_stored_and_the_next_run_finishes(
    kb: KnowledgeBase, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        (folder / f"log{i:02}.txt").write_text(f"Entry {i}: the crane moved {i} crates.\n" * 400)
    stop = StopRequest()

    class StopAfterTwo(NoProgress):
        """Progress that asks for a stop once two files are stored."""

        stored = 0

        def update(self, outcome: FileOutcome) -> None:
            self.stored += outcome.status == "added"
            if self.stored == 2:
                stop.stop("the ingestion was stopped (Ctrl-C)")

    ingestor = Ingestor(
        kb, embedder, parse_workers=1, commit_chunks=1, progress=StopAfterTwo(), stop=stop
    )
    report = ingestor.run([folder], "default")
    statuses = [o.status for o in report.outcomes]
    assert report.interrupted and "interrupted" in statuses and statuses.count("added") >= 2
    stored = {d.source for d in kb.store.list_documents()}
    added = {o.source for o in report.outcomes if o.status == "added"}
    assert stored == added  # every document either whole or absent
    for document in kb.store.list_documents():
        assert document.n_chunks == len(kb.store.document_chunks(document.id))
    again = Ingestor(kb, embedder, parse_workers=1).run([folder], "default")
    counts = again.counts
    assert counts["unchanged"] == len(added) and counts["added"] == 12 - len(added)
    assert kb.store.count_documents() == 12
