"""Indexing: real Chroma in temporary directories, the real embedding model (shared cache), the real CLI.

Every state check compares the store count, the registry and the encode counter before and after.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CACHE, FIXTURES, GUIDELINE_V1, GUIDELINE_V2, MODEL_DIR, ROOT, copy_corpus, make_settings
from assistant.errors import InputError, ManifestError
from assistant.storage.library import open_library, writer_lock
from assistant.storage.models import text_hash
from assistant.storage.registry import Registry
from assistant.text.sentences import split_sentences
from ingest.chunks import chunk_sections
from ingest.manifest import check_file, read_manifest, sha256_file
from ingest.pipeline import ingest_manifest, ingest_version, read_document

DOC_ID = GUIDELINE_V1.doc_id
DECISION_ID = "ministerrat-rlp-2025-06-top4"


def _state(lib) -> tuple:
    """Everything an ingest may change: stored chunks, versions, their chunk ids, the generation."""
    versions = [(v.doc_id, v.version, v.state, v.sha256) for v in lib.registry.versions()]
    chunk_ids = {(d, v): sorted(lib.registry.chunk_ids(d, v)) for d, v, _, _ in versions}
    return lib.store.count(), versions, chunk_ids, lib.registry.generation()


def _expected_chunks(lib, path, doc):
    return chunk_sections(read_document(path, doc), max_chars=lib.settings.chunk_max_chars)


def _corrupt_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n" + random.Random(3).randbytes(3000))
    return path


# --- one version into an empty library -----------------------------------------------------------

@pytest.fixture(scope="module")
def v1_library(tmp_path_factory, embedder, guideline_pdfs):
    lib = open_library(make_settings(tmp_path_factory.mktemp("v1") / "data"), embedder=embedder)
    result = ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    return lib, result


def test_first_ingest_of_a_version_is_added_with_all_chunks_new(v1_library, guideline_pdfs):
    lib, result = v1_library
    expected = _expected_chunks(lib, guideline_pdfs["leitlinie_v1"], GUIDELINE_V1)
    assert result.status == "added"
    assert result.chunks == result.new_chunks == len(expected) > 0
    assert (result.sections_added, result.sections_changed, result.sections_removed) == (23, 0, 0)
    assert lib.store.count() == len(expected)


def test_ingested_version_is_registered_active_with_its_chunks(v1_library, guideline_pdfs):
    lib, _ = v1_library
    pdf = guideline_pdfs["leitlinie_v1"]
    [version] = lib.registry.versions(DOC_ID)
    assert (version.version, version.valid_from, version.state, version.sha256, version.file) == (
        "2025-09", "2025-09-01", "active", sha256_file(pdf), "leitlinie_v1.pdf")
    assert sorted(lib.registry.chunk_ids(DOC_ID, "2025-09")) == sorted(
        c.chunk_id for c in _expected_chunks(lib, pdf, GUIDELINE_V1))
    assert lib.registry.in_force(dt.date(2025, 10, 1))[DOC_ID].version == "2025-09"


def test_stored_chunks_keep_text_label_and_page(v1_library, guideline_pdfs):
    lib, _ = v1_library
    expected = _expected_chunks(lib, guideline_pdfs["leitlinie_v1"], GUIDELINE_V1)
    stored, vectors = lib.store.load(lib.registry.chunk_ids(DOC_ID, "2025-09"))
    assert stored == expected  # load() orders by document order; Chunk is a frozen dataclass
    assert vectors.shape == (len(expected), 384)


def test_reingest_of_unchanged_file_adds_nothing(library, guideline_pdfs):
    pdf = guideline_pdfs["leitlinie_v1"]
    first = ingest_version(library, GUIDELINE_V1, pdf)
    before, encoded = _state(library), library.embedder.encoded
    again = ingest_version(library, GUIDELINE_V1, pdf)
    assert (again.status, again.chunks, again.new_chunks, again.encoded) == ("unchanged", first.chunks, 0, 0)
    assert library.embedder.encoded == encoded
    assert _state(library) == before


def test_same_file_as_another_version_is_refused(library, guideline_pdfs):
    pdf = guideline_pdfs["leitlinie_v1"]
    ingest_version(library, GUIDELINE_V1, pdf)
    before = _state(library)
    with pytest.raises(InputError, match=r"leitlinie_v1\.pdf: this file is already registered as version '2025-09'"):
        ingest_version(library, GUIDELINE_V2, pdf)
    assert _state(library) == before


def test_corrupt_pdf_is_refused_and_changes_nothing(library, guideline_pdfs, tmp_path):
    ingest_version(library, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    before, encoded = _state(library), library.embedder.encoded
    corrupt = _corrupt_pdf(tmp_path / "leitlinie_v2_kaputt.pdf")
    with pytest.raises(InputError, match=r"leitlinie_v2_kaputt\.pdf: the PDF cannot be read"):
        ingest_version(library, GUIDELINE_V2, corrupt)
    assert _state(library) == before
    assert library.embedder.encoded == encoded


# --- a new version after the first -----------------------------------------------------------------

@pytest.fixture(scope="module")
def v1_then_v2(tmp_path_factory, embedder, guideline_pdfs):
    lib = open_library(make_settings(tmp_path_factory.mktemp("v1v2") / "data"), embedder=embedder)
    v1_chunks = _expected_chunks(lib, guideline_pdfs["leitlinie_v1"], GUIDELINE_V1)
    v2_chunks = _expected_chunks(lib, guideline_pdfs["leitlinie_v2"], GUIDELINE_V2)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    # what v2 must encode: new chunks and all v2 sentences, unless the (shared) cache has them already
    v1_ids = {c.chunk_id for c in v1_chunks}
    texts = [c.embedding_text(GUIDELINE_V2.title) for c in v2_chunks if c.chunk_id not in v1_ids]
    texts += [s for c in v2_chunks for s in split_sentences(c.text)]
    unique = list(dict.fromkeys(texts))
    cached = embedder.cache.get_many(embedder.fingerprint, [text_hash(t) for t in unique])
    uncached = sum(1 for t in unique if text_hash(t) not in cached)
    result = ingest_version(lib, GUIDELINE_V2, guideline_pdfs["leitlinie_v2"])
    return lib, result, v1_chunks, v2_chunks, uncached


def test_new_version_counts_added_removed_and_changed_sections(v1_then_v2):
    _, result, *_ = v1_then_v2
    assert result.status == "added"
    # v2 adds 3.4, removes 2.3 and rewrites 4.1 and 5.2; the title block is not a section in either version
    assert (result.sections_added, result.sections_removed, result.sections_changed, result.sections_unchanged) == (
        1, 1, 2, 20)


def test_new_version_stores_only_chunks_of_changed_sections(v1_then_v2):
    lib, result, v1_chunks, v2_chunks, _ = v1_then_v2
    v1_ids = {c.chunk_id for c in v1_chunks}
    new = [c for c in v2_chunks if c.chunk_id not in v1_ids]
    assert {c.section_key for c in new} == {"ziff-3.4", "ziff-4.1", "ziff-5.2"}
    assert result.chunks == len(v2_chunks)
    assert result.new_chunks == len(new) <= result.chunks // 4
    assert lib.store.count() == len(v1_ids | {c.chunk_id for c in v2_chunks})


def test_new_version_encodes_only_texts_not_seen_before(v1_then_v2):
    _, result, *_, uncached = v1_then_v2
    assert result.encoded == uncached


def test_each_version_is_in_force_from_its_valid_from(v1_then_v2):
    lib = v1_then_v2[0]
    assert lib.registry.in_force(dt.date(2026, 2, 28))[DOC_ID].version == "2025-09"
    assert lib.registry.in_force(dt.date(2026, 3, 1))[DOC_ID].version == "2026-03"


# --- the manifest ----------------------------------------------------------------------------------

def test_second_manifest_run_on_unchanged_corpus_changes_nothing(tmp_path, embedder):
    settings = make_settings(tmp_path / "data", copy_corpus(tmp_path / "corpus"))
    lib = open_library(settings, embedder=embedder)
    first = ingest_manifest(lib)
    assert [(r.doc_id, r.status) for r in first.results] == [("eu-ai-act", "added"), (DECISION_ID, "added")]
    before, encoded = _state(lib), embedder.encoded
    second = ingest_manifest(lib)
    assert [r.status for r in second.results] == ["unchanged", "unchanged"]
    assert [r.chunks for r in second.results] == [r.chunks for r in first.results]
    assert sum(r.new_chunks for r in second.results) == 0
    assert (second.skipped, second.removed_orphans, second.encode_seconds) == ([], 0, 0.0)
    assert embedder.encoded == encoded
    assert _state(lib) == before


ENTRY = """
[[document]]
id = "{id}"
title = "{title}"
short = "{short}"
kind = "{kind}"
version = "{version}"
valid_from = "{valid_from}"
file = "{file}"
sha256 = "{sha256}"
"""


def _entry(**fields) -> str:
    values = dict(id="ll-test", title="Leitlinie (Test)", short="LL", kind="guideline", version="2025-09",
                  valid_from="2025-09-01", file="leitlinie_v1.md", sha256=sha256_file(FIXTURES / "leitlinie_v1.md"))
    values.update(fields)
    return ENTRY.format(**values)


def _manifest(tmp_path, *entries) -> Path:
    path = tmp_path / "manifest.toml"
    path.write_text("".join(entries), encoding="utf-8")
    return path


def test_manifest_entry_is_read_as_a_document_version(tmp_path):
    [doc] = read_manifest(_manifest(tmp_path, _entry(sha256="ABCDEF" + "0" * 58)))
    assert (doc.doc_id, doc.version, doc.valid_from, doc.kind, doc.file, doc.sha256, doc.state) == (
        "ll-test", "2025-09", "2025-09-01", "guideline", "leitlinie_v1.md", "abcdef" + "0" * 58, "active")


def test_bundled_manifest_matches_its_files():
    docs = read_manifest(ROOT / "corpus" / "manifest.toml")
    assert [check_file(d, ROOT / "corpus").name for d in docs] == [
        "eu-ai-act-2024-1689-de.md", "ministerrat-rlp-2025-06-top4-oekosystem-ki.txt"]


def test_manifest_entry_with_missing_file_is_refused(tmp_path):
    [doc] = read_manifest(_manifest(tmp_path, _entry(file="fehlt.md")))
    with pytest.raises(ManifestError, match=r"fehlt\.md: file of manifest entry 'll-test' is missing"):
        check_file(doc, tmp_path)


def test_manifest_entry_with_wrong_checksum_is_refused(tmp_path):
    shutil.copy(FIXTURES / "leitlinie_v2.md", tmp_path / "leitlinie_v1.md")  # a different file under the name
    [doc] = read_manifest(_manifest(tmp_path, _entry()))
    with pytest.raises(ManifestError, match=r"checksum .* does not match the manifest entry 'll-test'"):
        check_file(doc, tmp_path)


def test_manifest_with_duplicate_id_is_refused(tmp_path):
    with pytest.raises(ManifestError, match=r"entry 2 \(ll-test\): duplicate id 'll-test'"):
        read_manifest(_manifest(tmp_path, _entry(), _entry(file="leitlinie_v2.md")))


def test_manifest_entry_with_invalid_date_is_refused(tmp_path):
    with pytest.raises(ManifestError, match=r"entry 1 \(ll-test\): valid_from '2025-02-30' is not a date"):
        read_manifest(_manifest(tmp_path, _entry(valid_from="2025-02-30")))


def test_manifest_entry_with_missing_field_is_refused(tmp_path):
    with pytest.raises(ManifestError, match=r"entry 1 \(ll-test\): missing sha256"):
        read_manifest(_manifest(tmp_path, _entry(sha256="")))


def test_manifest_entry_with_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ManifestError, match=r"entry 1 \(ll-test\): kind 'gesetz' is not one of"):
        read_manifest(_manifest(tmp_path, _entry(kind="gesetz")))


@pytest.fixture(scope="module")
def broken_entry_run(tmp_path_factory, embedder):
    """Ingest the cabinet decision; then run a manifest whose decision file was replaced (checksum
    mismatch) and which adds the guideline as a new document."""
    root = tmp_path_factory.mktemp("broken")
    corpus = root / "corpus"
    corpus.mkdir()
    decision = next(d for d in read_manifest(ROOT / "corpus" / "manifest.toml") if d.doc_id == DECISION_ID)
    shutil.copy(ROOT / "corpus" / decision.file, corpus / decision.file)
    shutil.copy(FIXTURES / "leitlinie_v1.md", corpus / "leitlinie_v1.md")
    decision_entry = _entry(id=DECISION_ID, title=decision.title, short=decision.short, kind=decision.kind,
                            version=decision.version, valid_from=decision.valid_from, file=decision.file,
                            sha256=decision.sha256)
    lib = open_library(make_settings(root / "data", corpus), embedder=embedder)
    _manifest(corpus, decision_entry)
    ingest_manifest(lib)
    before = _state(lib)
    with (corpus / decision.file).open("a", encoding="utf-8") as fh:
        fh.write("\nNachträglich angefügter Satz.\n")
    _manifest(corpus, decision_entry, _entry())
    report = ingest_manifest(lib)
    return lib, before, report


def test_manifest_run_skips_a_broken_entry_with_a_message(broken_entry_run):
    _, _, report = broken_entry_run
    assert len(report.skipped) == 1
    assert f"does not match the manifest entry '{DECISION_ID}'" in report.skipped[0]


def test_manifest_run_indexes_the_other_entries_despite_a_broken_one(broken_entry_run):
    lib, _, report = broken_entry_run
    assert [(r.doc_id, r.status) for r in report.results] == [("ll-test", "added")]
    assert [v.doc_id for v in lib.registry.versions()] == ["ll-test", DECISION_ID]


def test_manifest_run_leaves_the_broken_entrys_indexed_version_unchanged(broken_entry_run):
    lib, before, report = broken_entry_run
    count, versions, chunk_ids, _ = before
    assert [v for v in _state(lib)[1] if v[0] == DECISION_ID] == versions
    assert sorted(lib.registry.chunk_ids(DECISION_ID, "2025-06")) == chunk_ids[(DECISION_ID, "2025-06")]
    assert chunk_ids[(DECISION_ID, "2025-06")]
    assert lib.store.count() == count + report.results[0].new_chunks


# --- the command line ------------------------------------------------------------------------------

def _cli(args: list[str], data_dir: Path, corpus_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_EMBEDDING_MODEL=str(MODEL_DIR),
               ASSISTANT_CORPUS_DIR=str(corpus_dir or ROOT / "corpus"), HF_HUB_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False")
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def _data_dir_with_shared_cache(data_dir: Path) -> Path:
    """A fresh data directory holding a copy of the project's embedding cache (if there is one), so the
    subprocess does not have to encode the corpus again."""
    data_dir.mkdir(parents=True)
    if CACHE.is_file():
        src, dst = sqlite3.connect(CACHE), sqlite3.connect(data_dir / "embedding-cache.sqlite")
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
    return data_dir


def test_cli_run_indexes_the_corpus_and_prints_a_summary(tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    done = _cli(["run"], _data_dir_with_shared_cache(tmp_path / "data"), corpus)
    assert done.returncode == 0, done.stderr
    assert "Summary: 2 added/updated, 0 unchanged, 0 skipped" in done.stdout
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("added")] == [["added", "eu-ai-act"],
                                                                                ["added", DECISION_ID]]
    # every passage of the bundled corpus gets its questions for the question index
    assert lines[1].strip().startswith("questions: 1153 of 1153 passages covered"), lines[1]


@pytest.fixture(scope="module")
def cli_add_corrupt(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-add")
    corrupt = _corrupt_pdf(root / "leitlinie_kaputt.pdf")
    done = _cli(["add", str(corrupt), "--doc-id", "ll-test", "--version", "2026-03", "--valid-from", "2026-03-01",
                 "--title", "Leitlinie (Test)"], root / "data")
    return root, done


def test_cli_add_of_corrupt_file_exits_1_naming_the_file(cli_add_corrupt):
    root, done = cli_add_corrupt
    assert done.returncode == 1
    assert done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if "Fehler:" in line]
    assert len(errors) == 1
    assert "leitlinie_kaputt.pdf: the PDF cannot be read" in errors[0]
    assert Registry(root / "data" / "registry.sqlite").versions() == []


def test_cli_add_of_corrupt_file_prints_only_one_line_on_stderr(cli_add_corrupt):
    _, done = cli_add_corrupt
    assert done.stderr.strip().startswith("Fehler:")
    assert "\n" not in done.stderr.strip()


def test_cli_run_is_refused_while_another_writer_holds_the_lock(tmp_path):
    settings = make_settings(tmp_path / "data")
    with writer_lock(settings):
        done = _cli(["run"], settings.data_dir)
    assert done.returncode == 1
    assert f"the index is being changed by process {os.getpid()}" in done.stderr
    assert not settings.registry_path.exists()
