"""Storage failures and ingestion under load: a full disk (a real file-size limit on a real ingest
process, failing at the cache, the chunk store or the registry), a damaged index, an unusable data directory, and a new version activated
while questions are being answered. Each ends with a clear message and the previous state served."""
from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from assistant.answering.extractive import Answerer
from assistant.errors import StorageError
from assistant.storage.library import open_library
from assistant.retrieval.ranking import Retriever
from conftest import CACHE, GUIDELINE_V1, GUIDELINE_V2, MODEL_DIR, ROOT, make_settings
from ingest.pipeline import chunk_sections, ingest_version, read_document, store_chunks

pytestmark = pytest.mark.reliability

TODAY = dt.date(2026, 11, 29)
ZULASSUNG = "Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?"
FACT = {"2025-09": "acht Wochen", "2026-03": "sechs Wochen"}


@pytest.fixture
def v1_library(tmp_path, embedder, guideline_pdfs):
    lib = open_library(make_settings(tmp_path / "data"), embedder=embedder)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    if CACHE.exists():  # the ingest process finds the known vectors here
        shutil.copyfile(CACHE, lib.settings.embedding_cache_path)
    return lib


def served(lib) -> tuple[list[str], str]:
    """The registered versions and the answer to the Zulassung question, read afresh from disk."""
    fresh = open_library(lib.settings, embedder=lib.embedder)
    fresh.store.reopen()
    versions = [v.version for v in fresh.registry.versions("ll-ki-fiktiv")]
    return versions, Answerer(Retriever(fresh, clock=lambda: TODAY)).answer(ZULASSUNG).text


def add_v2(lib, pdf, *, title: str, max_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limit():  # a real "no space": every write that grows a file past the limit fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    env = {**os.environ, "ASSISTANT_DATA_DIR": str(lib.settings.data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR)}
    return subprocess.run([sys.executable, "-m", "ingest", "add", str(pdf), "--doc-id", "ll-ki-fiktiv", "--version",
                           "2026-03", "--valid-from", "2026-03-01", "--title", title, "--short", "LL-KI (fiktiv)"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if max_file_bytes else None)


@pytest.mark.parametrize("where, title, message", [
    ("chroma", GUIDELINE_V1.title, "the index cannot be opened"),  # no room at all: opening the store writes
    ("embedding-cache.sqlite", "Leitlinie (fiktiv), neu betitelt", "writing failed"),  # new texts: vectors first
    ("chroma", GUIDELINE_V1.title, "writing failed"),  # known vectors: the first write is the chunk store's
    ("registry.sqlite", GUIDELINE_V1.title, "writing failed"),  # chunks stored by an earlier, interrupted run
])
def test_full_disk_during_ingest_is_a_clear_error_and_the_previous_version_stays_served(
        v1_library, guideline_pdfs, where, title, message):
    if where == "registry.sqlite":
        doc = replace(GUIDELINE_V2, title=title)
        chunks = chunk_sections(read_document(guideline_pdfs["leitlinie_v2"], doc), max_chars=1400)
        store_chunks(v1_library, chunks, {doc.doc_id: title})
    generation = v1_library.registry.generation()
    pdf = guideline_pdfs["leitlinie_v2"]
    # room for the small files (lock, the kept copy of the file) but not for growing the index files
    room = 1024 if message == "the index cannot be opened" else pdf.stat().st_size + 2048
    assert all(f.stat().st_size > room for f in (v1_library.settings.chroma_dir / "chroma.sqlite3",
                                                  v1_library.settings.embedding_cache_path))
    failed = add_v2(v1_library, pdf, title=title, max_file_bytes=room)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert f"{v1_library.settings.data_dir / where}: {message}" in failed.stderr, failed.stderr
    assert "disk is full" in failed.stderr.replace("disk may be full", "disk is full")
    assert "try again" in failed.stderr or "run the same command again" in failed.stderr
    versions, text = served(v1_library)
    assert versions == ["2025-09"] and "acht Wochen" in text
    assert v1_library.registry.generation() == generation
    # space again: the same command completes
    done = add_v2(v1_library, guideline_pdfs["leitlinie_v2"], title=title)
    assert done.returncode == 0, done.stderr
    versions, text = served(v1_library)
    assert versions == ["2025-09", "2026-03"] and "sechs Wochen" in text


def run_cli(data_dir, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_damaged_index_files_give_a_clear_message_naming_the_folder_and_the_remedy(v1_library):
    chroma_db = v1_library.settings.chroma_dir / "chroma.sqlite3"
    chroma_db.write_bytes(b"\x00garbage" * 5000)
    for args in (("-m", "assistant", "ask", ZULASSUNG), ("-m", "ingest", "status")):
        done = run_cli(v1_library.settings.data_dir, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"{v1_library.settings.chroma_dir}: the index cannot be opened" in done.stderr
        assert "restore the folder from a backup" in done.stderr.lower() and "--rebuild" in done.stderr


def test_a_data_directory_that_is_a_file_gives_a_clear_message(tmp_path):
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("x")
    for args in (("-m", "assistant", "ask", ZULASSUNG), ("-m", "ingest", "status")):
        done = run_cli(not_a_dir, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"{not_a_dir}: the data directory cannot be used (it is a file, not a folder)" in done.stderr
    assert not_a_dir.read_text() == "x"


def test_answers_during_an_ingest_each_come_from_exactly_one_version(v1_library, guideline_pdfs):
    """Questions run in threads while another process ingests and activates v2: every answer cites one
    version only, and its text states that version's fact (never a mix)."""
    answerer = Answerer(Retriever(open_library(v1_library.settings, embedder=v1_library.embedder),
                                  clock=lambda: TODAY))
    answers, errors, stop = [], [], threading.Event()

    def ask_repeatedly():
        while not stop.is_set():
            try:
                answers.append((threading.get_ident(), answerer.answer(ZULASSUNG)))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=ask_repeatedly) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        done = add_v2(v1_library, guideline_pdfs["leitlinie_v2"], title=GUIDELINE_V1.title)
        after = len(answers)

        def answered_since():
            return [sum(1 for t, _ in answers[after:] if t == thread.ident) for thread in threads]
        while min(answered_since()) < 2 and not errors:  # every thread asks twice after the switch
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert done.returncode == 0, done.stderr
    assert not errors, errors
    seen: dict[int, list[str]] = {}
    for thread, a in answers:
        versions = {c.version for c in a.citations if c.doc_id == "ll-ki-fiktiv"}
        assert len(versions) == 1, versions
        (version,) = versions
        other = next(v for v in FACT if v != version)
        assert FACT[version] in a.text and FACT[other] not in a.text, (version, a.text)
        seen.setdefault(thread, []).append(version)
    for versions in seen.values():  # each thread asks one question after the other
        assert versions[0] == "2025-09" and versions[-1] == "2026-03", "answers before and after the switch"
        assert versions == sorted(versions), "once the new version is served, the old one never comes back"
    assert len(answers) >= 10
