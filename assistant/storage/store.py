"""The only place that talks to Chroma: chunk texts, metadata and embeddings.

Chunks are keyed by their content hash, so a chunk shared by several versions is stored once. The
collection records the embedding model and the chunking parameters it was built with and refuses a
mismatch with the command that rebuilds it.
"""
from __future__ import annotations

import logging

import numpy as np

from assistant.errors import IndexMismatchError, StorageError, write_failed
from assistant.storage.models import Embedder
from assistant.records import Chunk
from assistant.settings import Settings

log = logging.getLogger(__name__)

COLLECTION = "chunks"
SPLITTER_VERSION = "5"  # bump when the section/chunk grammar changes: forces a rebuild
_META_FIELDS = ("doc_id", "section_key", "label", "heading", "index", "order", "kind", "anchor", "context")


def _embedding_function(embedder: Embedder):
    """Our own embedding function for Chroma (its default one would download a model)."""
    from chromadb.api.types import EmbeddingFunction

    class E5Function(EmbeddingFunction):
        def __init__(self, inner: Embedder):
            self.inner = inner

        def __call__(self, input):  # noqa: A002 - Chroma's protocol names it `input`
            return list(self.inner.encode_passages(list(input)))

        def embed_query(self, input):  # noqa: A002
            return list(self.inner.encode_queries(list(input)))

        @staticmethod
        def name() -> str:
            return "leitlinien-assistent-e5"

        def get_config(self) -> dict:
            return {"model": self.inner.model_name}

        @staticmethod
        def build_from_config(config: dict):
            raise NotImplementedError("the assistant always passes its own embedding function")

    return E5Function(embedder)


class ChunkStore:
    def __init__(self, settings: Settings, embedder: Embedder):
        self.embedder = embedder
        self.settings = settings
        self._connect()

    def reopen(self) -> None:
        """Connect afresh. Chroma keeps one client per folder and process; after another process (the
        ingest CLI) changed the embedded index, that cached client's view is stale."""
        if not self.settings.chroma_url:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        self._connect()

    def _connect(self) -> None:
        settings = self.settings
        embedder = self.embedder
        try:
            self.client = connect_chroma(settings)
            self.collection = self.client.get_or_create_collection(
                COLLECTION, metadata=self._build_info() | {"hnsw:space": "cosine"},
                embedding_function=_embedding_function(embedder))
        except StorageError:
            raise
        except Exception as exc:  # chromadb raises many types; all mean the store is unusable
            where = settings.chroma_url or settings.chroma_dir
            raise StorageError(f"{where}: the Chroma index cannot be opened ({type(exc).__name__}: {exc}). "
                               "Check the data directory or the server address.") from None

    def _build_info(self) -> dict:
        return {"embedding_model": self.embedder.fingerprint, "chunk_max_chars": self.settings.chunk_max_chars,
                "splitter_version": SPLITTER_VERSION}

    def check_compatible(self) -> None:
        """Refuse an index built with another model or chunking, naming the command that rebuilds it."""
        stored = self.collection.metadata or {}
        wanted = self._build_info()
        diffs = [f"{k}: index has {stored.get(k)!r}, settings say {v!r}" for k, v in wanted.items()
                 if str(stored.get(k)) != str(v)]
        if diffs and self.collection.count():
            raise IndexMismatchError("The index was built differently (" + "; ".join(diffs) + "). "
                                     "Rebuild it with `python -m ingest run --rebuild`.")

    def count(self) -> int:
        return self.collection.count()

    def existing_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            found.update(self.collection.get(ids=ids[start:start + 500], include=[])["ids"])
        return found

    def add(self, chunks: list[Chunk], embeddings: np.ndarray, titles: dict[str, str]) -> None:
        """Chunks are invisible until the registry names them, so a failure part-way leaves only unused
        records (removed by the next `ingest run`)."""
        for start in range(0, len(chunks), 200):
            part = chunks[start:start + 200]
            try:
                self.collection.upsert(
                    ids=[c.chunk_id for c in part],
                    documents=[c.text for c in part],
                    embeddings=embeddings[start:start + 200],
                    metadatas=[_metadata(c, titles.get(c.doc_id, "")) for c in part])
            except Exception as exc:  # chromadb raises many types (InternalError for I/O)
                raise write_failed(self.settings.chroma_url or self.settings.chroma_dir, exc) from None

    def load(self, ids: list[str] | None = None) -> tuple[list[Chunk], np.ndarray]:
        """Chunks and their embeddings (all, or the given ids), in a stable order."""
        chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        include = ["documents", "metadatas", "embeddings"]
        if ids is None:
            total = self.collection.count()
            pages = [self.collection.get(include=include, limit=1000, offset=o) for o in range(0, total, 1000)]
        else:
            pages = [self.collection.get(ids=ids[s:s + 500], include=include) for s in range(0, len(ids), 500)]
        for page in pages:
            for cid, text, meta, vec in zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"]):
                chunks.append(_chunk(cid, text, meta))
                vectors.append(np.asarray(vec, dtype=np.float32))
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].order, chunks[i].index, chunks[i].chunk_id))
        matrix = np.stack([vectors[i] for i in order]) if order else np.zeros((0, 384), dtype=np.float32)
        return [chunks[i] for i in order], matrix

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            try:
                self.collection.delete(ids=ids[start:start + 500])
            except Exception as exc:
                raise write_failed(self.settings.chroma_url or self.settings.chroma_dir, exc) from None

    def reset(self) -> None:
        """Drop the collection (for `ingest run --rebuild`); the registry is rebuilt from the files."""
        self.client.delete_collection(COLLECTION)
        self.collection = self.client.get_or_create_collection(
            COLLECTION, metadata=self._build_info() | {"hnsw:space": "cosine"},
            embedding_function=_embedding_function(self.embedder))


def connect_chroma(settings: Settings):
    """The Chroma client: HttpClient for a server (ASSISTANT_CHROMA_URL), else the embedded store in the data dir.
    An unreachable server or unreadable folder surfaces when the first collection is opened."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            from urllib.parse import urlparse

            url = urlparse(settings.chroma_url)
            return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=chroma_settings)
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as exc:  # chromadb raises many types; all mean the store is unusable
        if settings.chroma_url:
            raise StorageError(f"{settings.chroma_url}: the Chroma server cannot be reached ({type(exc).__name__}: "
                               f"{exc}). Check that it runs and ASSISTANT_CHROMA_URL is right.") from None
        raise StorageError(f"{settings.chroma_dir}: the index cannot be opened ({type(exc).__name__}: {exc}). "
                           "If the disk is full or the folder not writable, free space or fix the permissions and "
                           "try again; if its files are damaged, restore the folder from a backup, or move it aside "
                           "and run `python -m ingest run --rebuild` (uploaded versions come back from data/uploads).") from None


def side_collection(client, name: str, *, where: str, what: str):
    """A collection read and written by id only (no search): the registry, the shared embedding cache."""
    try:
        return client.get_or_create_collection(name, embedding_function=None)
    except Exception as exc:  # chromadb raises many types; all mean the collection is unusable
        raise StorageError(f"{where}: {what} cannot be opened ({type(exc).__name__}: {exc}). "
                           "Check that the Chroma server (ASSISTANT_CHROMA_URL) is running.") from None


def _metadata(c: Chunk, title: str) -> dict:
    meta = {f: getattr(c, f) for f in _META_FIELDS}
    meta["page"] = c.page if c.page is not None else -1
    meta["title"] = title
    return meta


def _chunk(cid: str, text: str, meta: dict) -> Chunk:
    page = meta.get("page", -1)
    return Chunk(chunk_id=cid, doc_id=meta["doc_id"], section_key=meta["section_key"], label=meta["label"],
                 heading=meta["heading"], text=text, page=None if page in (-1, None) else int(page),
                 index=int(meta["index"]), order=int(meta["order"]), kind=meta["kind"],
                 anchor=meta.get("anchor", ""), context=meta.get("context", ""))
