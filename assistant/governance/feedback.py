"""Feedback on answers, and the audit of confirmed LLM requests, in one SQLite file in the data directory.

Only redacted text is stored (question, comment, answer text): the store must never become a second
copy of personal data that staff typed in by mistake. Entries older than the retention period are
deleted by `purge`.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path
from typing import Callable

from assistant.errors import StorageError
from assistant.governance.privacy import redact
from assistant.records import Answer

FILE_NAME = "feedback.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, question TEXT NOT NULL, rating INTEGER NOT NULL,
  comment TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL, answer_text TEXT NOT NULL, refused INTEGER NOT NULL,
  chunk_ids TEXT NOT NULL, versions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
"""
LLM_CONFIRMED = "llm_personal_data_confirmed"


def feedback_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class FeedbackStore:
    """`clock` returns an aware datetime; tests inject one to check the retention period."""

    def __init__(self, path: Path, *, clock: Callable[[], dt.datetime] = _utc_now):
        self.path = Path(path)
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: feedback store cannot be opened ({exc}). Check the data directory "
                               "(ASSISTANT_DATA_DIR) and its permissions.") from None
        self._lock = threading.Lock()

    def _now(self) -> str:
        return self.clock().astimezone(dt.timezone.utc).isoformat(timespec="seconds")

    def record(self, question: str, answer: Answer, rating: int, comment: str = "", mode: str = "") -> int:
        """Store one rating (+1 or -1) of one answer; returns the row id. Question and comment are redacted."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be +1 or -1, not {rating!r}")
        chunk_ids = [c.chunk_id for c in answer.citations]
        versions = list(dict.fromkeys(f"{c.doc_id}@{c.version}" for c in answer.citations))
        row = (self._now(), redact(question), rating, redact(comment), mode or answer.mode, redact(answer.text),
               int(answer.refused), json.dumps(chunk_ids), json.dumps(versions))
        with self._lock:
            cur = self._db.execute("INSERT INTO feedback (created_at, question, rating, comment, mode, answer_text, "
                                   "refused, chunk_ids, versions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return int(cur.lastrowid)

    def add_comment(self, row_id: int, comment: str) -> None:
        """Attach a (redacted) comment to a rating given earlier, so one answer stays one row."""
        with self._lock:
            self._db.execute("UPDATE feedback SET comment = ? WHERE id = ?", (redact(comment), row_id))

    def record_confirmation(self, question: str, kinds: list[str], mode: str = "llm") -> int:
        """Audit that the user chose to send a question with personal data to the LLM (redacted)."""
        detail = json.dumps({"question": redact(question), "kinds": list(kinds), "mode": mode}, ensure_ascii=False)
        with self._lock:
            cur = self._db.execute("INSERT INTO audit (created_at, event, detail) VALUES (?, ?, ?)",
                                   (self._now(), LLM_CONFIRMED, detail))
        return int(cur.lastrowid)

    def list(self, limit: int = 100) -> list[dict]:
        """The newest feedback rows first, with chunk ids and versions decoded."""
        cur = self._db.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for r in rows:
            r["chunk_ids"] = json.loads(r["chunk_ids"])
            r["versions"] = json.loads(r["versions"])
            r["refused"] = bool(r["refused"])
        return rows

    def audit(self, limit: int = 100) -> list[dict]:
        cur = self._db.execute("SELECT id, created_at, event, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [{"id": i, "created_at": t, "event": e, "detail": json.loads(d)} for i, t, e, d in cur.fetchall()]

    def purge(self, older_than_days: int) -> int:
        """Delete feedback and audit entries older than `older_than_days`; returns how many were deleted."""
        cutoff = (self.clock() - dt.timedelta(days=older_than_days)).astimezone(dt.timezone.utc)
        cutoff_text = cutoff.isoformat(timespec="seconds")
        with self._lock:
            deleted = self._db.execute("DELETE FROM feedback WHERE created_at < ?", (cutoff_text,)).rowcount
            deleted += self._db.execute("DELETE FROM audit WHERE created_at < ?", (cutoff_text,)).rowcount
        return deleted

    def close(self) -> None:
        self._db.close()
