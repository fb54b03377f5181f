"""The question index: questions per passage and out-of-scope examples, in ingest, retrieval and refusal."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from conftest import GUIDELINE_V1, GUIDELINE_V2, ROOT, make_settings

from assistant.answering.extractive import Answerer
from assistant.retrieval.ranking import Retriever
from assistant.storage.library import open_library
from ingest.pipeline import ingest_version
from ingest.question_writer import LLMQuestionWriter, parse_questions
from ingest.questions import passage_sha, read_question_file
from test_generate import llm_settings

TODAY = dt.date(2026, 11, 29)
PRIVATE_ACCOUNTS = "Ziff. 2.3 LL-KI (fiktiv)"  # only in version 2025-09 of the fictional guideline
LABELLING = "ziff-4.1"  # changed between the two versions


def _labels(hits) -> list[str]:
    return [h.chunk.label for h in hits]


def _questions_file(path, entries: dict[str, list[str]], doc_id: str = "ll-ki-fiktiv"):
    path.write_text("\n".join(json.dumps({"doc_id": doc_id, "section_key": key, "questions": qs}, ensure_ascii=False)
                              for key, qs in entries.items()) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def guideline_library(tmp_path, embedder):
    return open_library(make_settings(tmp_path / "data"), embedder=embedder)


def test_bundled_questions_cover_every_passage_of_the_corpus(corpus_library):
    chunks, _ = corpus_library.store.load()
    with_questions = {q.chunk_id for q in corpus_library.questions.for_chunks([c.chunk_id for c in chunks])}
    assert len(chunks) > 1000
    assert with_questions == {c.chunk_id for c in chunks}


def test_bundled_questions_name_no_section_numbers():
    import re

    numbered = re.compile(r"\b(art\.|artikel|absatz|abs\.|erwägungsgrund|anhang)\s*[0-9ivx]", re.I)
    for path in (ROOT / "corpus" / "questions").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            for q in entry.get("questions", []):
                assert not numbered.search(q["text"]), (path.name, q["text"])


def test_scenario_question_reaches_its_section_through_the_question_index(corpus_library):
    question = ("Das Ordnungsamt möchte Bürger nach ihrem Verhalten mit Punkten bewerten und danach Leistungen "
                "kürzen. Ist das zulässig?")  # social scoring, in the words of an authority, not of the Act
    with_index = Retriever(corpus_library, clock=lambda: TODAY).search(question, k=5)
    without = Retriever(corpus_library, clock=lambda: TODAY, questions=False).search(question, k=5)
    assert "Art. 5 Abs. 1 Buchst. c KI-VO" in _labels(with_index)[:2], _labels(with_index)
    assert "Art. 5 Abs. 1 Buchst. c KI-VO" not in _labels(without), _labels(without)


def test_out_of_scope_personnel_question_is_refused_without_related_passages(corpus_library):
    answerer = Answerer(Retriever(corpus_library, clock=lambda: TODAY))
    answer = answerer.answer("Wie viele Tage Erholungsurlaub stehen mir als Tarifbeschäftigter im Landesdienst zu?")
    assert answer.refused
    assert answer.citations == () and answer.related == ()
    assert answer.signals["out_of_scope_share"] >= 0.5


def test_question_of_the_documents_is_answered_although_it_mentions_the_state(corpus_library):
    answerer = Answerer(Retriever(corpus_library, clock=lambda: TODAY))
    answer = answerer.answer("Welche Beschlüsse hat der Ministerrat Rheinland-Pfalz zum Ökosystem KI gefasst?")
    assert not answer.refused
    assert answer.citations[0].doc_id == "ministerrat-rlp-2025-06-top4"


def test_questions_file_reaches_the_index_and_version_filtering_applies_to_it(guideline_library, guideline_pdfs, tmp_path):
    lib = guideline_library
    question = "Darf ich meinen eigenen Chat-Account von zu Hause für die Arbeit verwenden?"
    path = _questions_file(tmp_path / "questions.jsonl", {"ziff-2.3": [question]})
    report = ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"], questions=read_question_file(path))
    assert report.questions.provided >= 1
    in_v1 = {h.chunk.label: h for h in Retriever(lib, clock=lambda: dt.date(2025, 10, 1)).search(question, k=3)}
    assert PRIVATE_ACCOUNTS in in_v1 and in_v1[PRIVATE_ACCOUNTS].signals["question"] > 0.99, list(in_v1)
    ingest_version(lib, GUIDELINE_V2, guideline_pdfs["leitlinie_v2"])
    in_v2 = Retriever(lib, clock=lambda: TODAY).search(question, k=10)
    assert PRIVATE_ACCOUNTS not in _labels(in_v2)
    assert all(h.version == "2026-03" for h in in_v2)
    assert in_v2[0].signals.get("question_best", 0.0) < 0.99  # the v1-only question does not count for v2


def test_unchanged_sections_keep_their_questions_and_changed_ones_are_written_by_the_llm(
        guideline_library, guideline_pdfs, tmp_path, llm_server):
    lib = guideline_library
    path = _questions_file(tmp_path / "questions.jsonl", {
        "ziff-1.1": ["Wozu gibt es diese Regeln für Sprachmodelle?"],
        LABELLING: ["Muss ich KI-Texte an Bürger kennzeichnen?"]})
    first = ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"], questions=read_question_file(path))
    assert first.questions.provided == 2
    llm_server.replies.clear()
    llm_server.replies.extend(lambda body: "plain: Wie kennzeichne ich einen Vermerk, den die KI mitgeschrieben hat?\n"
                                           "search: Kennzeichnung interner Vermerke KI\nDas ist keine Frage."
                              for _ in range(40))
    writer = LLMQuestionWriter(llm_settings(llm_server.url), titles={GUIDELINE_V2.doc_id: GUIDELINE_V2.title})
    second = ingest_version(lib, GUIDELINE_V2, guideline_pdfs["leitlinie_v2"], writer=writer)

    report = second.questions
    # 1.1 is unchanged and keeps its question; 4.1 changed: its question is stale, the model writes new ones,
    # as it does for every other passage without questions
    assert report.carried == 1 and report.stale == 1 and report.generated == report.chunks - 1, report
    v2_chunks, _ = lib.store.load(lib.registry.chunk_ids(GUIDELINE_V2.doc_id, GUIDELINE_V2.version))
    stored = lib.questions.for_chunks([c.chunk_id for c in v2_chunks])
    purpose = [q for q in stored if q.section_key == "ziff-1.1"]
    assert [q.text for q in purpose] == ["Wozu gibt es diese Regeln für Sprachmodelle?"]
    labelling = {q.text: q.source for q in stored if q.section_key == LABELLING}
    assert labelling == {"Wie kennzeichne ich einen Vermerk, den die KI mitgeschrieben hat?": "llm:test-model",
                         "Kennzeichnung interner Vermerke KI": "llm:test-model"}
    prompt = llm_server.requests[-1]["messages"]
    assert prompt[0]["role"] == "system" and "<<<" in prompt[1]["content"]


def test_admin_edits_of_questions_reach_the_index(guideline_library, guideline_pdfs):
    from ingest.upload import save_question_edits

    lib = guideline_library
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    question = "Welche Aufgaben darf ich der KI beim Programmieren geben?"
    retriever = Retriever(lib, clock=lambda: dt.date(2025, 10, 1))
    save_question_edits(lib, GUIDELINE_V1, {"ziff-2.2": [question, "Programmcode mit KI prüfen"]})
    hits = retriever.search(question, k=3)
    assert hits[0].chunk.section_key == "ziff-2.2" and hits[0].signals["question"] > 0.99
    stored = lib.questions.for_chunks([hits[0].chunk.chunk_id])
    assert {q.source for q in stored} == {"admin"}
    save_question_edits(lib, GUIDELINE_V1, {"ziff-2.2": ["Programmcode mit KI prüfen"]})  # one deleted
    assert [q.text for q in lib.questions.for_chunks([hits[0].chunk.chunk_id])] == ["Programmcode mit KI prüfen"]


def test_llm_reply_lines_outside_the_form_or_naming_sections_are_dropped():
    reply = ("plain: Darf ich das?\nsituation: Das Bürgerbüro plant einen Chatbot. Was gilt?\n"
             "search: Chatbot Hinweis Pflicht\nsearch: Was sagt Art. 50 dazu?\nHier sind drei Fragen.")
    assert parse_questions(reply) == [("plain", "Darf ich das?"),
                                      ("situation", "Das Bürgerbüro plant einen Chatbot. Was gilt?"),
                                      ("search", "Chatbot Hinweis Pflicht")]


def test_broken_questions_file_is_refused_with_one_line_and_nothing_changes(tmp_path, settings, guideline_pdfs):
    bad = tmp_path / "fragen.jsonl"
    bad.write_text('{"section_key": "ziff-1.1", "questions": ["ok?"]}\nkein json\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "ingest", "add", str(guideline_pdfs["leitlinie_v1"]),
                             "--doc-id", "ll-ki-fiktiv", "--version", "2025-09", "--valid-from", "2025-09-01",
                             "--title", "Leitlinie (fiktiv)", "--questions", str(bad)],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**__import__("os").environ, "ASSISTANT_DATA_DIR": str(settings.data_dir)})
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "fragen.jsonl, line 2" in result.stderr and "nothing was changed" in result.stderr
    lib = open_library(settings)
    assert lib.registry.versions() == []


def test_passage_hash_keys_the_bundled_questions():
    entry = json.loads((ROOT / "corpus" / "questions" / "ministerrat-rlp-2025-06-top4.jsonl").read_text().splitlines()[0])
    assert len(entry["text_sha"]) == 16 and entry["text_sha"] != passage_sha("")
