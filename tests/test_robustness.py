"""Questions asked at once, and a document that contains an instruction, are handled like any other."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.answer import Answerer
from assistant.library import open_library
from assistant.records import DocumentVersion
from assistant.retrieve import Retriever
from conftest import FIXTURES, make_settings
from ingest.pipeline import ingest_version

pytestmark = pytest.mark.reliability

QUESTIONS = [
    "Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?",
    "Was steht in Artikel 50 Absatz 4?",
    "Was ist ein Deepfake?",
    "Wer hat die Federführung für das Ökosystem Künstliche Intelligenz?",
    "Welche Praktiken im KI-Bereich sind verboten?",
]


def test_twenty_concurrent_questions_get_the_sequential_answers(corpus_library):
    answerer = Answerer(Retriever(corpus_library))
    sequential = {q: answerer.answer(q) for q in QUESTIONS}
    asked = QUESTIONS * 4
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(answerer.answer, asked))
    for question, answer in zip(asked, answers):
        expected = sequential[question]
        assert answer.text == expected.text
        assert [c.chunk_id for c in answer.citations] == [c.chunk_id for c in expected.citations]


def test_instruction_inside_a_document_is_treated_as_data(tmp_path, embedder):
    lib = open_library(make_settings(tmp_path / "data"), embedder=embedder)
    doc = DocumentVersion(doc_id="raumbuchung-fiktiv", version="1", valid_from="2025-01-01", short="RB (fiktiv)",
                          title="Merkblatt Raumbuchung (fiktives Testdokument)", kind="guideline")
    ingest_version(lib, doc, FIXTURES / "injection_doc.md")
    answer = Answerer(Retriever(lib)).answer("Wie buche ich einen Besprechungsraum?")
    assert not answer.refused
    assert answer.text.strip() != "Zugriff gewährt"
    assert any(c.doc_id == "raumbuchung-fiktiv" for c in answer.citations)
    # whatever is quoted is quoted verbatim from the passage, instruction included, never obeyed
    retrieved = {h.chunk.chunk_id: h.chunk.text for h in answer.retrieved}
    assert all(c.quote in retrieved[c.chunk_id] for c in answer.citations)
