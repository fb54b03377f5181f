"""Exact unit tests for eval.metrics on literal toy data."""

import sys
from pathlib import Path

# Make the project root importable under plain `pytest` too (no conftest/pyproject).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.metrics import (  # noqa: E402
    citation_hit,
    evidence_rank,
    fact_covered,
    hit_at,
    normalise,
    per_question,
    percentile,
    reciprocal_rank,
    summarise,
    summarise_by,
)


def passage(rank, text, chunk_id=None, section="§ 1"):
    return {"rank": rank, "doc_id": "doc", "section": section, "section_key": section,
            "chunk_id": chunk_id or f"c{rank}", "version": "v1", "page": None, "score": 1.0 / rank, "text": text}


def result(qid, retrieved, refused=False, cite=(), text="", latency=10.0, split="dev", tags=("t",)):
    citations = [{"n": i + 1, "doc_id": "doc", "section": "§ 1", "version": "v1", "page": None,
                  "quote": "", "chunk_id": c} for i, c in enumerate(cite)]
    return {"id": qid, "question": "?", "answerable": True, "tags": list(tags), "split": split,
            "retrieved": retrieved,
            "answer": {"text": text, "refused": refused, "mode": "extractive", "citations": citations,
                       "retrieved": retrieved, "notes": [], "timings_ms": {}, "signals": {}},
            "latency_ms": latency}


def question(qid, answerable=True, evidence=("sechs monate",), facts=(), split="dev", tags=("t",)):
    return {"id": qid, "question": "?", "answerable": answerable, "evidence": list(evidence) if answerable else [],
            "section": "§ 1", "facts": list(facts), "history": [], "tags": list(tags), "split": split}


# --- normalise ---------------------------------------------------------------

def test_normalise_nfkc_ligature_and_fullwidth():
    assert normalise("Die ﬁnale Ｆｒｉｓｔ") == "die finale frist"


def test_normalise_casing_and_whitespace():
    assert normalise("  Sechs\tMONATE\n\n nach\u00a0Ablauf  ") == "sechs monate nach ablauf"


# --- evidence_rank -------------------------------------------------------------

def test_evidence_rank_quote_split_by_line_break():
    q = {"evidence": ["mindestens sechs Monate aufbewahrt"]}
    retrieved = [
        passage(1, "Der Betreiber informiert die Behörde."),
        passage(2, "Die Protokolle werden für mindestens sechs\nMonate  aufbewahrt, sofern ..."),
        passage(3, "mindestens sechs Monate aufbewahrt"),
    ]
    assert evidence_rank(q, retrieved) == 2


def test_evidence_rank_alternative_quote_and_none():
    q = {"evidence": ["gibt es nicht", "Hochrisiko-KI-Systeme"]}
    assert evidence_rank(q, [passage(1, "nichts"), passage(2, "für HOCHRISIKO-KI-Systeme gilt")]) == 2
    assert evidence_rank(q, [passage(1, "nichts")]) is None
    assert evidence_rank({"evidence": []}, [passage(1, "nichts")]) is None


# --- hit / MRR -----------------------------------------------------------------

def test_hit_at_and_reciprocal_rank_values():
    assert [hit_at(r, 5) for r in (1, 5, 6, None)] == [True, True, False, False]
    assert reciprocal_rank(1) == 1.0
    assert reciprocal_rank(4) == 0.25
    assert reciprocal_rank(10) == 0.1
    assert reciprocal_rank(11) == 0.0
    assert reciprocal_rank(None) == 0.0
    assert reciprocal_rank(3, k=2) == 0.0


def test_mrr_in_summary():
    ev = "sechs monate"
    qs = {f"q{i}": question(f"q{i}") for i in range(4)}
    filler = [passage(r, "anderer Text") for r in range(1, 11)]
    results = [
        result("q0", [passage(1, ev)] + filler[1:]),                    # rank 1 -> 1.0
        result("q1", filler[:1] + [passage(2, ev)] + filler[2:]),       # rank 2 -> 0.5
        result("q2", filler),                                           # none  -> 0.0
        result("q3", filler[:3] + [passage(4, ev)] + filler[4:]),       # rank 4 -> 0.25
    ]
    s = summarise(qs, results)
    assert s["mrr@10"] == 0.4375
    assert (s["hit@1"], s["hit@3"], s["hit@5"], s["hit@10"]) == (0.25, 0.5, 0.75, 0.75)


# --- refusals ----------------------------------------------------------------

def test_refusal_counts_on_toy_set():
    qs = {
        "a1": question("a1"),
        "a2": question("a2"),
        "u1": question("u1", answerable=False),
        "u2": question("u2", answerable=False),
    }
    ev = [passage(1, "sechs Monate")]
    results = [
        result("a1", ev, cite=["c1"], text="Sechs Monate.", latency=100.0),  # answered correctly
        result("a2", ev, refused=True, latency=200.0),                        # false refusal
        result("u1", ev, refused=True, latency=300.0),                        # correct refusal
        result("u2", ev, text="Erfunden.", latency=400.0),                    # missed refusal
    ]
    assert summarise(qs, results) == {
        "hit@1": 1.0, "hit@3": 1.0, "hit@5": 1.0, "hit@10": 1.0, "mrr@10": 1.0,
        "citation_hit": 0.5, "fact_coverage": 0.5,
        "refusal_accuracy": 0.5, "false_refusals": 1, "missed_refusals": 1,
        "n_questions": 4, "n_answerable": 2, "n_unanswerable": 2,
        "latency_ms_p50": 200.0, "latency_ms_p95": 400.0,
    }


def test_percentile_is_nearest_rank():
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == 20.0
    assert percentile([40.0, 10.0, 30.0, 20.0], 95) == 40.0
    assert percentile([], 50) is None


# --- citations / facts ---------------------------------------------------------

def test_citation_hit_false_for_citation_not_among_retrieved():
    q = question("q")
    retrieved = [passage(1, "Frist: sechs Monate.", chunk_id="c1")]
    answer = {"refused": False, "retrieved": retrieved,
              "citations": [{"n": 1, "chunk_id": "fabricated", "quote": "sechs Monate", "section": "§ 1"}]}
    assert citation_hit(q, answer) is False
    answer["citations"][0]["chunk_id"] = "c1"
    assert citation_hit(q, answer) is True


def test_citation_hit_falls_back_to_result_retrieved():
    q = question("q")
    answer = {"refused": False, "citations": [{"n": 1, "chunk_id": "c1"}]}
    assert citation_hit(q, answer) is False
    assert citation_hit(q, answer, [passage(1, "sechs Monate", chunk_id="c1")]) is True


def test_fact_covered():
    q = question("q", facts=["sechs Monate", "6 Monate"])
    assert fact_covered(q, {"text": "Die Frist beträgt 6\nMonate.", "refused": False}) is True
    assert fact_covered(q, {"text": "Die Frist beträgt 6 Monate.", "refused": True}) is False
    assert fact_covered(q, {"text": "Ein Jahr.", "refused": False}) is False
    assert fact_covered(question("n"), {"text": "x", "refused": False}) is True
    assert fact_covered(question("n"), {"text": "x", "refused": True}) is False


def test_per_question_passed_rules():
    ev = [passage(1, "x"), passage(2, "sechs Monate")]
    row = per_question(question("q"), result("q", ev, cite=["c2"], text="sechs Monate"))
    assert {k: row[k] for k in ("id", "rank", "hit@5", "rr", "citation_hit", "fact_covered", "refused",
                                "correct_refusal_decision", "passed")} == {
        "id": "q", "rank": 2, "hit@5": True, "rr": 0.5, "citation_hit": True, "fact_covered": True,
        "refused": False, "correct_refusal_decision": True, "passed": True}
    assert per_question(question("q"), result("q", ev, cite=["c1"]))["passed"] is False
    assert per_question(question("u", answerable=False), result("u", ev, refused=True))["passed"] is True
    assert per_question(question("u", answerable=False), result("u", ev))["passed"] is False


# --- grouping ------------------------------------------------------------------

def test_summarise_by_split_and_tags():
    qs = {
        "d1": question("d1", split="dev", tags=["ai-act", "deployer"]),
        "d2": question("d2", split="dev", tags=["ai-act"]),
        "t1": question("t1", split="test", tags=["dsgvo"]),
    }
    hit = [passage(1, "sechs Monate")]
    miss = [passage(1, "nichts")]
    results = [result("d1", hit, cite=["c1"]), result("d2", miss), result("t1", hit, cite=["c1"])]
    by_split = summarise_by(qs, results, "split")
    assert list(by_split) == ["dev", "test"]
    assert (by_split["dev"]["n_questions"], by_split["dev"]["hit@5"], by_split["dev"]["citation_hit"]) == (2, 0.5, 0.5)
    assert (by_split["test"]["n_questions"], by_split["test"]["hit@5"]) == (1, 1.0)
    by_tag = summarise_by(qs, results, "tags")
    assert {t: (s["n_questions"], s["hit@5"]) for t, s in by_tag.items()} == {
        "ai-act": (2, 0.5), "deployer": (1, 1.0), "dsgvo": (1, 1.0)}
