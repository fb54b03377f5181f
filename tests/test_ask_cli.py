"""`python -m assistant ask` as a user runs it: a real subprocess over the session's corpus index."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import CACHE, MODEL_DIR, ROOT

QUESTION = "Was steht in Artikel 50 Absatz 4?"


@pytest.fixture(scope="module")
def cli_env(corpus_library):
    data_dir = corpus_library.settings.data_dir
    cache = data_dir / "embedding-cache.sqlite"
    if not cache.exists() and CACHE.exists():
        # the session index was built with the project's shared cache; without a copy beside it, the
        # subprocess would encode every sentence of the corpus again before it can answer. The backup
        # API gives a consistent copy even while another process writes to the shared cache.
        source, target = sqlite3.connect(CACHE), sqlite3.connect(cache)
        source.backup(target)
        source.close()
        target.close()
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_EMBEDDING_MODEL=str(MODEL_DIR),
               ASSISTANT_LLM_BASE_URL="", ASSISTANT_LLM_MODEL="")  # a developer's .env must not switch the LLM on
    return env


def ask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", "ask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_ask_prints_the_answer_and_its_sources(cli_env):
    run = ask(cli_env, QUESTION)
    assert run.returncode == 0, run.stderr
    assert "Quellen:" in run.stdout
    assert "Art. 50 Abs. 4 KI-VO" in run.stdout
    assert "Fassung 2024-06-13" in run.stdout


def test_ask_json_prints_the_answer_record(cli_env):
    run = ask(cli_env, QUESTION, "--json", "--k", "5")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert {"text", "refused", "mode", "citations", "retrieved"} <= set(record)
    assert record["mode"] == "extractive" and not record["refused"]
    assert len(record["retrieved"]) == 5
    assert record["retrieved"][0]["section"] == "Art. 50 Abs. 4 KI-VO"
    assert any(c["section"] == "Art. 50 Abs. 4 KI-VO" for c in record["citations"])


def test_llm_mode_without_an_llm_is_refused_in_one_line(cli_env):
    run = ask(cli_env, QUESTION, "--mode", "llm")
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "ASSISTANT_LLM_BASE_URL" in lines[0] and "ASSISTANT_LLM_MODEL" in lines[0]
