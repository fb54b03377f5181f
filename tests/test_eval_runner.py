"""The eval runner on the real pipeline, the question files, and the gate catching a broken retriever."""
from __future__ import annotations

import json
import shutil

import pytest

from assistant.retrieval.ranking import Retriever
from conftest import CACHE, FIXTURES, ROOT, make_settings
from eval.gate import gate, load_thresholds
from eval.metrics import normalise
from eval.runner import DEFAULT_QUESTIONS, load_questions
from eval.runner import run as run_eval

QUESTIONS = load_questions(DEFAULT_QUESTIONS)


def test_question_files_have_the_agreed_shape():
    ids = [q["id"] for q in QUESTIONS]
    assert len(ids) == len(set(ids)) >= 80
    assert sum(1 for q in QUESTIONS if not q["answerable"]) >= 15
    assert sum(1 for q in QUESTIONS if q.get("history")) >= 15
    for q in QUESTIONS:
        assert q["split"] in ("dev", "test", "holdout")
        if q["answerable"]:
            assert q["evidence"] and all(len(e.split()) >= 5 for e in q["evidence"]), q["id"]
        else:
            assert q["evidence"] == [], q["id"]


def test_every_evidence_quote_occurs_in_the_indexed_passages(corpus_library):
    chunks, _ = corpus_library.store.load()
    corpus = [normalise(c.text) for c in chunks]
    fixture = {p.stem: normalise(p.read_text(encoding="utf-8")) for p in FIXTURES.glob("leitlinie_v*.md")}
    missing = []
    for q in QUESTIONS:
        for quote in q["evidence"]:
            text = normalise(quote)
            if "fixture" in q.get("tags", []):
                found = any(text in doc for doc in fixture.values())
            else:
                found = any(text in c for c in corpus)
            if not found:
                missing.append((q["id"], quote))
    assert missing == []


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    """Twenty answerable questions and the settings for a private eval run."""
    tmp = tmp_path_factory.mktemp("eval")
    chosen = [q for q in QUESTIONS if q["answerable"] and "fixture" not in q["tags"] and not q.get("history")][:20]
    path = tmp / "subset.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in chosen), encoding="utf-8")
    settings = make_settings(tmp / "data", ROOT / "corpus")
    settings.data_dir.mkdir(parents=True)
    if CACHE.exists():
        shutil.copyfile(CACHE, settings.embedding_cache_path)
    return settings, path


def test_runner_writes_the_agreed_results_shape(subset):
    settings, path = subset
    doc = run_eval(settings, [path], progress=False)
    assert set(doc) >= {"config", "summary", "results"}
    assert doc["config"]["corpus"] == {"eu-ai-act": "2024-06-13", "ministerrat-rlp-2025-06-top4": "2025-06"}
    for key in ("hit@1", "hit@5", "mrr@10", "citation_hit", "refusal_accuracy", "false_refusals", "latency_ms_p95"):
        assert key in doc["summary"]
    first = doc["results"][0]
    assert first["retrieved"][0]["rank"] == 1 and first["retrieved"][0]["text"]
    assert {"text", "refused", "citations"} <= set(first["answer"])
    assert doc["summary"]["hit@5"] >= 0.5


def test_gate_fails_when_a_broken_retriever_is_plugged_in(subset, monkeypatch, tmp_path):
    settings, path = subset
    # only the comparison with the baseline: a subset need not reach the full set's floors
    tolerances = (ROOT / "eval" / "thresholds.toml").read_text(encoding="utf-8").split("[floor]")[0]
    (tmp_path / "thresholds.toml").write_text(tolerances, encoding="utf-8")
    thresholds = load_thresholds(tmp_path / "thresholds.toml")
    good = run_eval(settings, [path], progress=False)
    real = Retriever.retrieve

    def broken(self, query, *, k=10):  # returns the passages in reverse relevance order
        return list(reversed(real(self, query, k=200)))[:k]

    monkeypatch.setattr(Retriever, "retrieve", broken)
    bad = run_eval(settings, [path], progress=False)
    result = gate(bad, good, thresholds)
    assert not result.passed
    assert any(line.startswith("hit@5") for line in result.failures), result.failures
    assert gate(good, good, thresholds).passed
