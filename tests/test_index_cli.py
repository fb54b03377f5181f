"""The index knows how it was built; the status and search commands show what is indexed."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant.errors import IndexMismatchError
from assistant.storage.library import open_library
from conftest import MODEL_DIR, ROOT, make_settings
from ingest.pipeline import ingest_version


def test_index_built_with_other_chunking_is_refused_with_the_rebuild_command(tmp_path, embedder, guideline_pdfs):
    from conftest import GUIDELINE_V1

    settings = make_settings(tmp_path / "data")
    lib = open_library(settings, embedder=embedder)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    other = settings.model_copy(update={"chunk_max_chars": 900})
    with pytest.raises(IndexMismatchError) as info:
        open_library(other, embedder=embedder).store.check_compatible()
    assert "chunk_max_chars" in str(info.value)
    assert "python -m ingest run --rebuild" in str(info.value)


def _cli(*args, data_dir):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR)}
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_status_lists_documents_versions_and_chunk_counts(corpus_library):
    done = _cli("status", data_dir=corpus_library.settings.data_dir)
    assert done.returncode == 0, done.stderr
    assert "multilingual-e5-small" in done.stdout
    line = next(ln for ln in done.stdout.splitlines() if "eu-ai-act" in ln)
    assert "2024-06-13" in line and "in force" in line
    assert int(line.split("chunks")[0].split()[-1]) > 1000


def test_search_prints_labelled_passages(corpus_library):
    done = _cli("search", "Was steht in Artikel 50 Absatz 4?", "-k", "3", data_dir=corpus_library.settings.data_dir)
    assert done.returncode == 0, done.stderr
    first = next(ln for ln in done.stdout.splitlines() if ln.strip().startswith("1."))
    assert "Art. 50 Abs. 4 KI-VO" in first and "[2024-06-13]" in first


def test_unlock_never_frees_the_lock_of_a_writer_that_is_still_running(tmp_path):
    from assistant.storage.library import writer_lock

    settings = make_settings(tmp_path / "data")
    with writer_lock(settings):
        held = _cli("unlock", data_dir=settings.data_dir)
    assert held.returncode == 1
    assert held.stderr.strip() == (f"Fehler: {settings.data_dir}: the index is being changed by process {os.getpid()}, "
                                   "which is still running; its lock is freed when it ends.")
    free = _cli("unlock", data_dir=settings.data_dir)
    assert free.returncode == 0, free.stderr
    assert "no writer holds the index" in free.stdout
