"""Staff can ask against an earlier version of a guideline chosen in the sidebar."""
from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from assistant.storage.library import open_library
from conftest import CACHE, GUIDELINE_V1, GUIDELINE_V2, ROOT, make_settings
from ingest.pipeline import ingest_version

QUESTION = "Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?"


@pytest.fixture(scope="module")
def two_versions_dir(tmp_path_factory, embedder, guideline_pdfs):
    settings = make_settings(tmp_path_factory.mktemp("app-versions"))
    lib = open_library(settings, embedder=embedder)
    for doc, name in ((GUIDELINE_V1, "leitlinie_v1"), (GUIDELINE_V2, "leitlinie_v2")):
        ingest_version(lib, doc, guideline_pdfs[name])
    shutil.copyfile(CACHE, settings.embedding_cache_path)
    return settings.data_dir


def _ask(monkeypatch, data_dir, version=None):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(ROOT / "pages" / "fragen.py"), default_timeout=120)
    at.run()
    if version:
        at.selectbox(key="version-ll-ki-fiktiv").set_value(version).run()
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception
    return at


def test_answer_uses_the_version_in_force_by_default(monkeypatch, two_versions_dir):
    at = _ask(monkeypatch, two_versions_dir)
    labels = [e.label for e in at.expander if "Ziff. 5.2" in e.label]
    assert labels and all("Fassung 2026-03" in label for label in labels)


def test_version_chosen_in_the_sidebar_is_used(monkeypatch, two_versions_dir):
    at = _ask(monkeypatch, two_versions_dir, version="2025-09")
    labels = [e.label for e in at.expander if "Ziff. 5.2" in e.label]
    assert labels and all("Fassung 2025-09" in label for label in labels)
    assert any("acht Wochen" in m.value for m in at.markdown)
