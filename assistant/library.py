"""The opened data directory: settings, registry, chunk store and embedding model together."""
from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import StorageError, WriterLockedError
from assistant.models import Embedder, EmbeddingCache
from assistant.registry import Registry, open_registry
from assistant.settings import Settings
from assistant.store import ChunkStore


@dataclass
class Library:
    settings: Settings
    registry: Registry
    store: ChunkStore
    embedder: Embedder


def open_library(settings: Settings, *, embedder: Embedder | None = None, cache_path: Path | None = None) -> Library:
    """Open (or create) the data directory. `embedder` lets several libraries share one loaded model."""
    settings.apply_environment()
    _data_dir(settings)
    if embedder is None:
        cache = EmbeddingCache(cache_path or settings.embedding_cache_path)
        if settings.chroma_url:  # vectors computed by the ingesting instance reach every app instance
            from assistant.shared_cache import LayeredCache, ServerEmbeddingCache
            from assistant.store import connect_chroma

            cache = LayeredCache(cache, ServerEmbeddingCache(connect_chroma(settings), where=settings.chroma_url))
        embedder = Embedder(settings.embedding_model, cache=cache)
    return Library(settings, open_registry(settings), ChunkStore(settings, embedder), embedder)


def _data_dir(settings: Settings) -> None:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is a file, not a folder" if settings.data_dir.is_file() else exc.strerror
        raise StorageError(f"{settings.data_dir}: the data directory cannot be used ({reason}). Set "
                           "ASSISTANT_DATA_DIR to a folder this process can write to.") from None


@contextmanager
def writer_lock(settings: Settings):
    """One writing process per index; a second writer is refused at once, not queued. With a Chroma
    server the lock is a lease on the server, so it holds across hosts."""
    _data_dir(settings)
    fh = open(settings.lock_path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise WriterLockedError(f"{settings.data_dir}: the index is being changed by {holder}. "
                                "Wait until it has finished and try again.") from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()}")
        fh.flush()
        if settings.chroma_url:  # writers on other hosts share the server, not this folder
            from assistant.registry_server import ServerRegistry
            from assistant.store import connect_chroma

            with ServerRegistry(connect_chroma(settings), where=settings.chroma_url).lease(
                    f"process {os.getpid()} on {socket.gethostname()}"):
                yield
        else:
            yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
