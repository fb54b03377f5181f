"""The question index: questions per passage and out-of-scope examples, with their e5 query vectors,
in a Chroma collection of their own.

A question belongs to one chunk (`chunk_id`); an out-of-scope example belongs to none (`chunk_id` "").
Version filtering needs nothing of its own: a chunk belongs to versions through the registry, and a
question counts only where its chunk is in one of the selected versions. Question ids derive from the
chunk id and the question text, so adding the same questions again changes nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from assistant.errors import StorageError, write_failed

COLLECTION = "questions"
OUT_OF_SCOPE = "out-of-scope"  # the kind of an out-of-scope example
KINDS = ("plain", "situation", "search", "other", OUT_OF_SCOPE)


@dataclass(frozen=True)
class StoredQuestion:
    text: str
    chunk_id: str  # "" for an out-of-scope example
    doc_id: str = ""
    section_key: str = ""
    kind: str = "other"  # plain | situation | search | other | out-of-scope
    source: str = ""  # where it came from: written-2026-12, llm:<model>, admin, file:<name>

    @property
    def question_id(self) -> str:
        return question_id(self.chunk_id, self.text)


def question_id(chunk_id: str, text: str) -> str:
    return hashlib.sha256(f"{chunk_id}\x1f{' '.join(text.split())}".encode()).hexdigest()[:24]


class QuestionStore:
    def __init__(self, client, embedder, *, where: str):
        self.embedder = embedder
        self.where = where
        self.client = client
        self._open()

    def _open(self) -> None:
        try:
            self.collection = self.client.get_or_create_collection(
                COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        except Exception as exc:  # chromadb raises many types; all mean the collection is unusable
            raise StorageError(f"{self.where}: the question index cannot be opened ({type(exc).__name__}: {exc}). "
                               "Check the data directory or the server address.") from None

    def count(self) -> int:
        return self.collection.count()

    def add(self, questions: list[StoredQuestion], progress=None) -> int:
        """Store questions not yet stored (embedding only those); returns how many were new."""
        unique = {q.question_id: q for q in questions if q.text.strip()}
        ids = list(unique)
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            known.update(self.collection.get(ids=ids[start:start + 500], include=[])["ids"])
        new = [unique[i] for i in ids if i not in known]
        if not new:
            return 0
        vectors = self.embedder.encode_questions([q.text for q in new], progress=progress)
        for start in range(0, len(new), 200):
            part = new[start:start + 200]
            try:
                self.collection.upsert(ids=[q.question_id for q in part], documents=[q.text for q in part],
                                       embeddings=vectors[start:start + 200],
                                       metadatas=[_metadata(q) for q in part])
            except Exception as exc:  # chromadb raises many types (InternalError for I/O)
                raise write_failed(self.where, exc) from None
        return len(new)

    def load(self) -> tuple[list[StoredQuestion], np.ndarray]:
        """All questions and their vectors, in a stable order (by id)."""
        total = self.collection.count()
        include = ["documents", "metadatas", "embeddings"]
        items: list[tuple[str, StoredQuestion, np.ndarray]] = []
        for offset in range(0, total, 2000):
            page = self.collection.get(include=include, limit=2000, offset=offset)
            for qid, text, meta, vec in zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"]):
                items.append((qid, _question(text, meta), np.asarray(vec, dtype=np.float32)))
        items.sort(key=lambda item: item[0])
        matrix = np.stack([v for _, _, v in items]) if items else np.zeros((0, 384), dtype=np.float32)
        return [q for _, q, _ in items], matrix

    def for_chunks(self, chunk_ids: list[str]) -> list[StoredQuestion]:
        found: list[StoredQuestion] = []
        for start in range(0, len(chunk_ids), 200):
            part = chunk_ids[start:start + 200]
            page = self.collection.get(where={"chunk_id": {"$in": part}}, include=["documents", "metadatas"])
            found += [_question(text, meta) for text, meta in zip(page["documents"], page["metadatas"])]
        return sorted(found, key=lambda q: (q.chunk_id, q.kind, q.text))

    def sections_with_questions(self, doc_ids: set[str]) -> set[tuple[str, str]]:
        """(doc_id, section_key) of every section of these documents that has questions, in any version."""
        found: set[tuple[str, str]] = set()
        for doc_id in sorted(doc_ids):
            page = self.collection.get(where={"doc_id": doc_id}, include=["metadatas"])
            found.update((doc_id, meta.get("section_key", "")) for meta in page["metadatas"])
        return found

    def replace(self, chunk_id: str, questions: list[StoredQuestion]) -> None:
        """The questions of one chunk become exactly these (the admin's edits)."""
        old = {q.question_id for q in self.for_chunks([chunk_id])}
        keep = {q.question_id for q in questions}
        self.add(questions)
        self.delete(sorted(old - keep))

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            try:
                self.collection.delete(ids=ids[start:start + 500])
            except Exception as exc:
                raise write_failed(self.where, exc) from None

    def sync_examples(self, examples: list[StoredQuestion]) -> None:
        """The out-of-scope examples become exactly these."""
        page = self.collection.get(where={"chunk_id": ""}, include=[])
        self.add(examples)
        self.delete(sorted(set(page["ids"]) - {q.question_id for q in examples}))

    def delete_except_chunks(self, chunk_ids: set[str]) -> int:
        """Drop the questions of chunks that are no longer stored (out-of-scope examples stay)."""
        stale = []
        total = self.collection.count()
        for offset in range(0, total, 2000):
            page = self.collection.get(include=["metadatas"], limit=2000, offset=offset)
            stale += [qid for qid, meta in zip(page["ids"], page["metadatas"])
                      if meta.get("chunk_id") and meta["chunk_id"] not in chunk_ids]
        self.delete(stale)
        return len(stale)

    def reset(self) -> None:
        self.client.delete_collection(COLLECTION)
        self._open()


def _metadata(q: StoredQuestion) -> dict:
    return {"chunk_id": q.chunk_id, "doc_id": q.doc_id, "section_key": q.section_key, "kind": q.kind,
            "source": q.source}


def _question(text: str, meta: dict) -> StoredQuestion:
    return StoredQuestion(text=text, chunk_id=meta.get("chunk_id", ""), doc_id=meta.get("doc_id", ""),
                          section_key=meta.get("section_key", ""), kind=meta.get("kind", "other"),
                          source=meta.get("source", ""))
