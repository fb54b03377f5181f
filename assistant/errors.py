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
