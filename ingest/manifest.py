"""Read and check corpus/manifest.toml: every refusal names the entry and what to do."""
from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from pathlib import Path

from assistant.errors import ManifestError
from assistant.records import DocumentVersion

KINDS = ("regulation", "cabinet-decision", "guideline")
_REQUIRED = ("id", "title", "short", "kind", "version", "valid_from", "file", "sha256")


def read_manifest(path: Path) -> list[DocumentVersion]:
    """Entries of the manifest, checked for form (fields, kinds, dates, duplicate ids)."""
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found. Run `make setup` from the project folder.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc}). Fix the file; nothing was changed.") from None
    entries = data.get("document", [])
    docs: list[DocumentVersion] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{path}, entry {i} ({entry.get('id', 'no id')})"
        missing = [f for f in _REQUIRED if not str(entry.get(f, "")).strip()]
        if missing:
            raise ManifestError(f"{where}: missing {', '.join(missing)}. Add the field(s); nothing was changed.")
        if entry["id"] in seen:
            raise ManifestError(f"{where}: duplicate id '{entry['id']}'. Each document needs its own id.")
        seen.add(entry["id"])
        if entry["kind"] not in KINDS:
            raise ManifestError(f"{where}: kind '{entry['kind']}' is not one of {', '.join(KINDS)}.")
        valid_from = check_date(str(entry["valid_from"]), where)
        docs.append(DocumentVersion(
            doc_id=entry["id"], version=str(entry["version"]), valid_from=valid_from, title=entry["title"],
            short=entry["short"], kind=entry["kind"], issuer=entry.get("issuer", ""), sha256=entry["sha256"].lower(),
            file=entry["file"], url=entry.get("url", ""), licence=entry.get("licence", ""),
            valid_from_approx=bool(entry.get("valid_from_approx", False)), note=entry.get("note", "")))
    return docs


def check_date(value: str, where: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ManifestError(f"{where}: valid_from '{value}' is not a date (YYYY-MM-DD).") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(doc: DocumentVersion, corpus_dir: Path) -> Path:
    """The entry's file, present and with the registered checksum."""
    path = corpus_dir / doc.file
    if not path.is_file():
        raise ManifestError(f"{path}: file of manifest entry '{doc.doc_id}' is missing. "
                            "Run `make setup` (copies the corpus from CORPUS_MIRROR) or fix `file`.")
    actual = sha256_file(path)
    if actual != doc.sha256:
        raise ManifestError(f"{path}: checksum {actual[:12]}… does not match the manifest entry '{doc.doc_id}' "
                            f"({doc.sha256[:12]}…). Replace the file or update sha256; nothing was changed.")
    return path
