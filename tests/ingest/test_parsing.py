"""Each format parses offline to text with element spans; each bad file fails with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import ParseError
from ingest.parsing import file_type_of, parse_file
from tests.files import GOOD_FACTS, make_pptx, write_bad_corpus, write_good_corpus


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    write_good_corpus(folder)
    return folder


@pytest.mark.parametrize("name", sorted(GOOD_FACTS))
def test_each_format_yields_its_text_with_exact_element_spans(good: Path, name: str) -> None:
    path = good / name
    parsed = parse_file(str(path), file_type_of(path) or "")
    assert GOOD_FACTS[name] in parsed.text
    assert parsed.elements
    for element in parsed.elements:
        assert (
            parsed.text[element.start : element.end].strip()
            == parsed.text[element.start : element.end]
        )
    spans = [(e.start, e.end) for e in parsed.elements]
    assert spans == sorted(spans)


def test_titles_sections_and_pages(good: Path) -> None:
    md = parse_file(str(good / "guide.md"), "markdown")
    assert md.title == "Orchard guide"
    tools = next(e for e in md.elements if md.text[e.start : e.end] == "Shears and ladders.")
    assert tools.section == "Tools"
    pdf = parse_file(str(good / "report.pdf"), "pdf")
    assert pdf.title == "Turbine report" and pdf.metadata["pages"] == 2
    fact = next(e for e in pdf.elements if GOOD_FACTS["report.pdf"] in pdf.text[e.start : e.end])
    assert fact.page == 2
    assert parse_file(str(good / "notes.txt"), "text").title == "Island notes"


def test_pptx_and_csv(tmp_path: Path) -> None:
    make_pptx(tmp_path / "deck.pptx", "Quarterly review", "Revenue grew 14 percent in Lisbon.")
    assert (
        "Revenue grew 14 percent in Lisbon." in parse_file(str(tmp_path / "deck.pptx"), "pptx").text
    )
    (tmp_path / "t.csv").write_text("city,population\nTromso,77000\n")
    assert "Tromso" in parse_file(str(tmp_path / "t.csv"), "csv").text


def test_csv_rows_are_named_by_the_header_row_as_table_rows_are(tmp_path: Path) -> None:
    (tmp_path / "offices.csv").write_text(
        "office,city,manager\nHQ,Hamburg,Anna Berg\nSouth,Munich,Jonas Weber\n"
    )
    parsed = parse_file(str(tmp_path / "offices.csv"), "csv")
    assert parsed.text == (
        "office: HQ; city: Hamburg; manager: Anna Berg.\n"
        "office: South; city: Munich; manager: Jonas Weber."
    )


def test_table_rows_become_one_sentence_each_with_their_column_names(tmp_path: Path) -> None:
    (tmp_path / "settings.md").write_text(
        "# Settings\n\n| setting | default | meaning |\n|---|---|---|\n"
        "| PORT | 8000 | Where the server listens |\n| WORKERS | 4 | Parallel workers. |\n"
    )
    (tmp_path / "plain.html").write_text(
        "<html><body><table><tr><td>Oslo</td><td>700000</td></tr>"
        "<tr><td>Tromso &amp; Alta</td><td>77000</td></tr></table></body></html>"
    )
    md = parse_file(str(tmp_path / "settings.md"), "markdown")
    assert "setting: PORT; default: 8000; meaning: Where the server listens.\n" in md.text
    assert md.text.endswith("setting: WORKERS; default: 4; meaning: Parallel workers.")
    table = next(e for e in md.elements if e.kind == "Table")
    assert md.text[table.start : table.end].startswith("setting: PORT")
    html = parse_file(str(tmp_path / "plain.html"), "html").text
    assert html == "Oslo; 700000.\nTromso & Alta; 77000."  # no header row: cells in order


def test_email(tmp_path: Path) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "ops@example.org",
        "all@example.org",
        "Outage",
    )
    message.set_content("The backup generator in hall B starts within 9 seconds of a power cut.")
    message["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
    (tmp_path / "outage.eml").write_bytes(bytes(message))
    parsed = parse_file(str(tmp_path / "outage.eml"), "email")
    assert "hall B starts within 9 seconds" in parsed.text
    assert parsed.title == "Outage"  # its Subject, not its file name
    assert parsed.text.startswith(
        "Outage\n\nFrom: ops@example.org\nTo: all@example.org\n"
        "Date: Mon, 07 Dec 2026 10:00:00 +0000\n\n"
    )
    assert parsed.metadata["from"] == "ops@example.org" and parsed.metadata["subject"] == "Outage"
    for element in parsed.elements:
        assert parsed.text[element.start : element.end].strip()


def test_non_utf8_text_is_decoded_by_detection(tmp_path: Path) -> None:
    write_bad_corpus(tmp_path)
    parsed = parse_file(str(tmp_path / "latin1.txt"), "text")
    assert "crème brûlée chaque jeudi à midi" in parsed.text
    assert parsed.metadata["encoding"] == "cp1252"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("junk.pdf", "not a PDF file"),
        ("truncated.pdf", "damaged or truncated PDF"),
        ("locked.pdf", "encrypted PDF that needs a password"),
        ("blank.pdf", "no extractable text"),
    ],
)
def test_bad_pdfs_fail_with_a_reason_not_silently(tmp_path: Path, name: str, reason: str) -> None:
    write_bad_corpus(tmp_path)
    with pytest.raises(ParseError, match=reason):
        parse_file(str(tmp_path / name), "pdf")


def test_binary_junk_named_txt_and_broken_docx(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(ParseError, match="binary data"):
        parse_file(str(tmp_path / "bin.txt"), "text")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ParseError, match="could not parse this docx file"):
        parse_file(str(tmp_path / "broken.docx"), "docx")


def test_plain_text_keeps_its_lines_and_titles_stand_apart(tmp_path: Path) -> None:
    (tmp_path / "harbour.txt").write_text(
        "Harbour rules\r\n=============\r\n\r\nCranes\r\nThe crane lifts 40 tonnes.\r\n"
        "It stops in gales.\r\n\r\n\r\n\fNight work ends at 22:00.\r\n"
    )
    parsed = parse_file(str(tmp_path / "harbour.txt"), "text")
    assert parsed.text == (
        "Harbour rules\n=============\n\nCranes\nThe crane lifts 40 tonnes.\n"
        "It stops in gales.\n\nNight work ends at 22:00."
    )
    shown = [(e.kind, parsed.text[e.start : e.end], e.section, e.page) for e in parsed.elements]
    assert shown == [
        ("Title", "Harbour rules", "Harbour rules", 1),
        ("Title", "Cranes", "Cranes", 1),
        ("NarrativeText", "The crane lifts 40 tonnes.\nIt stops in gales.", "Cranes", 1),
        ("NarrativeText", "Night work ends at 22:00.", "Cranes", 2),
    ]
    assert parsed.title == "Harbour rules"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_decoded_by_it(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "tides.txt").write_bytes("Tromsø tide: 06:12.\n".encode(encoding))
    parsed = parse_file(str(tmp_path / "tides.txt"), "text")
    assert parsed.text == "Tromsø tide: 06:12."


def test_nul_characters_are_dropped_from_text(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_bytes(b"x" * 9000 + b"\nThe crane lifts 40\x00 tonnes.\n")
    assert "The crane lifts 40 tonnes." in parse_file(str(tmp_path / "log.txt"), "text").text
    with pytest.raises(ParseError, match="binary data"):
        (tmp_path / "early.txt").write_bytes(b"Early\x00 NUL.\n")
        parse_file(str(tmp_path / "early.txt"), "text")
