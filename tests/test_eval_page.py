"""Evaluation page: metrics per split and tag, failing questions, and the admin-only run button."""
from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from assistant.governance import auth
from assistant.governance.auth import hash_password
from conftest import CACHE, MODEL_DIR, ROOT
from eval.metrics import attach_eval
from eval.report import render
from ingest.upload import AUDIT_FILE

PAGE = str(ROOT / "pages" / "evaluation.py")
PASSWORD = "test-passwort"

QUESTIONS = [
    {"id": "t1", "question": "Was ist ein KI-System?", "answerable": True, "split": "dev", "tags": ["definitions"],
     "section": "Art. 3 Nr. 1 KI-VO", "evidence": ["ein maschinengestütztes System, das für einen"], "facts": []},
    {"id": "t2", "question": "Welche Transparenzpflichten gelten für Deepfakes?", "answerable": True, "split": "test",
     "tags": ["transparency"], "section": "Art. 50 Abs. 4 KI-VO",
     "evidence": ["Betreiber eines KI-Systems, das Bild-, Ton- oder Videoinhalte erzeugt"], "facts": []},
    {"id": "t3", "question": "Was gibt es heute in der Kantine?", "answerable": False, "split": "holdout",
     "tags": ["off-topic"], "section": None, "evidence": [], "facts": []},
]


def passage(rank: int, section: str, text: str, score: float, chunk: str) -> dict:
    return {"rank": rank, "doc_id": "eu-ai-act", "section": section, "section_key": "", "chunk_id": chunk,
            "version": "2024-06-13", "page": None, "score": score, "text": text}


def results_doc() -> dict:
    hit = passage(1, "Art. 3 Nr. 1 KI-VO", "1. „KI-System“ ein maschinengestütztes System, das für einen Betrieb",
                  0.0739, "c1")
    misses = [passage(1, "Art. 50 Abs. 1 KI-VO", "Anbieter stellen sicher", 0.0331, "c2"),
              passage(2, "Art. 50 Abs. 2 KI-VO", "Anbieter von KI-Systemen", 0.0325, "c3"),
              passage(3, "Erwägungsgrund 134 KI-VO", "Deepfakes", 0.0310, "c4"),
              passage(4, "Art. 52 KI-VO", "Verfahren", 0.0300, "c5")]
    cite = [{"n": 1, "chunk_id": "c1", "section": "Art. 3 Nr. 1 KI-VO"}]
    answers = {"t1": ([hit], {"text": "ein maschinengestütztes System", "refused": False, "citations": cite}),
               "t2": (misses, {"text": "…", "refused": False, "citations": []}),
               "t3": (misses[:1], {"text": "Kantine …", "refused": False, "citations": []})}
    results = [{"id": q["id"], "question": q["question"], "answerable": q["answerable"], "tags": q["tags"],
                "split": q["split"], "retrieved": answers[q["id"]][0],
                "answer": {**answers[q["id"]][1], "retrieved": answers[q["id"]][0]}, "latency_ms": 100.0}
               for q in QUESTIONS]
    doc = {"config": {"embedding_model": "multilingual-e5-small", "retrieval": "hybrid-rrf", "git": "abc1234",
                      "corpus": {"eu-ai-act": "2024-06-13"}, "k": 10}, "summary": {}, "results": results}
    return attach_eval(doc, {q["id"]: q for q in QUESTIONS})


pytestmark = pytest.mark.usefixtures("fresh_lockout")


@pytest.fixture
def results_file(tmp_path, monkeypatch, corpus_library, password_hash):
    path = tmp_path / "results" / "latest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(results_doc(), ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_EVAL_RESULTS", str(path))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(corpus_library.settings.data_dir))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(ROOT / "corpus"))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", str(MODEL_DIR))
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD_HASH", password_hash)
    return path


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest) -> AppTest:
    at.text_input(key="admin_password").input(PASSWORD)
    at.button(key="FormSubmitter:admin_login-Anmelden").click().run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_summary_table_has_one_column_per_split(results_file):
    table = open_page().dataframe[0].value.set_index("Kennzahl")
    assert list(table.columns) == ["alle", "dev", "test", "holdout"]
    assert table.loc["hit@5"].tolist() == ["0.500", "1.000", "0.000", "–"]
    assert table.loc["n_questions"].tolist() == ["3", "1", "1", "1"]
    assert table.loc["missed_refusals"].tolist() == ["1", "0", "0", "1"]


def test_tag_table_has_one_row_per_tag(results_file):
    table = open_page().dataframe[1].value.set_index("Tag")
    assert list(table.index) == ["definitions", "off-topic", "transparency"]
    assert (table.loc["definitions", "hit@5"], table.loc["transparency", "hit@5"]) == ("1.000", "0.000")


def test_failing_questions_show_the_top_three_retrieved_passages(results_file):
    table = open_page().dataframe[2].value
    assert table["ID"].tolist() == ["t2", "t3"]
    assert table.iloc[0]["Top-3 Treffer (Score)"] == (
        "Art. 50 Abs. 1 KI-VO (0.0331) | Art. 50 Abs. 2 KI-VO (0.0325) | Erwägungsgrund 134 KI-VO (0.0310)")
    assert (table.iloc[0]["erwartet"], table.iloc[0]["Rang Evidenz"]) == ("Art. 50 Abs. 4 KI-VO", "–")


def test_without_plots_the_page_says_how_to_make_them(results_file):
    assert "python -m eval report" in texts(open_page().info)


def test_plots_of_the_report_are_shown(results_file):
    render(json.loads(results_file.read_text()), results_file.parent / "report")
    at = open_page()
    assert "python -m eval report" not in texts(at.info)
    assert len(at.get("image")) == 3


def test_missing_results_file_explains_how_to_create_it(results_file):
    results_file.unlink()
    at = open_page()
    assert "python -m eval run" in texts(at.info)
    assert not at.dataframe


def test_run_button_is_hidden_when_not_logged_in(results_file):
    at = open_page()
    assert "Evaluation starten" not in [b.label for b in at.button]
    assert at.text_input(key="admin_password"), "the shared login form is offered instead"


def test_run_button_is_hidden_when_administration_is_disabled(results_file, monkeypatch):
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD_HASH", "")
    at = open_page()
    assert not at.button and not at.text_input
    assert "nicht eingerichtet" in texts(at.caption)


def wait_for_eval_thread(timeout: float = 300) -> None:
    deadline = time.time() + timeout
    for thread in [t for t in threading.enumerate() if t.name == "eval-run"]:
        thread.join(max(0.0, deadline - time.time()))
        assert not thread.is_alive(), "eval run did not finish"


def test_admin_runs_the_eval_once_at_a_time_and_the_page_shows_the_new_results(results_file, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(CACHE, data_dir / "embedding-cache.sqlite")  # the eval index reuses known vectors
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    questions = tmp_path / "questions.jsonl"
    lines = [line for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    questions.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_EVAL_QUESTIONS", str(questions))
    at = log_in(open_page())
    at.button(key="eval_start").click().run()
    second_session = log_in(open_page())  # meanwhile, another admin opens the page
    assert second_session.button(key="eval_start").disabled
    assert "Evaluation läuft seit" in texts(second_session.info)
    wait_for_eval_thread()

    at.run()
    assert "Letzte Evaluation abgeschlossen" in texts(at.success), texts(at.error)
    assert at.dataframe[0].value.set_index("Kennzahl").loc["n_questions", "alle"] == "2"
    assert sorted(p.name for p in (results_file.parent / "report").glob("*.png")) == [
        "ranks.png", "refusal_scores.png", "tags.png"]
    entry = json.loads((data_dir / AUDIT_FILE).read_text(encoding="utf-8"))
    assert (entry["actor"], entry["action"], entry["detail"]["summary"]["n_questions"]) == ("admin", "eval", 2)
    assert "passed" in entry["detail"]["gate"]
