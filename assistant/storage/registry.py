"""Which documents and versions exist, which chunks belong to each version, and which is in force.

A version's chunks become visible only when the version row and all its chunk rows are committed in
one SQLite transaction, so a crash mid-ingest never shows a half-indexed version. Every change bumps
a generation number that readers compare to know when to reload.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path

from assistant.errors import InputError, StorageError, write_failed
from assistant.records import DocumentVersion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
  doc_id TEXT NOT NULL, version TEXT NOT NULL, valid_from TEXT NOT NULL, title TEXT, short TEXT, kind TEXT,
  issuer TEXT, sha256 TEXT, file TEXT, url TEXT, licence TEXT, valid_from_approx INTEGER, note TEXT,
  state TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (doc_id, version));
CREATE TABLE IF NOT EXISTS version_chunks (
  doc_id TEXT NOT NULL, version TEXT NOT NULL, chunk_id TEXT NOT NULL, PRIMARY KEY (doc_id, version, chunk_id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
STATES = ("staged", "active", "retired")
_COLUMNS = [f.name for f in fields(DocumentVersion)]


class VersionQueries:
    """What both registries (SQLite here, Chroma server in registry_server) answer from `versions()`."""

    def versions(self, doc_id: str | None = None) -> list[DocumentVersion]:
        raise NotImplementedError

    def version(self, doc_id: str, version: str) -> DocumentVersion | None:
        found = [v for v in self.versions(doc_id) if v.version == version]
        return found[0] if found else None

    def version_with_sha(self, doc_id: str, sha256: str) -> DocumentVersion | None:
        found = [v for v in self.versions(doc_id) if v.sha256 == sha256]
        return found[0] if found else None

    def in_force(self, on: dt.date | None = None) -> dict[str, DocumentVersion]:
        """Per document, the active version with the latest valid_from on or before `on` (default today)."""
        day = (on or dt.date.today()).isoformat()
        chosen: dict[str, DocumentVersion] = {}
        for v in self.versions():
            if v.state == "active" and v.valid_from <= day:
                if v.doc_id not in chosen or (v.valid_from, v.version) > (chosen[v.doc_id].valid_from, chosen[v.doc_id].version):
                    chosen[v.doc_id] = v
        return chosen

    def previous_version(self, v: DocumentVersion) -> DocumentVersion | None:
        """The non-staged version of the same document that came before `v`."""
        older = [o for o in self.versions(v.doc_id) if o.state != "staged"
                 and (o.valid_from, o.version) < (v.valid_from, v.version)]
        return older[-1] if older else None


class Registry(VersionQueries):
    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: registry cannot be opened ({exc}). Check the data directory "
                               "(ASSISTANT_DATA_DIR) and its permissions.") from None
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------------
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def versions(self, doc_id: str | None = None) -> list[DocumentVersion]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM versions"
        rows = self._db.execute(sql + (" WHERE doc_id = ?" if doc_id else "") + " ORDER BY doc_id, valid_from, version",
                                (doc_id,) if doc_id else ()).fetchall()
        return [_to_version(r) for r in rows]

    def chunk_ids(self, doc_id: str, version: str) -> list[str]:
        rows = self._db.execute("SELECT chunk_id FROM version_chunks WHERE doc_id = ? AND version = ?", (doc_id, version))
        return [r[0] for r in rows]

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT DISTINCT chunk_id FROM version_chunks")}

    # --- writing ---------------------------------------------------------------------------
    @contextmanager
    def _transaction(self):
        """All or nothing; a failed write (disk full, read-only, I/O error) leaves the registry as it was."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield
                self._db.execute("COMMIT")
            except BaseException as exc:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # nothing was begun, or SQLite already rolled back
                if isinstance(exc, sqlite3.Error):
                    raise write_failed(self.path, exc) from None
                raise

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def add_version(self, doc: DocumentVersion, chunk_ids: list[str], *, state: str) -> None:
        """Register a version with all its chunks in one transaction (all or nothing)."""
        if state not in STATES:
            raise ValueError(state)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        values = [getattr(replace(doc, state=state), c) for c in _COLUMNS]
        with self._transaction():
            self._db.execute("DELETE FROM version_chunks WHERE doc_id = ? AND version = ?", (doc.doc_id, doc.version))
            self._db.execute(f"INSERT OR REPLACE INTO versions ({', '.join(_COLUMNS)}, created_at) "
                             f"VALUES ({', '.join('?' * len(_COLUMNS))}, ?)", [*values, now])
            self._db.executemany("INSERT OR IGNORE INTO version_chunks VALUES (?, ?, ?)",
                                 [(doc.doc_id, doc.version, c) for c in chunk_ids])
            self._bump()

    def set_state(self, doc_id: str, version: str, state: str) -> DocumentVersion:
        if state not in STATES:
            raise ValueError(state)
        if not self.version(doc_id, version):
            known = ", ".join(v.version for v in self.versions(doc_id)) or "none"
            raise InputError(f"{doc_id} {version}: no such version (known versions: {known}).")
        with self._transaction():
            self._db.execute("UPDATE versions SET state = ? WHERE doc_id = ? AND version = ?", (state, doc_id, version))
            self._bump()
        return self.version(doc_id, version)

    def touch(self) -> None:
        """A new generation without other changes: readers reload (after the question index changed)."""
        with self._transaction():
            self._bump()

    def reset(self) -> None:
        """Forget every version (for a rebuild); the generation keeps counting up, so readers reload."""
        with self._transaction():
            self._db.execute("DELETE FROM version_chunks")
            self._db.execute("DELETE FROM versions")
            self._bump()

    def _bump(self) -> None:
        self._db.execute("INSERT INTO meta VALUES ('generation', '1') "
                         "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def close(self) -> None:
        self._db.close()


def open_registry(settings):
    """The registry beside the chunks: on the Chroma server when one is configured, else SQLite in the data dir."""
    if settings.chroma_url:
        from assistant.storage.registry_server import ServerRegistry
        from assistant.storage.store import connect_chroma

        return ServerRegistry(connect_chroma(settings), where=settings.chroma_url)
    return Registry(settings.registry_path)


def _to_version(row) -> DocumentVersion:
    data = dict(zip(_COLUMNS, row))
    data["valid_from_approx"] = bool(data["valid_from_approx"])
    return DocumentVersion(**{k: ("" if v is None and k not in ("valid_from_approx",) else v) for k, v in data.items()})
