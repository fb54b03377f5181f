"""Bad input end to end: every broken file MASTD might add through `python -m ingest add` gets one
clear line naming the file, the reason and what to do, and the index, the registry and a known answer
are the same before and after. Bad questions get a message or a normal answer, never an error."""
from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys

import pytest

from assistant.answering.extractive import Answerer
from assistant.errors import InputError
from assistant.storage.library import open_library
from assistant.retrieval.ranking import Retriever
from conftest import GUIDELINE_V1, MODEL_DIR, ROOT, make_settings
from ingest.pipeline import ingest_version

pytestmark = pytest.mark.reliability

TODAY = dt.date(2026, 11, 29)
KNOWN = "Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?"


@pytest.fixture(scope="module")
def v1_dir(tmp_path_factory, embedder, guideline_pdfs):
    lib = open_library(make_settings(tmp_path_factory.mktemp("bad-input") / "data"), embedder=embedder)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    return lib


def state(lib) -> tuple:
    fresh = open_library(lib.settings, embedder=lib.embedder)
    fresh.store.reopen()
    answer = Answerer(Retriever(fresh, clock=lambda: TODAY)).answer(KNOWN)
    return (fresh.store.count(), fresh.registry.generation(), [(v.version, v.state) for v in fresh.registry.versions()],
            answer.text, [c.chunk_id for c in answer.citations], sorted(p.name for p in (fresh.settings.data_dir / "uploads").glob("*")))


# --- the files ---------------------------------------------------------------------------------------
def corrupt(path, pdfs):
    path.write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(4000))


def truncated_pdf(path, pdfs):
    data = pdfs["leitlinie_v1"].read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def encrypted(path, pdfs):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=pdfs["leitlinie_v1"])
    writer.encrypt(user_password="geheim", owner_password="geheim", algorithm="RC4-128")
    with path.open("wb") as fh:
        writer.write(fh)


def scanned(path, pdfs):
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    for _ in range(3):
        c.rect(100, 100, 300, 400, fill=1)
        c.showPage()
    c.save()


def thousands_of_pages(path, pdfs):
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(2500):
        writer.add_blank_page(width=595, height=842)
    with path.open("wb") as fh:
        writer.write(fh)


def empty(path, pdfs):
    path.write_bytes(b"")


def truncated_markdown(path, pdfs):  # cut inside a multi-byte character, as an interrupted copy leaves it
    data = "# 1 Zweck\n\nDiese fiktive Leitlinie regelt die Nutzung von KI-Werkzeugen in Behörden.\n".encode()
    path.write_bytes(data[: data.index("ö".encode()) + 1])


def wrong_type(path, pdfs):
    path.write_bytes(b"PK\x03\x04" + bytes(400))  # a zip (docx) renamed to .pdf


def latin1(path, pdfs):
    path.write_bytes("# 1 Zweck\n\nÄnderungen für Behörden gelten ab sofort.\n".encode("latin-1"))


def too_large(path, pdfs):
    path.write_text("# 1 Zweck\n\n" + "Dies ist ein fiktiver Satz. " * 60_000, encoding="utf-8")  # 1.7 MB


def no_sections(path, pdfs):
    path.write_text("Sehr geehrte Damen und Herren,\n\nanbei die Unterlagen.\n", encoding="utf-8")


CASES = [  # name, file name, writer, what the message must say
    ("corrupt PDF", "leitlinie_kaputt.pdf", corrupt, "cannot be read"),
    ("truncated PDF", "leitlinie_abgeschnitten.pdf", truncated_pdf, "cannot be read"),
    ("encrypted PDF", "leitlinie_geschuetzt.pdf", encrypted, "encrypted"),
    ("scanned PDF", "leitlinie_scan.pdf", scanned, "no extractable text"),
    ("2,500 pages", "leitlinie_riesig.pdf", thousands_of_pages, "more than the limit of 2000"),
    ("0-byte file", "leitlinie_leer.md", empty, "leer (0 Bytes)"),
    ("truncated Markdown", "leitlinie_abgebrochen.md", truncated_markdown, "UTF-8"),
    ("wrong type named .pdf", "leitlinie_docx.pdf", wrong_type, "not a PDF"),
    ("non-UTF-8 text", "leitlinie_latin1.md", latin1, "UTF-8"),
    ("over the size limit", "leitlinie_gross.md", too_large, "larger than the limit of 1 MB"),
    ("no sections", "anschreiben.md", no_sections, "no sections recognised"),
]


@pytest.mark.parametrize("name, filename, write, reason", CASES, ids=[c[0] for c in CASES])
def test_bad_file_gets_one_clear_line_and_changes_nothing(v1_dir, guideline_pdfs, tmp_path, name, filename, write,
                                                          reason):
    path = tmp_path / filename
    write(path, guideline_pdfs)
    before = state(v1_dir)
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(v1_dir.settings.data_dir),
           "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR), "ASSISTANT_MAX_UPLOAD_MB": "1"}
    done = subprocess.run([sys.executable, "-m", "ingest", "add", str(path), "--doc-id", "ll-ki-fiktiv",
                           "--version", "2026-03", "--valid-from", "2026-03-01"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and reason in lines[0], lines[0]
    assert "nothing" in lines[0].lower() or "nichts" in lines[0].lower() or "Check" in lines[0], lines[0]
    assert state(v1_dir) == before


# --- questions -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def answerer(v1_dir):
    return Answerer(Retriever(v1_dir, clock=lambda: TODAY))


@pytest.mark.parametrize("question", ["", "   \n\t  ", "\x00\x07\x1b"])
def test_empty_question_is_refused_with_a_message(answerer, question):
    with pytest.raises(InputError, match="Die Frage ist leer"):
        answerer.answer(question)


def test_twenty_thousand_characters_are_refused_with_the_limit(answerer):
    with pytest.raises(InputError, match=r"20\.000 Zeichen zu lang; erlaubt sind höchstens 4\.000"):
        answerer.answer("Frist " * 3333 + "xx")


def test_control_characters_are_dropped_and_the_question_answered_as_without_them(answerer):
    plain = answerer.answer(KNOWN)
    noisy = answerer.answer("Innerhalb\x00 welcher\x07 Frist wird über die\x1b[31m Zulassung eines neuen "
                            "KI-Werkzeugs\u200b entschieden?\r\n")
    assert "acht Wochen" in plain.text
    assert noisy.text.replace("[31m", "") == plain.text or "acht Wochen" in noisy.text
    assert "\x00" not in noisy.text and "\x1b" not in noisy.text


@pytest.mark.parametrize("question", [
    "<script>alert('x')</script> Welche Frist gilt für die Zulassung?",
    "**Frist** für [Zulassung](javascript:alert(1)) eines KI-Werkzeugs?",
    "What is the deadline für die Zulassung eines neuen KI-Werkzeugs?",
])
def test_html_markdown_and_mixed_language_questions_get_a_normal_answer(answerer, question):
    a = answerer.answer(question)
    assert a.refused or a.citations, "an answer or a refusal, never an error"
    for c in a.citations:
        assert c.quote and c.version == "2025-09"
    assert "<script>" not in a.text and "javascript:" not in a.text


def test_cli_refuses_an_empty_question_with_one_line(v1_dir):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(v1_dir.settings.data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR)}
    done = subprocess.run([sys.executable, "-m", "assistant", "ask", " \x07\x1b "], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.strip() == "Fehler: Die Frage ist leer. Bitte geben Sie eine Frage ein."
