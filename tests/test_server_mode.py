"""Chroma in client/server mode: a real `chroma run` server holds the chunks, the shared embedding cache
and the version registry; ingestion, an eval subset and two app processes run against it."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from assistant.answering.extractive import Answerer
from assistant.errors import InputError, StorageError, WriterLockedError
from assistant.storage.library import open_library, writer_lock
from assistant.records import DocumentVersion
from assistant.storage.registry import open_registry
from assistant.storage.registry_server import ServerRegistry
from assistant.retrieval.ranking import Retriever
from assistant.storage.store import connect_chroma
from conftest import CACHE, GUIDELINE_V1, GUIDELINE_V2, MODEL_DIR, ROOT, make_settings
from eval.runner import answer_all, load_questions
from ingest.pipeline import ingest_version
from test_browser import (ARTIFACTS, CHAT_INPUT, START_TIMEOUT_S, answer_text, ask, browser, free_port,  # noqa: F401
                          healthy, open_chat, source_labels, stop)

pytestmark = pytest.mark.server

CHROMA = Path(sys.executable).with_name("chroma")
TODAY = dt.date(2026, 11, 29)
ZULASSUNG = "Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?"


def start_chroma(path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(path.with_suffix(".log"), "w")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"`chroma run` did not come up on {url}:\n{path.with_suffix('.log').read_text()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture
def chroma_url(tmp_path):
    proc, url = start_chroma(tmp_path / "chroma-server")
    yield url
    stop(proc)


def server_settings(data_dir: Path, url: str):
    settings = make_settings(data_dir)
    settings.chroma_url = url
    return settings


def with_cache(data_dir: Path) -> Path:
    """A fresh instance's data dir holding only the local embedding cache (known vectors: no re-encoding)."""
    data_dir.mkdir(parents=True)
    if CACHE.exists():
        shutil.copyfile(CACHE, data_dir / "embedding-cache.sqlite")
    return data_dir


# --- the registry on the server ----------------------------------------------------------------------
def doc(doc_id: str, version: str, day: str) -> DocumentVersion:
    return DocumentVersion(doc_id=doc_id, version=version, valid_from=day, title="Test (fiktiv)", short="T",
                           kind="guideline")


def test_registry_on_the_server_loses_no_update_of_two_concurrent_instances(tmp_path, chroma_url):
    settings = server_settings(tmp_path / "data", chroma_url)
    first, second = open_registry(settings), open_registry(settings)
    errors = []

    def register(registry, doc_id):
        try:
            for i in range(8):
                registry.add_version(doc(doc_id, f"v{i}", f"2025-01-{i + 1:02d}"), [f"{doc_id}-{i}-{j}" for j in range(50)],
                                     state="active")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(r, d)) for r, d in ((first, "a"), (second, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    third = open_registry(settings)  # a third instance sees everything both wrote
    assert len(third.versions()) == 16 and third.generation() == 16
    assert third.chunk_ids("b", "v3") == [f"b-3-{j}" for j in range(50)]
    assert len(third.all_chunk_ids()) == 800
    assert {d: v.version for d, v in third.in_force(dt.date(2025, 1, 5)).items()} == {"a": "v4", "b": "v4"}
    first.set_state("a", "v7", "retired")
    assert second.version("a", "v7").state == "retired" and second.generation() == 17
    with pytest.raises(InputError, match="no such version"):
        second.set_state("a", "v9", "active")
    assert third.generation() == 17, "a refused change must not count as a change"
    assert not (tmp_path / "data" / "registry.sqlite").exists(), "server mode keeps no local registry"


def test_writers_on_different_hosts_exclude_each_other_through_a_lease_on_the_server(tmp_path, chroma_url):
    host_a, host_b = (server_settings(tmp_path / name, chroma_url) for name in ("host-a", "host-b"))
    with writer_lock(host_a):  # different data dirs: only the server can tell them apart
        with pytest.raises(WriterLockedError, match=r"being changed by process \d+ on .*lapses at"):
            with writer_lock(host_b):
                pass
    with writer_lock(host_b):  # handed back: the next writer gets it
        pass
    registry = ServerRegistry(connect_chroma(host_a), where=chroma_url)
    with registry.lease("a process that dies", seconds=0):
        time.sleep(1.1)
        with writer_lock(host_b):  # a lapsed lease does not block for ever
            pass
    assert registry.generation() == 0, "taking the lease is not a change of the registry"


def ingest_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(settings.data_dir), ASSISTANT_EMBEDDING_MODEL=str(MODEL_DIR),
               ASSISTANT_CHROMA_URL=settings.chroma_url)
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_unlock_frees_the_lease_of_a_writer_that_died_but_not_of_one_still_running(tmp_path, chroma_url):
    host_a, host_b = (server_settings(tmp_path / name, chroma_url) for name in ("host-a", "host-b"))
    registry = ServerRegistry(connect_chroma(host_a), where=chroma_url)
    crashed = registry.lease("process 4242 on a-host-that-crashed")
    crashed.__enter__()  # its writer died: the lease is never handed back
    with pytest.raises(WriterLockedError, match=r"a-host-that-crashed .*python -m ingest unlock"):
        with writer_lock(host_b):
            pass
    done = ingest_cli(host_b, "unlock")
    assert done.returncode == 0, done.stderr
    assert f"{chroma_url}: released the lock of process 4242 on a-host-that-crashed" in done.stdout
    with writer_lock(host_b):  # the next writer gets it at once, not after an hour
        pass
    assert "no writer holds the index" in ingest_cli(host_b, "unlock").stdout
    # a writer running on this host (this test process, through another data dir) is never unlocked
    with writer_lock(host_a):
        refused = ingest_cli(host_b, "unlock")
        assert refused.returncode == 1
        assert f"process {os.getpid()} on {socket.gethostname()}, which is still running" in refused.stderr
        with pytest.raises(WriterLockedError):
            with writer_lock(host_b):
                pass
    assert registry.generation() == 0, "locks are not changes of the registry"


def test_unreachable_server_is_a_clear_error(tmp_path):
    settings = server_settings(tmp_path / "data", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match=r"127\.0\.0\.1.*(Chroma|server)"):
        open_registry(settings).versions()


# --- ingestion and an eval subset ----------------------------------------------------------------------
def test_ingest_and_fixture_eval_on_the_server_match_the_embedded_store(tmp_path, chroma_url, embedder, guideline_pdfs):
    questions = load_questions([ROOT / "eval" / "questions_fixture.jsonl"])
    results = {}
    for mode, settings in (("embedded", make_settings(with_cache(tmp_path / "embedded"))),
                           ("server", server_settings(with_cache(tmp_path / "server"), chroma_url))):
        lib = open_library(settings, embedder=embedder if mode == "embedded" else None)
        for version, name in ((GUIDELINE_V1, "leitlinie_v1"), (GUIDELINE_V2, "leitlinie_v2")):
            ingest_version(lib, version, guideline_pdfs[name])
        answerer = Answerer(Retriever(lib, clock=lambda: TODAY))
        results[mode] = answer_all(answerer, questions)
    assert not (tmp_path / "server" / "chroma").exists() and not (tmp_path / "server" / "registry.sqlite").exists()
    for local, remote in zip(results["embedded"], results["server"]):
        assert [h["chunk_id"] for h in remote["retrieved"]] == [h["chunk_id"] for h in local["retrieved"]], local["id"]
        assert remote["answer"]["text"] == local["answer"]["text"], local["id"]
    assert sum(r["answer"]["refused"] for r in results["server"]) < len(questions)


# --- two app processes ---------------------------------------------------------------------------------
@pytest.fixture
def app_instance(tmp_path, chroma_url, browser):  # noqa: F811 - the browser fixture of test_browser
    """Instance B: `streamlit run app.py` with its own data dir, against the Chroma server."""
    data_dir = with_cache(tmp_path / "instance-b")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "streamlit-server-mode.log"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR),
           "ASSISTANT_CHROMA_URL": chroma_url, "ASSISTANT_LLM_BASE_URL": "", "HF_HUB_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not come up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        context = browser.new_context()  # the first session loads the model and the snapshot from the server
        try:
            page = context.new_page()
            page.goto(url)
            expect(page.locator(CHAT_INPUT)).to_be_visible(timeout=max(deadline - time.monotonic(), 30) * 1000)
        finally:
            context.close()
        yield url
    finally:
        stop(proc)


def test_version_activated_through_one_instance_is_what_the_other_answers_from(
        tmp_path, chroma_url, guideline_pdfs, app_instance, browser, monkeypatch, password_hash):  # noqa: F811
    # MASTD ingests v1 (in force) and stages v2 through instance A's data dir and the server
    admin_dir = with_cache(tmp_path / "instance-a")
    lib = open_library(server_settings(admin_dir, chroma_url))
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    ingest_version(lib, GUIDELINE_V2, guideline_pdfs["leitlinie_v2"], state="staged")

    page = open_chat(browser, app_instance)
    try:
        before = ask(page, ZULASSUNG, "acht Wochen")
        assert "Fassung 2025-09" in before.inner_text() and "sechs Wochen" not in answer_text(before)

        # instance A: the admin page (a second app process: this one) activates v2 on the server
        for key, value in {"ASSISTANT_DATA_DIR": str(admin_dir), "ASSISTANT_CHROMA_URL": chroma_url,
                           "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR), "ASSISTANT_ADMIN_PASSWORD_HASH": password_hash,
                           "ASSISTANT_CORPUS_DIR": str(ROOT / "corpus")}.items():
            monkeypatch.setenv(key, value)
        admin = AppTest.from_file(str(ROOT / "pages" / "dokumente.py"), default_timeout=180)
        admin.run()
        admin.text_input(key="admin_password").input("test-passwort")
        admin.button(key="FormSubmitter:admin_login-Anmelden").click().run()
        admin.selectbox(key="state_version").set_value("ll-ki-fiktiv · 2026-03").run()
        admin.button(key="activate").click().run()
        assert not admin.exception, admin.exception
        assert "ll-ki-fiktiv Fassung 2026-03: jetzt aktiv." in "\n".join(s.value for s in admin.success)

        # instance B answers from v2 without a restart
        after = ask(page, ZULASSUNG, "sechs Wochen")
        assert "Fassung 2026-03" in after.inner_text() and "acht Wochen" not in answer_text(after)
        assert source_labels(after), "the answer cites its passage"
        expect(page.locator(CHAT_INPUT)).to_be_visible()
    finally:
        page.context.close()
