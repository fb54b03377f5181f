"""The embedding cache shared by all instances through the Chroma server.

Passage and sentence vectors computed at ingest must reach every app instance, or each instance would
encode every sentence again on start. With a Chroma server, they are kept there in their own
collection (keyed by model and text hash, never the text); each instance keeps its local SQLite cache
in front of it, so a vector crosses the network once per instance.
"""
from __future__ import annotations

import numpy as np

from assistant.errors import StorageError
from assistant.storage.models import EmbeddingCache
from assistant.storage.store import side_collection

COLLECTION = "embedding-cache"
_PAGE = 500


class ServerEmbeddingCache:
    def __init__(self, client, *, where: str = "Chroma server"):
        self.where = where
        self._col = side_collection(client, COLLECTION, where=where, what="the shared embedding cache")

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for got in self._pages(model, hashes, ["embeddings"]):
            for record_id, vector in zip(got["ids"], got["embeddings"]):
                found[record_id.split(":", 1)[1]] = np.asarray(vector, dtype=np.float32)
        return found

    def has(self, model: str, hashes: list[str]) -> set[str]:
        return {record_id.split(":", 1)[1] for got in self._pages(model, hashes, []) for record_id in got["ids"]}

    def _pages(self, model: str, hashes: list[str], include: list[str]):
        for start in range(0, len(hashes), _PAGE):
            ids = [f"{model}:{h}" for h in hashes[start:start + _PAGE]]
            try:
                yield self._col.get(ids=ids, include=include)
            except Exception as exc:
                raise StorageError(f"{self.where}: the shared embedding cache cannot be read "
                                   f"({type(exc).__name__}: {exc}).") from None

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        pairs = list(items.items())
        for start in range(0, len(pairs), _PAGE):
            part = pairs[start:start + _PAGE]
            try:
                self._col.upsert(ids=[f"{model}:{h}" for h, _ in part],
                                 embeddings=[np.asarray(v, dtype=np.float32) for _, v in part],
                                 metadatas=[{"model": model} for _ in part])
            except Exception as exc:
                raise StorageError(f"{self.where}: the shared embedding cache cannot be written "
                                   f"({type(exc).__name__}: {exc}). Nothing was registered; try again.") from None


class LayeredCache:
    """The local cache first, the shared one behind it. What comes from the shared one is kept locally;
    what only the local one has (e.g. computed before the server was set up) is shared. Passages are
    looked up at ingest and snapshot builds only, never per question, so the extra round trip is cheap."""

    def __init__(self, local: EmbeddingCache, shared: ServerEmbeddingCache):
        self.local = local
        self.shared = shared

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found = self.local.get_many(model, hashes)
        shared = self.shared.has(model, list(dict.fromkeys(hashes)))
        fetch = [h for h in dict.fromkeys(hashes) if h not in found and h in shared]
        if fetch:
            fetched = self.shared.get_many(model, fetch)
            self.local.put_many(model, fetched)
            found.update(fetched)
        unshared = {h: v for h, v in found.items() if h not in shared}
        if unshared:
            self.shared.put_many(model, unshared)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        self.shared.put_many(model, items)
        self.local.put_many(model, items)
