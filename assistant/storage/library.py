"""The opened data directory: settings, registry, chunk store and embedding model together."""
from __future__ import annotations

import fcntl
import os
import re
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import StorageError, WriterLockedError
from assistant.storage.models import Embedder, EmbeddingCache
from assistant.storage.questions import QuestionStore
from assistant.storage.registry import Registry, open_registry
from assistant.settings import Settings
from assistant.storage.store import ChunkStore


@dataclass
class Library:
    settings: Settings
    registry: Registry
    store: ChunkStore
    embedder: Embedder
    _questions: QuestionStore | None = field(default=None, repr=False)

    @property
    def questions(self) -> QuestionStore:
        """The question index, on the chunk store's client (which `store.reopen` may replace)."""
        if self._questions is None or self._questions.client is not self.store.client:
            self._questions = QuestionStore(self.store.client, self.embedder,
                                            where=str(self.settings.chroma_url or self.settings.chroma_dir))
        return self._questions


def open_library(settings: Settings, *, embedder: Embedder | None = None, cache_path: Path | None = None) -> Library:
    """Open (or create) the data directory. `embedder` lets several libraries share one loaded model."""
    settings.apply_environment()
    _data_dir(settings)
    if embedder is None:
        cache = EmbeddingCache(cache_path or settings.embedding_cache_path)
        if settings.chroma_url:  # vectors computed by the ingesting instance reach every app instance
            from assistant.storage.shared_cache import LayeredCache, ServerEmbeddingCache
            from assistant.storage.store import connect_chroma

            cache = LayeredCache(cache, ServerEmbeddingCache(connect_chroma(settings), where=settings.chroma_url))
        embedder = Embedder(settings.embedding_model, cache=cache, backend=settings.embedding_backend)
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
    holder = _lock_or_holder(fh)
    if holder:
        fh.close()
        raise WriterLockedError(f"{settings.data_dir}: the index is being changed by {holder}. "
                                "Wait until it has finished and try again.")
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()}")
        fh.flush()
        if settings.chroma_url:  # writers on other hosts share the server, not this folder
            from assistant.storage.registry_server import ServerRegistry
            from assistant.storage.store import connect_chroma

            with ServerRegistry(connect_chroma(settings), where=settings.chroma_url).lease(_this_process()):
                yield
        else:
            yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


_HOLDER = re.compile(r"^process (\d+) on (\S+)$")


def release_writer(settings: Settings) -> str:
    """Free the writers' lock of an ingestion that died (`python -m ingest unlock`) and say what was done.
    A writer still running on this host is never unlocked: that is refused with a WriterLockedError."""
    local = _local_writer(settings)
    if local:
        raise WriterLockedError(f"{settings.data_dir}: the index is being changed by {local}, which is still "
                                "running; its lock is freed when it ends.")
    if not settings.chroma_url:
        return (f"{settings.data_dir}: no writer holds the index (the lock of a process that ended is freed by "
                "the system).")
    from assistant.storage.registry_server import ServerRegistry
    from assistant.storage.store import connect_chroma

    registry = ServerRegistry(connect_chroma(settings), where=settings.chroma_url)
    lease = registry.current_lease()
    if lease is None:
        return f"{settings.chroma_url}: no writer holds the index."
    m = _HOLDER.match(lease["holder"])
    if m and m.group(2) == socket.gethostname() and _alive(int(m.group(1))):
        raise WriterLockedError(f"{settings.chroma_url}: the index is being changed by {lease['holder']}, which is "
                                "still running on this host. Wait until it has finished.")
    released = registry.release_lease(by=f"python -m ingest unlock, {_this_process()}")
    if released is None:  # it lapsed or was handed back in the meantime
        return f"{settings.chroma_url}: no writer holds the index."
    return (f"{settings.chroma_url}: released the lock of {released['holder']} (taken {released['time'][:19]} UTC). "
            "Check that no ingestion of that process is still running before you start the next one.")


def _local_writer(settings: Settings) -> str | None:
    """Who holds this data directory's lock file now, or None."""
    if not settings.lock_path.is_file():
        return None
    with open(settings.lock_path, "a+") as fh:
        holder = _lock_or_holder(fh)
        if not holder:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return holder


def _lock_or_holder(fh) -> str | None:
    """Take the lock on the open lock file and return None, or return who holds it."""
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        return fh.read().strip() or "another process"
    return None


def _this_process() -> str:
    """How a writer names itself on the server; `_HOLDER` reads it back."""
    return f"process {os.getpid()} on {socket.gethostname()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
