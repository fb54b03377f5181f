"""The feedback store keeps redacted text, the cited chunks and versions, and forgets old entries."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from assistant.governance.feedback import LLM_CONFIRMED, FeedbackStore, feedback_path
from assistant.records import Answer, Citation

CITATION = Citation(n=1, doc_id="eu-ai-act", title="Verordnung (EU) 2024/1689", section="Art. 26 Abs. 6 KI-VO",
                    section_key="art-26/abs-6", chunk_id="c-26-6", version="2024-06-13", valid_from="2024-08-01",
                    page=None, url="", quote="… mindestens sechs Monate …")
ANSWER = Answer(text="Die Protokolle sind mindestens sechs Monate aufzubewahren [1]", refused=False,
                mode="extractive", citations=(CITATION,), retrieved=())
REFUSAL = Answer(text="Dazu enthalten die hinterlegten Dokumente keine Aussage.", refused=True, mode="extractive",
                 citations=(), retrieved=())


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc))


@pytest.fixture
def store(tmp_path, clock):
    return FeedbackStore(feedback_path(tmp_path), clock=clock)


def test_record_stores_redacted_question_and_comment(store):
    store.record("Darf ich Mails von max@example.de an das LLM geben?", ANSWER, 1,
                 comment="Rückfragen an Frau Weber, Tel. 0611 987654", mode="extractive")
    [row] = store.list()
    assert row["question"] == "Darf ich Mails von [E-MAIL] an das LLM geben?"
    assert row["comment"] == "Rückfragen an Frau [NAME], Tel. [TELEFON]"


def test_record_keeps_answer_mode_rating_cited_chunks_and_versions(store):
    row_id = store.record("Wie lange sind Protokolle aufzubewahren?", ANSWER, -1, mode="llm")
    [row] = store.list()
    assert row["id"] == row_id
    assert (row["rating"], row["mode"], row["refused"]) == (-1, "llm", False)
    assert row["answer_text"] == ANSWER.text
    assert row["chunk_ids"] == ["c-26-6"]
    assert row["versions"] == ["eu-ai-act@2024-06-13"]
    assert row["created_at"] == "2026-03-01T12:00:00+00:00"


def test_refusal_is_stored_without_chunks(store):
    store.record("Was gibt es heute in der Kantine?", REFUSAL, -1)
    [row] = store.list()
    assert (row["refused"], row["chunk_ids"], row["mode"]) == (True, [], "extractive")


def test_rating_other_than_plus_or_minus_one_is_refused(store):
    with pytest.raises(ValueError):
        store.record("Frage", ANSWER, 0)


def test_comment_added_later_is_redacted_and_stays_in_the_same_row(store):
    row_id = store.record("Frage", ANSWER, 1)
    store.add_comment(row_id, "Bitte an a.b@example.org melden")
    rows = store.list()
    assert len(rows) == 1 and rows[0]["comment"] == "Bitte an [E-MAIL] melden"


def test_list_returns_newest_first_and_respects_limit(store):
    for n in range(3):
        store.record(f"Frage {n}", ANSWER, 1)
    assert [r["question"] for r in store.list(limit=2)] == ["Frage 2", "Frage 1"]


def test_confirmation_to_send_personal_data_is_audited_redacted(store):
    store.record_confirmation("Antrag von Frau Müller, geb. 01.02.1980", ["Name", "Geburtsdatum"])
    [entry] = store.audit()
    assert entry["event"] == LLM_CONFIRMED
    assert entry["detail"] == {"question": "Antrag von Frau [NAME], geb. [GEBURTSDATUM]",
                               "kinds": ["Name", "Geburtsdatum"], "mode": "llm"}


def test_purge_deletes_only_entries_older_than_the_retention_period(store, clock):
    store.record("alt", ANSWER, 1)
    store.record_confirmation("alt", ["Name"])
    clock.now += dt.timedelta(days=100)
    store.record("neu", ANSWER, 1)
    clock.now += dt.timedelta(days=81)  # the first entries are now 181 days old, the new one 81
    assert store.purge(180) == 2
    assert [r["question"] for r in store.list()] == ["neu"]
    assert store.audit() == []
    assert store.purge(180) == 0


def test_store_file_is_plain_sqlite_in_the_data_directory(tmp_path, store):
    store.record("Frage", ANSWER, 1)
    with sqlite3.connect(tmp_path / "feedback.sqlite") as db:
        assert db.execute("SELECT count(*) FROM feedback").fetchone() == (1,)
