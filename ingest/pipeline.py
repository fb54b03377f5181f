"""Index document versions: load -> clean -> sections -> chunks -> embeddings -> Chroma -> registry.

A version becomes visible only after all its chunks are stored (the registry commit comes last), so
an interrupted ingest leaves the previous state served; re-running completes it.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.errors import InputError
from assistant.storage.library import Library
from assistant.records import Chunk, DocumentVersion, Line, Section
from assistant.text.sentences import split_sentences
from ingest.chunks import chunk_sections
from ingest.clean import join_broken_lines, repair_text
from ingest.load import MAX_FILE_BYTES, load_lines
from ingest.manifest import check_file, read_manifest, sha256_file
from ingest.questions import QuestionReport, QuestionSource, attach_questions, bundled_questions, out_of_scope_examples
from ingest.sections import split_sections

log = logging.getLogger(__name__)


@dataclass
class VersionResult:
    doc_id: str
    version: str
    status: str  # added | updated | unchanged | staged
    chunks: int = 0
    new_chunks: int = 0
    encoded: int = 0
    sections_added: int = 0
    sections_changed: int = 0
    sections_removed: int = 0
    sections_unchanged: int = 0
    questions: QuestionReport | None = None


@dataclass
class IngestReport:
    results: list[VersionResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one message per refused file
    removed_orphans: int = 0
    seconds: float = 0.0
    encode_seconds: float = 0.0


def read_document(path: Path, doc: DocumentVersion, *, max_bytes: int = MAX_FILE_BYTES) -> list[Section]:
    """Sections of a document file; raises InputError naming the file when it cannot be used."""
    lines = load_lines(path, max_bytes=max_bytes)
    markdown = path.suffix.lower() in (".md", ".markdown")
    if not markdown:
        lines = [Line(repair_text(ln.text), ln.page) for ln in join_broken_lines(lines)]
    sections = split_sections(doc, lines, markdown=markdown)
    if not sections:
        raise InputError(f"{path}: no sections recognised (expected numbered headings such as '1 Zweck', "
                         "'Artikel 1' or 'Beschluss:'). Check the document; nothing was changed.")
    return sections


def ingest_version(lib: Library, doc: DocumentVersion, path: Path, *, state: str = "active",
                   progress=None, questions: QuestionSource | None = None, writer=None) -> VersionResult:
    """Index one version of one document (idempotent: the same file again changes nothing).

    Its passages get their questions for the question index (`ingest.questions`): from `questions` (a
    file or the admin's edits), kept from an earlier version, bundled in corpus/questions, or written by
    `writer` (the configured language model)."""
    sha = sha256_file(path)
    doc = replace(doc, sha256=sha, file=doc.file or path.name)
    known = lib.registry.version_with_sha(doc.doc_id, sha)
    if known and known.version == doc.version:
        ids = lib.registry.chunk_ids(doc.doc_id, doc.version)
        result = VersionResult(doc.doc_id, doc.version, "unchanged", chunks=len(ids))
        # questions added since (bundled data, a questions file) reach an unchanged version too
        result.questions = attach_questions(lib.questions, lib.store.load(ids)[0], provided=questions,
                                            bundled=bundled_questions(lib.settings.corpus_dir), writer=writer,
                                            progress=progress)
        if result.questions.new_questions or result.questions.provided:
            lib.registry.touch()
        return result
    if known:
        raise InputError(f"{path}: this file is already registered as version '{known.version}' of '{doc.doc_id}'. "
                         "Nothing was changed.")
    sections = read_document(path, doc, max_bytes=lib.settings.max_upload_mb * 1024 * 1024)
    chunks = chunk_sections(sections, max_chars=lib.settings.chunk_max_chars)
    result = VersionResult(doc.doc_id, doc.version, "added", chunks=len(chunks))
    previous = lib.registry.version(doc.doc_id, doc.version)
    if previous:
        result.status = "updated"
    _compare_sections(lib, doc, chunks, result)
    before = lib.embedder.encoded
    _test_hook("before-store")
    result.new_chunks = store_chunks(lib, chunks, {doc.doc_id: doc.title}, progress=progress)
    result.questions = attach_questions(lib.questions, chunks, provided=questions,
                                        bundled=bundled_questions(lib.settings.corpus_dir), writer=writer,
                                        progress=progress)
    result.encoded = lib.embedder.encoded - before
    _test_hook("before-register")
    lib.registry.add_version(doc, [c.chunk_id for c in chunks], state=state)
    if state == "staged":
        result.status = "staged"
    return result


def _test_hook(point: str) -> None:
    """Crash tests stop a real ingest at a named point: with ASSISTANT_TEST_PAUSE_AT=<point> the process
    announces itself in ASSISTANT_TEST_PAUSE_FILE and waits there to be killed."""
    if os.environ.get("ASSISTANT_TEST_PAUSE_AT") == point:
        Path(os.environ["ASSISTANT_TEST_PAUSE_FILE"]).write_text(point)
        time.sleep(600)


def store_chunks(lib: Library, chunks: list[Chunk], titles: dict[str, str], progress=None) -> int:
    """Embed and store the chunks Chroma does not have yet, and their sentences for extractive answers."""
    ids = [c.chunk_id for c in chunks]
    have = lib.store.existing_ids(ids)
    new = [c for c in chunks if c.chunk_id not in have]
    if new:
        vectors = lib.embedder.encode_passages([c.embedding_text(titles.get(c.doc_id, "")) for c in new], progress)
        lib.store.add(new, vectors, titles)
        _test_hook("chunks-stored")
    sentences = [s for c in chunks for s in split_sentences(c.text)]
    lib.embedder.encode_passages(sentences)
    return len(new)


def _compare_sections(lib: Library, doc: DocumentVersion, chunks: list[Chunk], result: VersionResult) -> None:
    """Count sections added / changed / removed / unchanged against the version before this one."""
    prior = [v for v in lib.registry.versions(doc.doc_id) if v.version != doc.version and v.state != "staged"
             and (v.valid_from, v.version) <= (doc.valid_from, doc.version)]
    new_keys = _section_texts(chunks)
    if not prior:
        result.sections_added = len(new_keys)
        return
    old_chunks, _ = lib.store.load(lib.registry.chunk_ids(doc.doc_id, prior[-1].version))
    old_keys = _section_texts(old_chunks)
    result.sections_added = len(new_keys.keys() - old_keys.keys())
    result.sections_removed = len(old_keys.keys() - new_keys.keys())
    common = new_keys.keys() & old_keys.keys()
    result.sections_changed = sum(1 for k in common if new_keys[k] != old_keys[k])
    result.sections_unchanged = len(common) - result.sections_changed


def _section_texts(chunks: list[Chunk]) -> dict[str, str]:
    texts: dict[str, list[tuple[int, str]]] = {}
    for c in chunks:
        texts.setdefault(c.section_key, []).append((c.index, c.text))
    return {k: "\n".join(t for _, t in sorted(v)) for k, v in texts.items()}


def ingest_manifest(lib: Library, *, progress_factory=None, writer=None) -> IngestReport:
    """Add or update every manifest document; bad entries are skipped with a message, never fatal."""
    started = time.perf_counter()
    report = IngestReport()
    settings = lib.settings
    lib.store.check_compatible()
    docs = read_manifest(settings.corpus_dir / "manifest.toml")
    encode_before = lib.embedder.encoded
    for doc in docs:
        try:
            path = check_file(doc, settings.corpus_dir)
            progress = progress_factory(doc) if progress_factory else None
            report.results.append(ingest_version(lib, doc, path, progress=progress, writer=writer))
        except InputError as exc:
            report.skipped.append(str(exc))
            log.warning("%s", exc)
    lib.questions.sync_examples(out_of_scope_examples(settings.corpus_dir))
    report.removed_orphans = remove_orphans(lib)
    lib.registry.set_meta("embedding_model", lib.embedder.fingerprint)
    report.seconds = time.perf_counter() - started
    report.encode_seconds = float(lib.embedder.encoded - encode_before)
    return report


def remove_orphans(lib: Library) -> int:
    """Delete stored chunks that no registered version references (left by an interrupted ingest)."""
    referenced = lib.registry.all_chunk_ids()
    stored, _ = lib.store.load()
    orphans = [c.chunk_id for c in stored if c.chunk_id not in referenced]
    if orphans:
        lib.store.delete(orphans)
    lib.questions.delete_except_chunks({c.chunk_id for c in stored} - set(orphans))
    return len(orphans)


def rebuild(lib: Library, *, progress_factory=None, writer=None) -> tuple[Library, IngestReport]:
    """Drop the index and build it again: the manifest documents from corpus/, every other registered
    version (MASTD's uploads) from its stored copy in data/uploads, each in its previous state.
    Refused, with nothing changed, when a stored copy is missing."""
    settings = lib.settings
    manifest = {(d.doc_id, d.version) for d in read_manifest(settings.corpus_dir / "manifest.toml")}
    others = [v for v in lib.registry.versions() if (v.doc_id, v.version) not in manifest]
    missing = [f"{v.doc_id} {v.version} ({settings.data_dir / 'uploads' / v.file})" for v in others
               if not (settings.data_dir / "uploads" / v.file).is_file()]
    if missing:
        raise InputError("Rebuild refused: the stored source of these versions is missing: " + "; ".join(missing)
                         + ". Restore the files (or a backup) first; nothing was changed.")
    lib.registry.reset()  # first: readers then see no documents rather than versions whose chunks are gone
    lib.store.reset()
    lib.questions.reset()
    report = ingest_manifest(lib, progress_factory=progress_factory, writer=writer)
    for v in sorted(others, key=lambda v: (v.doc_id, v.valid_from, v.version)):
        try:
            report.results.append(ingest_version(lib, v, settings.data_dir / "uploads" / v.file, state=v.state,
                                                 writer=writer))
        except InputError as exc:
            report.skipped.append(str(exc))
    return lib, report
