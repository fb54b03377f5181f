"""Diff reports between document versions, saved under data_dir/reports for MASTD and auditors."""
from __future__ import annotations

from pathlib import Path

from assistant.storage.library import Library
from assistant.answering.versions import VersionDiff, diff_sections, sections_of, to_html, to_markdown


def version_diff(lib: Library, doc_id: str, old: str, new: str) -> VersionDiff:
    texts = {}
    for version in (old, new):
        chunks, _ = lib.store.load(lib.registry.chunk_ids(doc_id, version))
        texts[version] = sections_of(chunks)
    return diff_sections(doc_id, old, new, texts[old], texts[new])


def write_diff_report(lib: Library, doc_id: str, old: str, new: str) -> tuple[VersionDiff, list[Path]]:
    diff = version_diff(lib, doc_id, old, new)
    version = lib.registry.version(doc_id, new)
    title = version.title if version else doc_id
    folder = lib.settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"diff-{doc_id}-{old}-{new}"
    md, page = stem.with_suffix(".md"), stem.with_suffix(".html")
    md.write_text(to_markdown(diff, title), encoding="utf-8")
    page.write_text(to_html(diff, title), encoding="utf-8")
    return diff, [md, page]
