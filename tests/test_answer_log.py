"""The answer log: one redacted JSON line per answer from the CLI and the chat page, readable with
`python -m assistant audit`, safe under concurrent appends, purged after the retention period, and never
a reason for an answer to fail. The personal-data test asks questions full of personal data through
the real CLI and the real app, then searches every file of the data directory for it."""
from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import threading

import pytest
from streamlit.testing.v1 import AppTest

from assistant.governance import answer_log
from assistant.governance.answer_log import AnswerLog, answer_log_path, model_name, read_entries
from assistant.governance.privacy import find_personal_data, redact
from assistant.records import Answer, Citation
from conftest import MODEL_DIR, ROOT

pytestmark = pytest.mark.security

PROTOCOLS = "Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?"
CANTEEN = "Was gibt es heute in der Kantine?"
ART_26_6 = "Art. 26 Abs. 6 KI-VO"
AI_ACT_VERSION = "2024-06-13"
UTC = dt.timezone.utc

# questions and a comment as staff might paste them from a case file; each piece is caught by the detector
PII_QUESTIONS = [
    "Darf ich die Anfrage von max.mustermann@example.de (Tel. 0170 1234567) mit einem KI-System beantworten?",
    "Frau Dr. Müller, geb. 14.03.1987, fragt zu Az. 12-345/2024: Wie lange müssen Betreiber die Protokolle "
    "aufbewahren?",
    "Überweisung auf DE89 3704 0044 0532 0130 00, Steuer-ID 86095742719 – darf ein Sprachmodell den Bescheid "
    "entwerfen?",
]
PII_COMMENT = "Rückfragen an max.mustermann@example.de oder 0170 1234567, Frau Dr. Müller"
PII_STRINGS = ["max.mustermann@example.de", "max.mustermann", "0170 1234567", "01701234567", "Müller",
               "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "86095742719", "14.03.1987", "12-345/2024"]

CITATION = Citation(n=1, doc_id="eu-ai-act", title="Verordnung (EU) 2024/1689", section=ART_26_6,
                    section_key="art-26/abs-6", chunk_id="c-26-6-0123456789", version=AI_ACT_VERSION,
                    valid_from="2024-08-01", page=None, url="", quote="… mindestens sechs Monate …")
ANSWER = Answer(text="Die Protokolle sind mindestens sechs Monate aufzubewahren [1]", refused=False,
                mode="extractive", citations=(CITATION,), retrieved=(), timings_ms={"retrieve": 12.0, "answer": 3.5})


def lines_of(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def entries_of(path) -> list[dict]:
    return [json.loads(line) for line in lines_of(path)]


def encodings(text: str) -> list[bytes]:
    """The forms a clear-text string could take in a file: UTF-8, UTF-16 (SQLite may use it), JSON-escaped."""
    return [text.encode("utf-8"), text.encode("utf-16-le"), json.dumps(text)[1:-1].encode("ascii")]


def personal_data_in_files(root) -> list[tuple[str, str]]:
    """(file, string) for every clear-text personal data string found in any file below `root`."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.extend((str(path.relative_to(root)), s) for s in PII_STRINGS if any(e in data for e in encodings(s)))
    return found


# --- the real CLI and app over a private copy of the session's corpus index ---------------------
@pytest.fixture(scope="module")
def data_dir(corpus_library, tmp_path_factory):
    """A copy of the session's data directory (index, registry, embedding cache) without any feedback or
    answer log other tests left there; the tests here write to it and search all of it."""
    target = tmp_path_factory.mktemp("answer-log") / "data"
    shutil.copytree(corpus_library.settings.data_dir, target,
                    ignore=shutil.ignore_patterns("answer-log.jsonl*", "feedback.sqlite*", "writer.lock"))
    assert personal_data_in_files(target) == []  # the search below can only find what the tests wrote
    return target


@pytest.fixture(scope="module")
def cli_env(data_dir):
    return dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_EMBEDDING_MODEL=str(MODEL_DIR),
                ASSISTANT_LLM_BASE_URL="", ASSISTANT_LLM_MODEL="")  # a developer's .env must not switch the LLM on


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def app_env(data_dir, llm_server, monkeypatch):
    """The app on the private copy, with the scripted LLM configured (extractive stays the default mode)."""
    llm_server.replies.clear()
    llm_server.requests.clear()
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", str(MODEL_DIR))
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", llm_server.url)
    monkeypatch.setenv("ASSISTANT_LLM_MODEL", "test-model")
    return llm_server


def start() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "fragen.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def test_cli_answer_appends_one_entry_with_the_cited_chunks_and_their_versions(cli_env, data_dir, corpus_library):
    log = answer_log_path(data_dir)
    before = len(lines_of(log))
    started = dt.datetime.now(UTC)
    run = cli(cli_env, "ask", PROTOCOLS, "--json")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    new = entries_of(log)[before:]
    assert len(new) == 1
    [entry] = new
    assert started - dt.timedelta(seconds=1) <= dt.datetime.fromisoformat(entry["time"]) <= dt.datetime.now(UTC)
    assert (entry["source"], entry["question"], entry["personal_data"]) == ("cli", PROTOCOLS, [])
    assert (entry["requested_mode"], entry["mode"], entry["refused"]) == ("extractive", "extractive", False)
    assert (entry["embedding_model"], entry["llm_model"]) == ("multilingual-e5-small", None)
    assert entry["latency_ms"] >= entry["timings_ms"]["retrieve"] > 0
    assert [c["chunk_id"] for c in entry["citations"]] == [c["chunk_id"] for c in record["citations"]]
    assert any(c["label"] == ART_26_6 and c["version"] == AI_ACT_VERSION for c in entry["citations"])
    # each cited chunk is in the index, belongs to the logged version and carries the logged label
    chunks, _ = corpus_library.store.load([c["chunk_id"] for c in entry["citations"]])
    labels = {c.chunk_id: c.label for c in chunks}
    for c in entry["citations"]:
        assert c["chunk_id"] in corpus_library.registry.chunk_ids(c["doc_id"], c["version"]), c
        assert labels[c["chunk_id"]] == c["label"]


def test_app_writes_one_entry_per_answer_in_both_modes(app_env, data_dir):
    from test_generate import citing

    log = answer_log_path(data_dir)
    at = start()
    before = len(lines_of(log))  # the warm-up question at start is not an answer anyone asked for
    ask(at, PROTOCOLS)
    shown = [c.chunk_id for c in at.session_state["turns"][0]["answer"].citations]
    ask(at, CANTEEN)
    assert len(at.session_state["turns"]) == 2
    at.button(key="new-conversation").click().run()  # no history: the LLM is asked once, not for a rewrite first
    at.sidebar.radio(key="mode").set_value("llm").run()
    app_env.replies.append(citing("Betreiber bewahren die Protokolle mindestens sechs Monate auf [{a}].", a=ART_26_6))
    ask(at, PROTOCOLS)
    new = entries_of(log)[before:]
    assert len(new) == 3
    assert all(e["source"] == "app" for e in new)
    extractive, refusal, generated = new
    assert (extractive["mode"], extractive["refused"], extractive["llm_model"]) == ("extractive", False, None)
    assert [c["chunk_id"] for c in extractive["citations"]] == shown
    assert any(c["label"] == ART_26_6 and c["version"] == AI_ACT_VERSION for c in extractive["citations"])
    assert (refusal["question"], refusal["refused"], refusal["citations"]) == (CANTEEN, True, [])
    assert (generated["requested_mode"], generated["mode"], generated["llm_model"]) == ("llm", "llm", "test-model")
    assert [c["label"] for c in generated["citations"]] == [ART_26_6]
    assert generated["latency_ms"] >= generated["timings_ms"]["llm"]


def test_personal_data_appears_in_no_file_of_the_data_directory_nor_in_the_logs(
        cli_env, app_env, data_dir, caplog):
    assert all(s not in redact(q + " " + PII_COMMENT) for q in PII_QUESTIONS for s in PII_STRINGS)
    caplog.set_level(logging.INFO)  # what a production log would hold
    log = answer_log_path(data_dir)
    before = len(lines_of(log))
    # the command line, with the full answer record printed
    for question in PII_QUESTIONS[:2]:
        run = cli(cli_env, "ask", question, "--json")
        assert run.returncode == 0, run.stderr
        assert not [s for s in PII_STRINGS if s in run.stderr]
    # the chat page: extractive answers, a rating with a comment, then a confirmed LLM request
    at = start()
    for question in PII_QUESTIONS:
        ask(at, question)
    at.button(key="rating-0-0-up").click().run()
    at.text_input[0].set_value(PII_COMMENT)
    next(b for b in at.button if b.label == "Kommentar senden").click().run()
    assert not at.exception, at.exception
    assert any("Kommentar ist gespeichert" in c.value for c in at.caption)
    at.button(key="new-conversation").click().run()
    at.sidebar.radio(key="mode").set_value("llm").run()
    app_env.replies.append("Das regeln die Passagen [1].")
    ask(at, PII_QUESTIONS[1])
    next(b for b in at.button if b.label == "Trotzdem an das Sprachmodell senden").click().run()
    assert not at.exception, at.exception
    assert len(app_env.requests) >= 1  # confirmed: it did go to the LLM, and must still be stored redacted

    assert personal_data_in_files(data_dir) == []
    assert [s for s in PII_STRINGS if s in caplog.text] == []
    # and the questions were logged, redacted, with the kinds of personal data named
    new = entries_of(log)[before:]
    assert [e["question"] for e in new] == [redact(q) for q in [*PII_QUESTIONS[:2], *PII_QUESTIONS, PII_QUESTIONS[1]]]
    assert {k for e in new for k in e["personal_data"]} == {"email", "phone", "name", "birth_date", "file_number",
                                                           "iban", "tax_id"}
    assert new[-1]["requested_mode"] == "llm"


# --- the reader ---------------------------------------------------------------------------------
def at_time(year: int, month: int, day: int):
    return lambda: dt.datetime(year, month, day, 9, 30, tzinfo=UTC)


@pytest.fixture
def filled(tmp_path):
    """A data directory whose answer log holds three entries from January to March 2026."""
    data = tmp_path / "data"
    data.mkdir()
    for (y, m, d), question, answer in [((2026, 1, 10), "Erste Frage an max@example.de?", ANSWER),
                                        ((2026, 2, 1), "Zweite Frage zur Kantine?",
                                         Answer(text="Keine Aussage.", refused=True, mode="extractive",
                                                citations=(), retrieved=())),
                                        ((2026, 3, 5), "Dritte Frage zu Protokollen?", ANSWER)]:
        log = AnswerLog(answer_log_path(data), "multilingual-e5-small", "test-model", "app", clock=at_time(y, m, d))
        assert log.record(question, answer, requested_mode="llm" if d == 5 else "extractive", latency_ms=1234.5)
    return data


def test_audit_command_prints_the_entries_as_a_table_newest_last(filled):
    run = cli({**os.environ, "ASSISTANT_DATA_DIR": str(filled)}, "audit")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Zeit (UTC)" in out and "Frage (geschwärzt)" in out
    rows = [line for line in out.splitlines() if line.startswith("2026-")]
    assert [r[:19] for r in rows] == ["2026-01-10 09:30:00", "2026-02-01 09:30:00", "2026-03-05 09:30:00"]
    assert "Erste Frage an [E-MAIL]?" in rows[0] and "max@example.de" not in out
    assert "abgelehnt" in rows[1] and "beantwortet" in rows[2] and "1.234 ms" in rows[2]
    assert f"[1] {ART_26_6} (eu-ai-act, Fassung {AI_ACT_VERSION}, Chunk c-26-6-01234" in out
    assert "Auszug*" in rows[2] and "Sprachmodell test-model" in out
    assert "Personenbezogene Daten geschwärzt: E-Mail-Adresse" in out


def test_audit_since_and_limit_filter_and_json_prints_the_stored_lines(filled):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(filled)}
    since = cli(env, "audit", "--since", "2026-02-01")
    assert since.returncode == 0, since.stderr
    assert "2026-01-10" not in since.stdout and "2026-02-01 09:30" in since.stdout and "2026-03-05" in since.stdout
    raw = cli(env, "audit", "--since", "2026-02-01", "--limit", "1", "--json")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.splitlines() == lines_of(answer_log_path(filled))[-1:]
    bad = cli(env, "audit", "--since", "1.2.2026")
    assert bad.returncode == 1 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1


def test_reader_skips_and_counts_unreadable_lines(filled):
    log = answer_log_path(filled)
    with log.open("a", encoding="utf-8") as f:
        f.write('{"time": "2026-03-0\n')  # e.g. cut off when the disk ran full
    entries, skipped = read_entries(log)
    assert (len(entries), skipped) == (3, 1)


# --- concurrency --------------------------------------------------------------------------------
def test_ten_threads_appending_give_exactly_that_many_whole_lines(tmp_path):
    log = AnswerLog(answer_log_path(tmp_path), "multilingual-e5-small")
    per_thread, filler = 40, "x" * 3000  # long lines: an interleaving write would split one

    def work(t: int) -> None:
        for i in range(per_thread):
            assert log.record(f"Thread {t} Frage {i} {filler}", ANSWER) is not None

    threads = [threading.Thread(target=work, args=(t,)) for t in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    entries = entries_of(log.path)  # raises on any broken line
    assert len(entries) == 10 * per_thread
    assert sorted(e["question"].split(" x")[0] for e in entries) == sorted(
        f"Thread {t} Frage {i}" for t in range(10) for i in range(per_thread))


def test_purge_while_threads_append_loses_no_line(tmp_path):
    log = AnswerLog(answer_log_path(tmp_path), "multilingual-e5-small")
    log.record("Alte Frage?", ANSWER)  # so the purge has a file to rewrite from the start
    done = threading.Event()

    def purge() -> None:
        while not done.is_set():
            assert log.purge(180) == 0

    purger = threading.Thread(target=purge)
    purger.start()
    writers = [threading.Thread(target=lambda: [log.record("Frage?", ANSWER) for _ in range(50)]) for _ in range(4)]
    for th in writers:
        th.start()
    for th in writers:
        th.join()
    done.set()
    purger.join()
    assert len(entries_of(log.path)) == 1 + 4 * 50


# --- failures -----------------------------------------------------------------------------------
def test_unwritable_log_gives_a_warning_without_the_question_and_no_error(tmp_path, caplog):
    path = answer_log_path(tmp_path)
    path.mkdir()  # a directory where the file should be: fails for root too
    question = "Frage von max.mustermann@example.de zu Art. 50?"
    assert AnswerLog(path, "multilingual-e5-small").record(question, ANSWER) is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "answer log entry not written" in warning.getMessage() and str(path) in warning.getMessage()
    assert "max.mustermann" not in caplog.text and "Frage von" not in caplog.text


def test_cli_answers_when_the_log_cannot_be_written(cli_env, data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("answer-log.jsonl*"))
    answer_log_path(data).mkdir()
    run = cli({**cli_env, "ASSISTANT_DATA_DIR": str(data)}, "ask", PROTOCOLS)
    assert run.returncode == 0, run.stderr
    assert "Quellen:" in run.stdout and ART_26_6 in run.stdout
    assert "WARNING" in run.stderr and "answer log entry not written" in run.stderr
    assert PROTOCOLS not in run.stderr


def test_app_answers_when_the_disk_is_full(app_env, data_dir, monkeypatch, caplog):
    def disk_full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(answer_log, "_append", disk_full)
    at = ask(start(), PROTOCOLS)
    assert any(ART_26_6 in e.label for e in at.expander if e.label.startswith("["))
    assert "answer log entry not written (No space left on device)" in caplog.text
    assert PROTOCOLS not in caplog.text


# --- retention ----------------------------------------------------------------------------------
def test_purge_removes_only_entries_older_than_the_retention(tmp_path):
    path = answer_log_path(tmp_path)
    now = dt.datetime(2026, 11, 29, tzinfo=UTC)
    for days_ago in (400, 181, 179, 1):
        written_at = now - dt.timedelta(days=days_ago)
        AnswerLog(path, "m", clock=lambda t=written_at: t).record(f"vor {days_ago} Tagen", ANSWER)
    assert AnswerLog(path, "m").purge(180, now=now) == 2
    assert [e["question"] for e in entries_of(path)] == ["vor 179 Tagen", "vor 1 Tagen"]


def test_purge_command_also_purges_the_answer_log(tmp_path):
    data = tmp_path / "data"
    path = answer_log_path(data)
    data.mkdir()
    now = dt.datetime.now(UTC)
    for days_ago in (200, 2):
        written_at = now - dt.timedelta(days=days_ago)
        AnswerLog(path, "m", clock=lambda t=written_at: t).record(f"vor {days_ago} Tagen", ANSWER)
    run = cli({**os.environ, "ASSISTANT_DATA_DIR": str(data)}, "purge")
    assert run.returncode == 0, run.stderr
    assert "und 1 Antwortprotokoll-Einträge älter als 180 Tage gelöscht." in run.stdout
    assert [e["question"] for e in entries_of(path)] == ["vor 2 Tagen"]


# --- the entry itself (pure) ----------------------------------------------------------------------
def test_entry_names_the_kinds_of_personal_data_but_keeps_none_of_it():
    question = PII_QUESTIONS[1]
    entry = answer_log.make_entry(question, ANSWER, time=dt.datetime(2026, 3, 1, 12, tzinfo=UTC),
                                  embedding_model="multilingual-e5-small")
    assert entry["question"] == ("Frau Dr. [NAME], geb. [GEBURTSDATUM], fragt zu Az. [AKTENZEICHEN]: Wie lange "
                                 "müssen Betreiber die Protokolle aufbewahren?")
    assert entry["personal_data"] == [f.kind for f in find_personal_data(question)] == ["name", "birth_date",
                                                                                         "file_number"]
    assert entry["time"] == "2026-03-01T12:00:00.000+00:00"
    assert entry["citations"] == [{"n": 1, "chunk_id": "c-26-6-0123456789", "doc_id": "eu-ai-act",
                                   "version": AI_ACT_VERSION, "label": ART_26_6}]
    assert entry["latency_ms"] == 15.5  # from the answer's timings when the caller measured nothing


def test_local_model_is_named_by_its_folder_not_its_path():
    assert model_name(str(MODEL_DIR)) == MODEL_DIR.name
    assert model_name("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
