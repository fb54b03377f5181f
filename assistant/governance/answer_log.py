"""The answer log: one JSON line per answer in `<data_dir>/answer-log.jsonl`, append-only.

An entry holds what an auditor needs to see which documents an answer relied on: time (UTC), the
question *redacted*, the kinds of personal data found in it (names of kinds only), requested and actual
answer mode, refusal, the cited chunks with document id, version and label, the model names and the
latency. Clear-text personal data never reaches the file.

Each entry is one `os.write` to a descriptor opened with O_APPEND, followed by `fsync`: the kernel
places the whole line at the end of the file, so lines from several threads and processes never
interleave. The retention purge is the only rewrite; appenders hold a shared lock on a sidecar lock
file and the purge an exclusive one, so no line appended while the file is being replaced is lost.
A failure to write (disk full, read-only directory) is logged as a warning and never stops an answer.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from assistant.errors import StorageError
from assistant.governance.privacy import DESCRIPTIONS, find_personal_data, redact
from assistant.records import Answer
from assistant.governance.retention import purge_jsonl

try:
    import fcntl
except ImportError:  # not on Windows: appends stay atomic, only a purge could race with them there
    fcntl = None

log = logging.getLogger(__name__)

FILE_NAME = "answer-log.jsonl"
MODE_LABELS = {"extractive": "Auszug", "llm": "Sprachmodell"}


def answer_log_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def model_name(model: str) -> str:
    """The embedding model as the index records it: the folder name of a local model. The full path is
    left out on purpose; it may contain a user name (/home/<name>/…)."""
    path = Path(model)
    return path.name if path.exists() else model


def make_entry(question: str, answer: Answer, *, time: dt.datetime, embedding_model: str, llm_model: str = "",
               requested_mode: str = "", latency_ms: float | None = None, source: str = "") -> dict:
    """The log entry for one answer (pure). The question is redacted here, so no caller can forget it."""
    requested = requested_mode or answer.mode
    if latency_ms is None:
        latency_ms = sum(v for v in answer.timings_ms.values() if isinstance(v, (int, float)))
    return {
        "time": time.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "source": source,
        "pid": os.getpid(),
        "question": redact(question),
        "personal_data": list(dict.fromkeys(f.kind for f in find_personal_data(question))),
        "requested_mode": requested,
        "mode": answer.mode,
        "refused": answer.refused,
        "citations": [{"n": c.n, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "version": c.version,
                       "label": c.section} for c in answer.citations],
        "embedding_model": embedding_model,
        # the LLM was asked (and its time counted) even when its reply was discarded for the extract
        "llm_model": llm_model if requested == "llm" else None,
        "latency_ms": round(float(latency_ms), 1),
        "timings_ms": dict(answer.timings_ms),
    }


def dumps(entry: dict) -> str:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _append(path: Path, data: bytes) -> None:
    """The storage boundary (fault tests replace it): one write of one whole line, then fsync."""
    with _locked(path, exclusive=False):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            if written != len(data):  # only when the disk is full; the reader skips the broken line
                raise OSError(28, f"only {written} of {len(data)} bytes written")
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class AnswerLog:
    """Where entries go and what every entry of this process says about its models."""

    path: Path
    embedding_model: str
    llm_model: str = ""
    source: str = ""  # "app" | "cli"
    clock: Callable[[], dt.datetime] = field(default=_utc_now, compare=False)

    @classmethod
    def from_settings(cls, settings, *, source: str) -> AnswerLog:
        return cls(answer_log_path(settings.data_dir), model_name(settings.embedding_model),
                   settings.llm_model, source)

    def record(self, question: str, answer: Answer, *, requested_mode: str = "",
               latency_ms: float | None = None) -> dict | None:
        """Append the entry for one answer and return it; None (and a warning) when it could not be written."""
        try:
            entry = make_entry(question, answer, time=self.clock(), embedding_model=self.embedding_model,
                               llm_model=self.llm_model, requested_mode=requested_mode, latency_ms=latency_ms,
                               source=self.source)
            _append(self.path, (dumps(entry) + "\n").encode("utf-8"))
        except Exception as exc:  # an audit failure must never cost the user the answer
            # the message names the file and the error only: the question may contain personal data
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            log.warning("%s: answer log entry not written (%s); the answer was given regardless. "
                        "Check the data directory (ASSISTANT_DATA_DIR) and free disk space.", self.path, reason)
            return None
        return entry

    def purge(self, days: int, *, now: dt.datetime | None = None) -> int:
        """Delete entries older than `days`; returns how many."""
        if not self.path.is_file():
            return 0
        try:
            with _locked(self.path, exclusive=True):
                return purge_jsonl(self.path, days, now=now)
        except OSError as exc:
            raise StorageError(f"{self.path}: old answer log entries cannot be deleted ({exc.strerror or exc}). "
                               "Check the data directory and its permissions.") from None


def read_entries(path: Path, *, since: dt.date | None = None, limit: int | None = None) -> tuple[list[dict], int]:
    """Entries in file order (oldest first) from `since` on (UTC date), the last `limit` of them, and the
    number of unreadable lines skipped."""
    if not path.is_file():
        return [], 0
    entries, skipped = [], 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                when = dt.datetime.fromisoformat(entry["time"])
            except (ValueError, KeyError, TypeError):
                skipped += 1
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            if since is None or when.astimezone(dt.timezone.utc).date() >= since:
                entries.append(entry)
    if limit is not None:
        entries = entries[-limit:] if limit > 0 else []
    return entries, skipped


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def format_entries(entries: list[dict], *, question_width: int = 70) -> str:
    """A readable table with German headings; each entry's sources and models on indented lines below it."""
    header = f"{'Zeit (UTC)':<19}  {'Quelle':<6}  {'Modus':<12}  {'Ergebnis':<11}  {'Dauer':>9}  Frage (geschwärzt)"
    lines = [header, "-" * len(header)]
    pad = " " * 21
    for e in entries:
        when = str(e.get("time", ""))[:19].replace("T", " ")
        mode = MODE_LABELS.get(e.get("mode"), str(e.get("mode")))
        if e.get("requested_mode") == "llm" and e.get("mode") != "llm":
            mode += "*"
        result = "abgelehnt" if e.get("refused") else "beantwortet"
        latency = f"{e.get('latency_ms', 0):,.0f} ms".replace(",", ".")
        lines.append(f"{when:<19}  {str(e.get('source', '')):<6}  {mode:<12}  {result:<11}  {latency:>9}  "
                     f"{_shorten(str(e.get('question', '')), question_width)}")
        sources = "; ".join(f"[{c.get('n')}] {c.get('label')} ({c.get('doc_id')}, Fassung {c.get('version')}, "
                            f"Chunk {str(c.get('chunk_id'))[:12]})" for c in e.get("citations", []))
        lines.append(f"{pad}Quellen: {sources or '–'}")
        models = e.get("embedding_model") or "–"
        if e.get("llm_model"):
            models += f", Sprachmodell {e['llm_model']}"
        lines.append(f"{pad}Modelle: {models}")
        if e.get("personal_data"):
            kinds = ", ".join(DESCRIPTIONS.get(k, k) for k in e["personal_data"])
            lines.append(f"{pad}Personenbezogene Daten geschwärzt: {kinds}")
    if any(e.get("requested_mode") == "llm" and e.get("mode") != "llm" for e in entries):
        lines.extend(["", "* Sprachmodell angefragt, angezeigt wurde die Auszugsantwort."])
    return "\n".join(lines)
