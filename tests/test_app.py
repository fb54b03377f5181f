"""The staff page answers a German question with a citation label, through the real Streamlit app."""
from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from conftest import ROOT


def test_chat_answers_with_an_article_citation(corpus_library, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(corpus_library.settings.data_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", corpus_library.settings.embedding_model)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    at.chat_input[0].set_value("Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any("Art. 26 Abs. 6 KI-VO" in label for label in labels), labels
    assert any("sechs Monate" in t.value for t in at.text)
