"""Shared fixtures: the real embedding model, real Chroma in temporary directories, real PDFs.

The embedding cache of the project's data directory is shared (it is keyed by model and text hash),
so a test index over the corpus is built in seconds once `make setup` has ingested the corpus.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(FIXTURES))

from assistant.storage.library import open_library  # noqa: E402
from assistant.storage.models import Embedder, EmbeddingCache  # noqa: E402
from assistant.records import DocumentVersion  # noqa: E402
from assistant.settings import Settings  # noqa: E402

MODEL_DIR = Path(os.environ.get("ASSISTANT_EMBEDDING_MODEL", ROOT / "models" / "multilingual-e5-small"))
CACHE = ROOT / "data" / "embedding-cache.sqlite"

GUIDELINE = dict(doc_id="ll-ki-fiktiv", title="Leitlinie zur Nutzung von KI-Sprachmodellen (Testfassung, fiktiv)",
                 short="LL-KI (fiktiv)", kind="guideline", issuer="Musterministerium für Digitales (fiktiv)")
GUIDELINE_V1 = DocumentVersion(version="2025-09", valid_from="2025-09-01", **GUIDELINE)
GUIDELINE_V2 = DocumentVersion(version="2026-03", valid_from="2026-03-01", **GUIDELINE)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    if not MODEL_DIR.exists():
        from scripts.build_embedding_model import build

        build(MODEL_DIR)
    return Embedder(str(MODEL_DIR), cache=EmbeddingCache(CACHE))


def make_settings(data_dir: Path, corpus_dir: Path | None = None) -> Settings:
    return Settings(data_dir=data_dir, corpus_dir=corpus_dir or ROOT / "corpus", embedding_model=str(MODEL_DIR),
                    _env_file=None)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def library(settings, embedder):
    """An empty library in a temporary data directory."""
    return open_library(settings, embedder=embedder)


@pytest.fixture(scope="session")
def corpus_library(tmp_path_factory, embedder):
    """The bundled corpus (AI Act, cabinet decision) ingested once for the whole session."""
    from ingest.pipeline import ingest_manifest

    lib = open_library(make_settings(tmp_path_factory.mktemp("corpus-data")), embedder=embedder)
    report = ingest_manifest(lib)
    assert not report.skipped, report.skipped
    # processes started on this data directory (CLI, app) read the vectors from its own cache
    shutil.copyfile(CACHE, lib.settings.embedding_cache_path)
    return lib


@pytest.fixture(scope="session")
def guideline_pdfs(tmp_path_factory) -> dict[str, Path]:
    """The fictional guideline in two versions, rendered to real PDFs."""
    from render_pdf import FOOTER, HEADER_TEMPLATE, render_markdown_to_pdf

    out = tmp_path_factory.mktemp("pdfs")
    pdfs = {}
    for name, label in (("leitlinie_v1", "2025-09"), ("leitlinie_v2", "2026-03")):
        pdfs[name] = render_markdown_to_pdf(FIXTURES / f"{name}.md", out / f"{name}.pdf",
                                            header=HEADER_TEMPLATE.format(label=label), footer=FOOTER)
    return pdfs


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Admin password hash for the admin and evaluation page tests (password: PASSWORD there)."""
    from assistant.governance.auth import hash_password

    return hash_password("test-passwort")


@pytest.fixture
def fresh_lockout():
    """The login failure counter is process-wide on purpose; tests must not inherit each other's failures."""
    from assistant.governance import auth

    auth.FAILURES.reset()
    yield
    auth.FAILURES.reset()


@pytest.fixture(scope="module")
def llm_server():
    """The scripted OpenAI-compatible server of test_generate, for the app's LLM mode."""
    from test_generate import ScriptedLLM

    server = ScriptedLLM()
    yield server
    server.close()


@pytest.fixture
def today():
    return dt.date(2026, 11, 29)


def copy_corpus(target: Path) -> Path:
    """A private copy of corpus/ (manifest and documents) that a test may break."""
    shutil.copytree(ROOT / "corpus", target)
    return target
