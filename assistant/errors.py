"""One exception family; every message is written for the person who has to act on it."""


class AssistantError(Exception):
    """Base class: str(error) is a complete sentence saying what happened, where, and what to do."""


class InputError(AssistantError):
    """A document, manifest entry or question that cannot be used as given."""


class ManifestError(InputError):
    """An entry of corpus/manifest.toml is wrong (missing file, checksum, duplicate id, bad date)."""


class IndexMismatchError(AssistantError):
    """The stored index was built with another embedding model or chunking; it must be rebuilt."""


class WriterLockedError(AssistantError):
    """Another process is writing to the embedded index."""


class StorageError(AssistantError):
    """The data directory cannot be read or written."""


def write_failed(where, exc: BaseException) -> StorageError:
    """The message for a write that failed at the storage boundary (disk full, read-only, I/O error)."""
    return StorageError(f"{where}: writing failed ({type(exc).__name__}: {exc}); the disk may be full or the "
                        "folder not writable. Nothing was registered, so answers still come from the versions "
                        "stored before. Free space or fix the permissions, then run the same command again.")
