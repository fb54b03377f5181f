"""Reading document files: the fictional guideline as a real PDF (pypdf), and every refused input.

The PDF has a running header and a "– Seite N" footer on every page, a word hyphenated at a line end
(4.3 "Verwaltungs-/vorschrift") and section 5.2 split over pages 4-5. Expected pages come from the
renderer itself (render_with_heading_pages / section_spans), not from literals.
"""
from __future__ import annotations

import random
import re

import pytest

from conftest import FIXTURES, GUIDELINE_V1, GUIDELINE_V2
from assistant.errors import InputError
from ingest.chunks import chunk_sections
from ingest.load import load_lines
from ingest.pipeline import read_document
from render_pdf import FOOTER, HEADER_TEMPLATE, render_with_heading_pages, section_spans

V2_HEADER = HEADER_TEMPLATE.format(label="2026-03")
FOOTER_LINE = re.compile(re.escape(FOOTER) + r" – Seite \d+")


@pytest.fixture(scope="module")
def v2_sections(guideline_pdfs):
    return read_document(guideline_pdfs["leitlinie_v2"], GUIDELINE_V2)


@pytest.fixture(scope="module")
def v2_layout(tmp_path_factory):
    """Heading -> page and section -> (first page, last page), from rendering v2 the same way."""
    out = tmp_path_factory.mktemp("layout")
    md = FIXTURES / "leitlinie_v2.md"
    headings = render_with_heading_pages(md, out / "v2.pdf", header=V2_HEADER, footer=FOOTER)
    spans = section_spans(md, out / "v2-spans.pdf", header=V2_HEADER, footer=FOOTER)
    return headings, spans


def _by_key(sections):
    return {s.key: s for s in sections}


# --- sections of the PDF -----------------------------------------------------------------------

def test_pdf_sections_are_the_numbered_subsections(v2_sections):
    keys = [s.key for s in v2_sections]
    assert keys[:5] == ["ziff-1.1", "ziff-1.2", "ziff-1.3", "ziff-2.1", "ziff-2.2"]
    assert keys[-1] == "ziff-10"
    assert len(keys) == len(set(keys)) == 23


def test_v2_pdf_has_the_new_3_4_and_not_the_removed_2_3(v2_sections):
    keys = [s.key for s in v2_sections]
    assert "ziff-3.4" in keys
    assert "ziff-2.3" not in keys
    assert _by_key(v2_sections)["ziff-3.4"].text.startswith("Dokumente, Webseiten und E-Mails aus externen Quellen")


def test_v1_pdf_has_2_3_and_not_3_4(guideline_pdfs):
    keys = [s.key for s in read_document(guideline_pdfs["leitlinie_v1"], GUIDELINE_V1)]
    assert "ziff-2.3" in keys
    assert "ziff-3.4" not in keys


def test_pdf_section_label_and_heading(v2_sections):
    s = _by_key(v2_sections)["ziff-4.1"]
    assert (s.label, s.heading, s.kind) == ("Ziff. 4.1 LL-KI (fiktiv)", "4.1 Kennzeichnung KI-generierter Texte",
                                            "guideline")


def test_pdf_section_page_is_the_page_of_its_heading(v2_sections, v2_layout):
    headings, _ = v2_layout
    assert [(s.heading, s.page) for s in v2_sections] == [(s.heading, headings[s.heading]) for s in v2_sections]
    assert len({s.page for s in v2_sections}) > 1  # the document really spans several pages


def test_pdf_text_has_no_running_header(v2_sections):
    assert [s.key for s in v2_sections if V2_HEADER in s.text or "LL-KI (fiktiv) –" in s.text] == []


def test_pdf_text_has_no_page_footer(v2_sections):
    assert [s.key for s in v2_sections if FOOTER_LINE.search(s.text) or re.search(r"Seite \d", s.text)] == []


def test_footer_phrase_in_body_text_is_kept(v2_sections):
    text = " ".join(_by_key(v2_sections)["ziff-1.1"].text.split())
    assert "Fiktives Testdokument – keine amtliche Regelung: Die Leitlinie ist frei erfunden" in text


def test_line_end_hyphenation_is_repaired(v2_sections):
    text = _by_key(v2_sections)["ziff-4.3"].text
    assert "nach Maßgabe der einschlägigen Verwaltungsvorschrift sowie der fachlichen Weisungen" in text
    assert "Verwaltungs-" not in text


def test_suspended_hyphen_at_line_end_is_kept(v2_sections):
    text = " ".join(_by_key(v2_sections)["ziff-9.1"].text.split())
    assert "zur Aufklärung von Sicherheits- oder Datenschutzvorfällen zulässig" in text


def test_pdf_text_equals_the_markdown_source_up_to_line_wrapping(v2_sections):
    def normal(text):  # PDF lines wrap where the page is full, and bullets are rendered as "–"
        return " ".join(text.replace("\n– ", "\n- ").split())

    markdown = _by_key(read_document(FIXTURES / "leitlinie_v2.md", GUIDELINE_V2))
    pdf = _by_key(v2_sections)
    assert list(pdf) == list(markdown)
    assert [k for k in pdf if normal(pdf[k].text) != normal(markdown[k].text)] == []


# --- pages of chunks ---------------------------------------------------------------------------

def test_section_split_over_a_page_break_has_a_chunk_on_the_second_page(v2_sections, v2_layout):
    first, last = v2_layout[1]["5.2"]
    assert last == first + 1
    chunks = [c for c in chunk_sections(v2_sections, max_chars=400) if c.section_key == "ziff-5.2"]
    assert chunks[0].page == first
    later = [c for c in chunks if c.text.startswith("Über den Antrag entscheidet die Lenkungsgruppe KI")]
    assert len(later) == 1 and later[0].page == last


def test_every_chunk_has_the_page_where_its_text_starts(v2_sections, guideline_pdfs):
    """Independent check against pypdf's raw page text (header and footer lines dropped here)."""
    from pypdf import PdfReader

    offsets, flat = [], ""
    for page in PdfReader(guideline_pdfs["leitlinie_v2"]).pages:
        lines = [t for t in page.extract_text().split("\n")
                 if t.strip() != V2_HEADER and not FOOTER_LINE.fullmatch(t.strip())]
        offsets.append(len(flat))
        flat += " ".join(" ".join(lines).split()) + " "
    wrong = []
    chunks = chunk_sections(v2_sections, max_chars=400)
    for c in chunks:
        snippet = " ".join(c.text.split()[:6])
        found = [m.start() for m in re.finditer(re.escape(snippet), flat)]
        assert len(found) == 1, snippet
        page = max(n for n, start in enumerate(offsets, start=1) if start <= found[0])
        if page != c.page:
            wrong.append((c.section_key, c.index, c.page, page))
    assert wrong == []
    assert len({c.page for c in chunks if c.section_key == "ziff-5.2"}) == 2


# --- refused inputs ----------------------------------------------------------------------------

def _refusal(path) -> str:
    with pytest.raises(InputError) as info:
        load_lines(path)
    message = str(info.value)
    assert path.name in message
    return message


def test_corrupt_pdf_is_refused(tmp_path):
    path = tmp_path / "kaputt.pdf"
    path.write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(4000))
    assert "cannot be read" in _refusal(path)


def test_truncated_pdf_is_refused(tmp_path, guideline_pdfs):
    data = guideline_pdfs["leitlinie_v1"].read_bytes()
    path = tmp_path / "abgeschnitten.pdf"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert "cannot be read" in _refusal(path)


def test_non_pdf_named_pdf_is_refused(tmp_path):
    path = tmp_path / "brief.pdf"
    path.write_text("Sehr geehrte Damen und Herren,\n", encoding="utf-8")
    assert "not a PDF" in _refusal(path)


def test_pdf_named_as_text_is_refused(tmp_path, guideline_pdfs):
    path = tmp_path / "leitlinie.md"
    path.write_bytes(guideline_pdfs["leitlinie_v1"].read_bytes())
    assert "PDF file with a text name" in _refusal(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "leer.md"
    path.write_bytes(b"")
    assert "empty" in _refusal(path)


def test_whitespace_only_text_is_refused(tmp_path):
    path = tmp_path / "leer.txt"
    path.write_text("\n  \n\t\n", encoding="utf-8")
    assert "no text" in _refusal(path)


def test_non_utf8_markdown_is_refused(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("# 1 Zweck\nÄnderungen für Behörden\n".encode("latin-1"))
    assert "UTF-8" in _refusal(path)


def test_unsupported_suffix_is_refused(tmp_path):
    path = tmp_path / "leitlinie.docx"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    assert "unsupported file type '.docx'" in _refusal(path)


def test_missing_file_is_refused(tmp_path):
    assert "not found" in _refusal(tmp_path / "fehlt.pdf")


def test_scanned_pdf_without_text_is_refused(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    assert "no extractable text" in _refusal(path)


def test_encrypted_pdf_is_refused(tmp_path, guideline_pdfs):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=guideline_pdfs["leitlinie_v1"])
    writer.encrypt(user_password="geheim", owner_password="geheim", algorithm="RC4-128")
    path = tmp_path / "geschuetzt.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    assert "encrypted" in _refusal(path)


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "gross.md"
    path.write_text("# 1 Zweck\n" + "Text. " * 200, encoding="utf-8")
    with pytest.raises(InputError, match=r"gross\.md: .* larger than the limit"):
        load_lines(path, max_bytes=1000)


# --- accepted text files -----------------------------------------------------------------------

def test_text_lines_have_no_page_and_lose_bom_and_crlf(tmp_path):
    path = tmp_path / "notiz.txt"
    path.write_bytes("\ufeffErste Zeile\r\nZweite Zeile\r\n".encode("utf-8"))
    assert [(ln.text, ln.page) for ln in load_lines(path)] == [("Erste Zeile", None), ("Zweite Zeile", None),
                                                               ("", None)]
