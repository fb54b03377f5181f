"""The version registry kept on the Chroma server, for deployments with several app instances.

Same interface and guarantees as the SQLite registry, built on what a Chroma server offers:
- The whole registry (versions, states, meta) is one JSON state record per generation,
  `state/<n>`. A version's chunk-id list is an immutable record of its own, written first; the state
  record that names it is the commit point, so a crash never shows a half-registered version.
- Writers compare-and-set: Chroma keeps the first record added under an id and ignores later adds, so
  a writer adds `state/<n+1>` and reads it back; if another writer's record is there, it re-reads and
  applies its change again on top. No update is lost, whichever instance writes.
- `state-head` is a hint to the newest generation (updated after each commit); readers roll forward from it,
  so a writer that died between commit and hint costs nothing.
Earlier state records stay as an audit trail of every change.

Writers on different hosts also take a lease (`lease/<n>` records, the same compare-and-set) so that
one ingestion at a time changes the chunks; a lease lapses after `LEASE_SECONDS` if its holder died.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, replace

from assistant.errors import InputError, StorageError, WriterLockedError
from assistant.records import DocumentVersion
from assistant.storage.registry import STATES, VersionQueries
from assistant.storage.store import side_collection

COLLECTION = "registry"
LEASE_SECONDS = 3600
_PROBE = 8  # state records looked for past the hint in one request
_DUMMY = [0.0]  # records need a vector; the registry is only read by id


class ServerRegistry(VersionQueries):
    def __init__(self, client, *, where: str = "Chroma server"):
        self.where = where
        self._col = side_collection(client, COLLECTION, where=where, what="the version registry")
        self._states: dict[int, dict] = {}
        self._chunk_lists: dict[str, list[str]] = {}

    # --- reading ---------------------------------------------------------------------------
    def _latest(self) -> dict:
        return self._state(self._newest("state"))

    def _newest(self, prefix: str) -> int:
        """The highest committed number of `prefix` records: from the hint, rolled forward."""
        head = self._get([f"{prefix}-head"], include=["metadatas"])
        number = int(head["metadatas"][0]["generation"]) if head["ids"] else 0
        while True:
            found = set(self._get([f"{prefix}/{number + i}" for i in range(1, _PROBE + 1)], include=[])["ids"])
            newer = 0
            while f"{prefix}/{number + newer + 1}" in found:
                newer += 1
            number += newer
            if newer < _PROBE:
                return number

    def _state(self, generation: int) -> dict:
        if generation == 0:
            return {"generation": 0, "meta": {}, "versions": []}
        if generation not in self._states:
            got = self._get([f"state/{generation}"], include=["documents"])
            if not got["ids"]:
                raise StorageError(f"{self.where}: registry state {generation} is missing. Restore the Chroma "
                                   "server's data from a backup.")
            self._states = {generation: json.loads(got["documents"][0])}  # keep the newest only
        return self._states[generation]

    def generation(self) -> int:
        return self._latest()["generation"]

    def get_meta(self, key: str) -> str | None:
        return self._latest()["meta"].get(key)

    def versions(self, doc_id: str | None = None) -> list[DocumentVersion]:
        rows = [r for r in self._latest()["versions"] if doc_id in (None, r["doc_id"])]
        rows.sort(key=lambda r: (r["doc_id"], r["valid_from"], r["version"]))
        return [_to_version(r) for r in rows]

    def chunk_ids(self, doc_id: str, version: str) -> list[str]:
        row = next((r for r in self._latest()["versions"] if (r["doc_id"], r["version"]) == (doc_id, version)), None)
        return list(self._chunk_list(row["chunks"])) if row else []

    def all_chunk_ids(self) -> set[str]:
        return {c for r in self._latest()["versions"] for c in self._chunk_list(r["chunks"])}

    def _chunk_list(self, record_id: str) -> list[str]:
        if record_id not in self._chunk_lists:
            got = self._get([record_id], include=["documents"])
            if not got["ids"]:
                raise StorageError(f"{self.where}: chunk list {record_id} of the registry is missing. Restore the "
                                   "Chroma server's data from a backup.")
            self._chunk_lists[record_id] = json.loads(got["documents"][0])  # immutable: cached for good
        return self._chunk_lists[record_id]

    # --- writing ---------------------------------------------------------------------------
    def touch(self) -> None:
        """A new generation without other changes: readers reload (after the question index changed)."""
        self._commit(lambda state: None)

    def set_meta(self, key: str, value: str) -> None:
        def change(state):
            state["meta"][key] = value
        self._commit(change)

    def add_version(self, doc: DocumentVersion, chunk_ids: list[str], *, state: str) -> None:
        """Register a version with all its chunks: the chunk list first, then the state naming it."""
        if state not in STATES:
            raise ValueError(state)
        list_id = f"chunks/{uuid.uuid4().hex}"
        self._add(list_id, json.dumps(list(chunk_ids)), {"kind": "chunks", "doc_id": doc.doc_id, "version": doc.version})
        row = asdict(replace(doc, state=state)) | {"chunks": list_id,
                                                    "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}

        def change(s):
            s["versions"] = [r for r in s["versions"] if (r["doc_id"], r["version"]) != (doc.doc_id, doc.version)] + [row]
        self._commit(change)

    def set_state(self, doc_id: str, version: str, state: str) -> DocumentVersion:
        if state not in STATES:
            raise ValueError(state)

        def change(s):
            rows = [r for r in s["versions"] if (r["doc_id"], r["version"]) == (doc_id, version)]
            if not rows:
                known = ", ".join(r["version"] for r in s["versions"] if r["doc_id"] == doc_id) or "none"
                raise InputError(f"{doc_id} {version}: no such version (known versions: {known}).")
            rows[0]["state"] = state
        self._commit(change)
        return self.version(doc_id, version)

    def reset(self) -> None:
        """Forget every version (for a rebuild); the generation keeps counting up."""
        def change(s):
            s["versions"] = []
        self._commit(change)

    def close(self) -> None:
        pass

    def _commit(self, change, *, attempts: int = 50) -> None:
        for attempt in range(attempts):
            state = copy.deepcopy(self._latest())
            change(state)
            if self._claim("state", state["generation"] + 1, state):
                return
            time.sleep(0.01 * (attempt + 1))  # another instance committed first: apply the change on top of its
        raise StorageError(f"{self.where}: the version registry is being changed by other instances; "
                           "the change was not saved. Try again.")

    def _claim(self, prefix: str, number: int, record: dict) -> bool:
        """Add `prefix/number` and read it back: True when this call's record is the one stored."""
        token = uuid.uuid4().hex
        record = record | {"generation": number, "writer": token,
                           "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        record_id = f"{prefix}/{number}"
        self._add(record_id, json.dumps(record, ensure_ascii=False), {"kind": prefix, "generation": number})
        stored = self._get([record_id], include=["documents"])
        if stored["ids"] and json.loads(stored["documents"][0]).get("writer") == token:
            self._upsert_head(prefix, number)
            return True
        return False

    # --- the writers' lease --------------------------------------------------------------------
    @contextmanager
    def lease(self, holder: str, *, seconds: int = LEASE_SECONDS):
        """One writer at a time across all instances; refused at once (not queued) while another holds it."""
        now = dt.datetime.now(dt.timezone.utc)
        number = self._newest("lease")
        current = self._lease(number)
        if _held(current):
            raise WriterLockedError(f"{self.where}: the index is being changed by {current['holder']} "
                                    f"(since {current['time']} UTC; the lock lapses at {current['until'][:19]} UTC "
                                    "if that process has died). Wait until it has finished and try again, or, "
                                    "if you are sure it has died, free it with `python -m ingest unlock`.")
        until = (now + dt.timedelta(seconds=seconds)).isoformat(timespec="seconds")
        if not self._claim("lease", number + 1, {"holder": holder, "until": until}):
            raise WriterLockedError(f"{self.where}: another instance started changing the index at this moment. "
                                    "Wait until it has finished and try again.")
        try:
            yield
        finally:
            if self._newest("lease") == number + 1:  # still ours: hand it back
                self._claim("lease", number + 2, {"holder": holder, "until": until, "released": True})

    def current_lease(self) -> dict | None:
        """The lease a writer holds now (holder, time taken, until), or None."""
        current = self._lease(self._newest("lease"))
        return current if _held(current) else None

    def release_lease(self, by: str) -> dict | None:
        """Free the writers' lease of a writer that died, at once instead of when it lapses. Returns the
        lease that was released, or None when no writer held one."""
        number = self._newest("lease")
        current = self._lease(number)
        if not _held(current):
            return None
        freed = {"holder": current["holder"], "until": current["until"], "released": True, "released_by": by}
        if not self._claim("lease", number + 1, freed):
            raise WriterLockedError(f"{self.where}: the writers' lease changed at this moment. Run the command again.")
        return current

    def _lease(self, number: int) -> dict | None:
        if number == 0:
            return None
        got = self._get([f"lease/{number}"], include=["documents"])
        return json.loads(got["documents"][0]) if got["ids"] else None

    # --- Chroma calls ------------------------------------------------------------------------
    def _get(self, ids: list[str], include: list[str]) -> dict:
        try:
            return self._col.get(ids=ids, include=include)
        except Exception as exc:
            raise StorageError(f"{self.where}: the version registry cannot be read ({type(exc).__name__}: {exc}). "
                               "Check that the Chroma server is running.") from None

    def _add(self, record_id: str, document: str, meta: dict) -> None:
        try:
            self._col.add(ids=[record_id], documents=[document], embeddings=[_DUMMY], metadatas=[meta])
        except Exception as exc:
            raise StorageError(f"{self.where}: the version registry cannot be written ({type(exc).__name__}: {exc}). "
                               "Nothing was changed; check the Chroma server and try again.") from None

    def _upsert_head(self, prefix: str, number: int) -> None:
        try:
            self._col.upsert(ids=[f"{prefix}-head"], documents=[""], embeddings=[_DUMMY],
                             metadatas=[{"generation": number}])
        except Exception:
            pass  # only a hint: readers roll forward from an older head


def _held(lease: dict | None) -> bool:
    return bool(lease) and not lease.get("released") and (
        dt.datetime.fromisoformat(lease["until"]) > dt.datetime.now(dt.timezone.utc))


def _to_version(row: dict) -> DocumentVersion:
    fields = DocumentVersion.__dataclass_fields__
    return DocumentVersion(**{k: v for k, v in row.items() if k in fields})
