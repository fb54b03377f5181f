"""Documents uploaded through the admin page: safe storage, a preview, and audited admin actions.

An upload is stored under `data_dir/uploads` with a name we make up (a browser sends whatever name
it likes, including `../../etc/passwd.pdf`), previewed without touching the index, and only then
ingested. Every administrative change is appended to `data_dir/admin-audit.jsonl`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from assistant.errors import InputError, write_failed
from assistant.storage.library import Library, writer_lock
from assistant.records import DocumentVersion
from assistant.storage.registry import open_registry
from assistant.settings import Settings
from ingest.chunks import chunk_sections
from ingest.load import MAX_FILE_BYTES
from ingest.pipeline import VersionResult, ingest_version, read_document
from ingest.question_writer import question_writer
from ingest.questions import QuestionSource, bundled_questions

ALLOWED_SUFFIXES = (".pdf", ".md", ".txt")
AUDIT_FILE = "admin-audit.jsonl"
ACTIONS = ("upload", "stage", "activate", "retire", "eval", "questions", "login", "logout")
PREVIEW_CHARS = 120
_STATE_ACTION = {"staged": "stage", "active": "activate", "retired": "retire"}


class Admin(Protocol):
    """What the admin actions need from a login: `require()` returns a session tag or raises."""

    def require(self) -> str: ...


def safe_name(filename: str, data: bytes) -> str:
    """`<sha256[:12]>-<cleaned basename><suffix>`: no directories, no '..', only [A-Za-z0-9._-]."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]  # browsers on Windows send backslashes
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in ALLOWED_SUFFIXES:
        raise InputError(f"{base or filename}: Dateityp „{suffix or 'ohne Endung'}“ wird nicht unterstützt. "
                         "Erlaubt sind PDF (.pdf), Markdown (.md) und Text (.txt); es wurde nichts gespeichert.")
    # umlauts become plain letters ("März" -> "Marz") rather than underscores, so names stay readable
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem)
    ascii_stem = re.sub(r"\.{2,}", ".", ascii_stem).strip("._-")[:80] or "upload"
    return f"{hashlib.sha256(data).hexdigest()[:12]}-{ascii_stem}{suffix}"


def save_upload(data: bytes, filename: str, uploads_dir: Path, *, max_bytes: int = MAX_FILE_BYTES) -> Path:
    """Store uploaded bytes inside `uploads_dir` under a safe name; refuses empty, too large, wrong type."""
    name = safe_name(filename, data)
    if not data:
        raise InputError(f"{filename}: Die Datei ist leer (0 Bytes); es wurde nichts gespeichert.")
    if len(data) > max_bytes:
        raise InputError(f"{filename}: {len(data) / 1e6:.1f} MB überschreiten die Grenze von "
                         f"{max_bytes / (1024 * 1024):g} MB (ASSISTANT_MAX_UPLOAD_MB). Teilen Sie das Dokument auf; "
                         "es wurde nichts gespeichert.")
    target = uploads_dir / name
    partial = target.with_name(f".{name}.part")
    try:
        uploads_dir.mkdir(parents=True, exist_ok=True)
        if target.resolve().parent != uploads_dir.resolve():  # belt and braces: safe_name allows no separators
            raise InputError(f"{filename}: unzulässiger Dateiname; es wurde nichts gespeichert.")
        partial.write_bytes(data)
        os.replace(partial, target)  # atomic: a reader never sees half a file
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise write_failed(uploads_dir, exc) from None
    return target


def preview(path: Path, doc: DocumentVersion, *, max_chars: int = 1400,
            max_bytes: int = MAX_FILE_BYTES) -> list[dict[str, Any]]:
    """Sections the splitter detects (key, label, page, first characters, chunks); the index is not touched."""
    sections = read_document(path, doc, max_bytes=max_bytes)
    pieces = Counter(c.section_key for c in chunk_sections(sections, max_chars=max_chars))
    return [{"section_key": s.key, "label": s.label, "page": s.page,
             "text": " ".join(s.text.split())[:PREVIEW_CHARS], "chunks": pieces[s.key]} for s in sections]


def preview_questions(lib: Library, path: Path, doc: DocumentVersion) -> dict[str, list[str]]:
    """Per section of an upload, the questions its passages would get without edits: those they already
    have in the index (an unchanged section), else the bundled ones. The index is not touched."""
    chunks = chunk_sections(read_document(path, doc, max_bytes=lib.settings.max_upload_mb * 1024 * 1024),
                            max_chars=lib.settings.chunk_max_chars)
    stored: dict[str, list[str]] = {}
    for q in lib.questions.for_chunks([c.chunk_id for c in chunks]):
        stored.setdefault(q.chunk_id, []).append(q.text)
    bundled = bundled_questions(lib.settings.corpus_dir)
    out: dict[str, list[str]] = {}
    for c in chunks:
        found = bundled.find(c)
        texts = stored.get(c.chunk_id) or ([t for _, t in found[0]] if found else [])
        out.setdefault(c.section_key, [])
        out[c.section_key] += [t for t in texts if t not in out[c.section_key]]
    return out


def question_edits(doc: DocumentVersion, edits: dict[str, list[str]], *, source: str = "admin") -> QuestionSource:
    """The admin's questions per section as a source for `ingest_version`: a section listed with no
    questions gets none."""
    result = QuestionSource("admin")
    for key, texts in edits.items():
        result.add(doc.doc_id, key, "", [("other", " ".join(t.split())) for t in texts if t.strip()], source)
    return result


def save_question_edits(lib: Library, doc: DocumentVersion, edits: dict[str, list[str]]) -> int:
    """Replace the questions of these sections of an indexed version; readers reload. Returns the number
    of passages changed."""
    from ingest.questions import attach_questions

    chunks, _ = lib.store.load(lib.registry.chunk_ids(doc.doc_id, doc.version))
    chunks = [c for c in chunks if c.section_key in edits]
    report = attach_questions(lib.questions, chunks, provided=question_edits(doc, edits))
    lib.registry.touch()
    return report.provided


def audit(data_dir: Path, actor: str, action: str, doc_id: str, version: str,
          detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append one line to the admin audit log and return it."""
    if action not in ACTIONS:
        raise ValueError(action)
    entry = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "actor": actor,
             "action": action, "doc_id": doc_id, "version": version, "detail": detail or {}}
    data_dir.mkdir(parents=True, exist_ok=True)
    # one write() of one line in append mode: concurrent writers never interleave within a line
    with open(data_dir / AUDIT_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def read_audit(data_dir: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` audit entries, newest first (unreadable lines are skipped, not fatal)."""
    path = data_dir / AUDIT_FILE
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries[::-1]


# --- admin actions: each checks the login first, takes the writer lock where it writes, and audits ---
def admin_upload(admin: Admin, settings: Settings, data: bytes, filename: str,
                 doc: DocumentVersion) -> tuple[Path, list[dict[str, Any]]]:
    """Save an upload and preview it; a file that yields no sections is deleted again."""
    session = admin.require()
    path = save_upload(data, filename, settings.data_dir / "uploads", max_bytes=settings.max_upload_mb * 1024 * 1024)
    try:
        rows = preview(path, doc, max_chars=settings.chunk_max_chars, max_bytes=settings.max_upload_mb * 1024 * 1024)
    except InputError:
        path.unlink(missing_ok=True)
        raise
    audit(settings.data_dir, "admin", "upload", doc.doc_id, doc.version,
          {"session": session, "file": filename, "stored_as": path.name, "bytes": len(data),
           "sha256": hashlib.sha256(data).hexdigest(), "sections": len(rows)})
    return path, rows


def admin_ingest(admin: Admin, lib: Library, doc: DocumentVersion, path: Path, *, stage_only: bool,
                 progress=None, gate: dict[str, Any] | None = None,
                 questions: dict[str, list[str]] | None = None) -> VersionResult:
    """Index an uploaded version (staged or active); the registry commit makes it visible at once or not at all.
    `questions`: the admin's questions per section from the preview (edited, added or deleted)."""
    session = admin.require()
    state = "staged" if stage_only else "active"
    with writer_lock(lib.settings):
        lib.store.check_compatible()
        result = ingest_version(lib, doc, path, state=state, progress=progress,
                                questions=question_edits(doc, questions) if questions is not None else None,
                                writer=question_writer(lib))
    if result.status != "unchanged":
        detail = {"session": session, "file": path.name, "status": result.status, "chunks": result.chunks,
                  "new_chunks": result.new_chunks, "encoded": result.encoded,
                  "sections": {"added": result.sections_added, "changed": result.sections_changed,
                               "removed": result.sections_removed, "unchanged": result.sections_unchanged}}
        if gate is not None:
            detail["gate"] = gate
        if result.questions is not None:
            detail["questions"] = result.questions.line()
        audit(lib.settings.data_dir, "admin", _STATE_ACTION[state], doc.doc_id, doc.version, detail)
    return result


def admin_set_state(admin: Admin, settings: Settings, doc_id: str, version: str, state: str) -> DocumentVersion:
    """Activate, retire or stage a registered version."""
    session = admin.require()
    with writer_lock(settings):
        registry = open_registry(settings)
        try:
            before = registry.version(doc_id, version)
            changed = registry.set_state(doc_id, version, state)
        finally:
            registry.close()
    audit(settings.data_dir, "admin", _STATE_ACTION[state], doc_id, version,
          {"session": session, "previous_state": before.state if before else None})
    return changed

