"""MASTD re-ingests a new guideline version: answers from the version in force, questions about the
old one, change notes, the diff report, the eval gate on the staged version, and crash safety."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from assistant.answering.extractive import Answerer
from assistant.storage.library import open_library
from assistant.retrieval.ranking import Retriever
from conftest import CACHE, GUIDELINE_V1, GUIDELINE_V2, MODEL_DIR, ROOT, make_settings
from eval.staged import staged_gate
from ingest.pipeline import ingest_version
from ingest.reports import write_diff_report

TODAY = dt.date(2026, 11, 29)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, embedder, guideline_pdfs):
    lib = open_library(make_settings(tmp_path_factory.mktemp("versions")), embedder=embedder)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    ingest_version(lib, GUIDELINE_V2, guideline_pdfs["leitlinie_v2"])
    return lib


@pytest.fixture(scope="module")
def answerer(two_versions):
    return Answerer(Retriever(two_versions, clock=lambda: TODAY))


def test_answer_comes_from_the_version_in_force(answerer):
    answer = answerer.answer("Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?")
    cited = [c for c in answer.citations if c.section == "Ziff. 5.2 LL-KI (fiktiv)"]
    assert cited and cited[0].version == "2026-03"
    assert "sechs Wochen" in answer.text and "acht Wochen" not in answer.text


def test_question_naming_an_earlier_date_is_answered_from_the_version_then_in_force(answerer):
    answer = answerer.answer("Innerhalb welcher Frist wurde über die Zulassung eines neuen KI-Werkzeugs entschieden, "
                             "wie es am 1. Oktober 2025 galt?")
    cited = [c for c in answer.citations if c.section == "Ziff. 5.2 LL-KI (fiktiv)"]
    assert cited and cited[0].version == "2025-09"
    assert "acht Wochen" in answer.text


def test_question_about_the_old_version_uses_the_previous_version(answerer):
    answer = answerer.answer("Was galt vor der Änderung für private Konten bei öffentlichen KI-Diensten?")
    assert {c.version for c in answer.citations} == {"2025-09"}
    assert "Ziff. 2.3 LL-KI (fiktiv)" in [c.section for c in answer.citations]


def test_cited_section_changed_in_the_new_version_is_noted(answerer):
    answer = answerer.answer("Müssen interne Vermerke, die mit KI erstellt wurden, gekennzeichnet werden?")
    assert "Ziff. 4.1 LL-KI (fiktiv)" in [c.section for c in answer.citations]
    assert any("Ziff. 4.1 LL-KI (fiktiv) wurde mit der Fassung 2026-03" in n for n in answer.notes)


def test_what_changed_is_answered_from_the_diff(answerer):
    answer = answerer.answer("Was hat sich in der neuen Fassung der Leitlinie geändert?")
    assert not answer.refused
    assert "1 neue, 2 geänderte und 1 entfallene" in answer.text
    sections = {c.section: c.version for c in answer.citations}
    assert sections == {"Ziff. 3.4 LL-KI (fiktiv)": "2026-03", "Ziff. 4.1 LL-KI (fiktiv)": "2026-03",
                        "Ziff. 5.2 LL-KI (fiktiv)": "2026-03", "Ziff. 2.3 LL-KI (fiktiv)": "2025-09"}
    retrieved = {h.chunk.chunk_id: h.chunk.text for h in answer.retrieved}
    assert all(c.quote in retrieved[c.chunk_id] for c in answer.citations)


def test_diff_report_lists_sections_with_word_level_changes(two_versions):
    diff, paths = write_diff_report(two_versions, "ll-ki-fiktiv", "2025-09", "2026-03")
    kinds = {c.label: c.kind for c in diff.changes}
    assert kinds == {"Ziff. 3.4 LL-KI (fiktiv)": "added", "Ziff. 4.1 LL-KI (fiktiv)": "changed",
                     "Ziff. 5.2 LL-KI (fiktiv)": "changed", "Ziff. 2.3 LL-KI (fiktiv)": "removed"}
    md = paths[0].read_text(encoding="utf-8")
    assert "## Ziff. 5.2 LL-KI (fiktiv) (geändert)" in md
    assert re.search(r"~~[^~]*acht[^~]*~~ \*\*[^*]*sechs[^*]*\*\*", md)
    page = paths[1].read_text(encoding="utf-8")
    assert "<del>" in page and "<ins>" in page and "Ziff. 2.3 LL-KI (fiktiv) (entfallen)" in page


def _without_section(markdown: str, number: str) -> str:
    """The guideline text with one numbered section (heading and body) removed."""
    out, skipping = [], False
    for line in markdown.splitlines():
        if line.startswith("#"):
            skipping = line.split()[1] == number
        if not skipping:
            out.append(line)
    return "\n".join(out)


def test_gate_keeps_back_a_version_that_removes_a_section_a_question_depends_on(tmp_path, embedder):
    lib = open_library(make_settings(tmp_path / "data"), embedder=embedder)
    v2 = ROOT / "tests" / "fixtures" / "leitlinie_v2.md"
    ingest_version(lib, GUIDELINE_V2, v2)
    v3 = tmp_path / "leitlinie_v3.md"
    v3.write_text(_without_section(v2.read_text(encoding="utf-8"), "7.1"), encoding="utf-8")
    v3_doc = replace(GUIDELINE_V2, version="2026-09", valid_from="2026-09-01")
    ingest_version(lib, v3_doc, v3, state="staged")
    result, comparison = staged_gate(lib, "ll-ki-fiktiv", "2026-09", clock=lambda: TODAY)
    assert not result.passed
    assert "f001" in comparison["newly_failing"]  # the 24-hour reporting duty of Ziff. 7.1
    assert lib.registry.version("ll-ki-fiktiv", "2026-09").state == "staged"


def _cli_env(data_dir, **extra):
    return {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR), **extra}


def _add_args(path, version, valid_from):
    return [sys.executable, "-m", "ingest", "add", str(path), "--doc-id", "ll-ki-fiktiv", "--version", version,
            "--valid-from", valid_from, "--title", GUIDELINE_V1.title, "--short", "LL-KI (fiktiv)"]


@pytest.mark.reliability
@pytest.mark.parametrize("point", ["before-store", "chunks-stored", "before-register"])
def test_kill_during_ingest_leaves_previous_state_served_and_rerun_completes(tmp_path, embedder, guideline_pdfs, point):
    settings = make_settings(tmp_path / "data")
    lib = open_library(settings, embedder=embedder)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    if CACHE.exists():
        import shutil

        shutil.copyfile(CACHE, settings.embedding_cache_path)
    marker = tmp_path / "paused"
    proc = subprocess.Popen(_add_args(guideline_pdfs["leitlinie_v2"], "2026-03", "2026-03-01"), cwd=ROOT,
                            env=_cli_env(settings.data_dir, ASSISTANT_TEST_PAUSE_AT=point,
                                         ASSISTANT_TEST_PAUSE_FILE=str(marker)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.read_text() == point
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the previous state is fully served: v1 only, and answers come from it
    fresh = open_library(settings, embedder=embedder)
    fresh.store.reopen()  # this test process had the index open while the killed process wrote
    assert [v.version for v in fresh.registry.versions("ll-ki-fiktiv")] == ["2025-09"]
    answer = Answerer(Retriever(fresh, clock=lambda: TODAY)).answer(
        "Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?")
    assert {c.version for c in answer.citations} == {"2025-09"} and "acht Wochen" in answer.text
    # re-running completes the version
    done = subprocess.run(_add_args(guideline_pdfs["leitlinie_v2"], "2026-03", "2026-03-01"), cwd=ROOT,
                          env=_cli_env(settings.data_dir), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    again = open_library(settings, embedder=embedder)
    again.store.reopen()
    assert [v.version for v in again.registry.versions("ll-ki-fiktiv")] == ["2025-09", "2026-03"]
    assert again.registry.version("ll-ki-fiktiv", "2026-03").state == "active"


def test_rebuild_restores_uploaded_versions_in_their_state(tmp_path, embedder, guideline_pdfs):
    settings = make_settings(tmp_path / "data")
    if CACHE.exists():
        import shutil

        settings.data_dir.mkdir(parents=True)
        shutil.copyfile(CACHE, settings.embedding_cache_path)
    env = _cli_env(settings.data_dir)
    for path, version, day, extra in ((guideline_pdfs["leitlinie_v1"], "2025-09", "2025-09-01", []),
                                      (guideline_pdfs["leitlinie_v2"], "2026-03", "2026-03-01", ["--stage-only"])):
        done = subprocess.run(_add_args(path, version, day) + extra, cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "ingest", "run", "--rebuild"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lib = open_library(settings, embedder=embedder)
    lib.store.reopen()
    states = {v.version: v.state for v in lib.registry.versions("ll-ki-fiktiv")}
    assert states == {"2025-09": "active", "2026-03": "staged"}
    assert lib.registry.chunk_ids("ll-ki-fiktiv", "2026-03")
    assert {v.doc_id for v in lib.registry.versions()} >= {"eu-ai-act", "ministerrat-rlp-2025-06-top4"}
