"""Tests for eval.report (compare, render, table) and eval.gate on toy runs."""

import copy
import sys
from pathlib import Path

# Make the project root importable under plain `pytest` too (no conftest/pyproject).
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from eval.gate import gate, load_thresholds  # noqa: E402
from eval.metrics import attach_eval  # noqa: E402
from eval.report import compare, format_summary_table, render  # noqa: E402

N_ANSWERABLE = 20
EVIDENCE = "Die Protokolle werden mindestens sechs Monate aufbewahrt"


def _passage(rank, text, section):
    return {"rank": rank, "doc_id": "ki-vo", "section": section, "section_key": section,
            "chunk_id": f"ch-{section}-{rank}", "version": "2024", "page": None,
            "score": round(1 - rank / 20, 3), "text": text}


def _questions():
    qs = {f"q{i:02d}": {"id": f"q{i:02d}", "question": f"Frage {i}", "answerable": True, "evidence": [EVIDENCE],
                        "section": f"Art. {i}", "facts": ["sechs Monate"], "history": [], "tags": ["ai-act"],
                        "split": "dev" if i % 2 else "test"} for i in range(N_ANSWERABLE)}
    for i in range(N_ANSWERABLE, N_ANSWERABLE + 4):
        qs[f"q{i:02d}"] = {"id": f"q{i:02d}", "question": f"Frage {i}", "answerable": False, "evidence": [],
                           "section": None, "facts": [], "history": [], "tags": ["negativ"], "split": "test"}
    return qs


def _result(q, evidence_rank=1):
    """A result whose evidence sits at ``evidence_rank`` and is cited."""
    sec = q["section"] or "none"
    retrieved = [_passage(r, f"Füllertext {r} zu {sec}.", f"{sec}-x{r}") for r in range(1, 11)]
    if q["answerable"]:
        retrieved[evidence_rank - 1] = _passage(evidence_rank, f"Art. 26: {EVIDENCE}, sofern ...", sec)
    cited = retrieved[evidence_rank - 1]
    answer = {"text": "Sechs Monate." if q["answerable"] else "Dazu finde ich nichts.",
              "refused": not q["answerable"], "mode": "extractive",
              "citations": [{"n": 1, "doc_id": "ki-vo", "section": cited["section"], "version": "2024", "page": None,
                             "quote": EVIDENCE, "chunk_id": cited["chunk_id"]}] if q["answerable"] else [],
              "retrieved": retrieved, "notes": [], "timings_ms": {"retrieve": 1.0, "answer": 2.0},
              "signals": {"refusal_score": 0.2 if q["answerable"] else 0.8}}
    return {"id": q["id"], "question": q["question"], "answerable": q["answerable"], "tags": q["tags"],
            "split": q["split"], "retrieved": retrieved, "answer": answer, "latency_ms": 12.0}


def _doc(pushed=(), questions=None):
    """Results file where the questions in ``pushed`` have their evidence at rank 7."""
    qs = questions or _questions()
    doc = {"config": {"embedding_model": "toy", "retrieval": "hybrid", "answer_mode": "extractive", "git": "abc",
                      "corpus": {"ki-vo": "2024"}, "k": 10, "refusal_threshold": 0.5},
           "summary": {}, "results": [_result(q, 7 if qid in pushed else 1) for qid, q in qs.items()]}
    return attach_eval(doc, qs)


THRESHOLDS_TOML = """
[tolerance]
hit_at_5 = 1
mrr_at_10 = 0.02
citation_hit = 1
fact_coverage = 2
false_refusals = 1
missed_refusals = 1

[floor]
hit_at_5 = 0.90
mrr_at_10 = 0.75
citation_hit = 0.85
refusal_accuracy = 0.85
"""


@pytest.fixture
def thresholds(tmp_path):
    # literal values, so these tests do not move when the committed gate settings are tuned
    path = tmp_path / "thresholds.toml"
    path.write_text(THRESHOLDS_TOML, encoding="utf-8")
    return load_thresholds(path)


def test_committed_thresholds_cover_every_gated_metric():
    committed = load_thresholds(ROOT / "eval" / "thresholds.toml")
    assert set(committed["tolerance"]) == {"hit@5", "mrr@10", "citation_hit", "fact_coverage", "false_refusals",
                                           "missed_refusals"}
    assert set(committed["floor"]) == {"hit@5", "mrr@10", "citation_hit", "refusal_accuracy"}


def test_load_thresholds_maps_keys(thresholds):
    assert thresholds == {
        "tolerance": {"hit@5": 1, "mrr@10": 0.02, "citation_hit": 1, "fact_coverage": 2,
                      "false_refusals": 1, "missed_refusals": 1},
        "floor": {"hit@5": 0.90, "mrr@10": 0.75, "citation_hit": 0.85, "refusal_accuracy": 0.85},
    }


def test_load_thresholds_rejects_unknown_key(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[tolerance]\nlatency_ms_p95 = 100\n", encoding="utf-8")
    with pytest.raises(ValueError, match="latency_ms_p95"):
        load_thresholds(path)


def test_compare_marks_newly_failing_question():
    base, cur = _doc(), _doc(pushed={"q03"})
    # q09 keeps its evidence at rank 1 but is now refused without citations.
    r09 = cur["results"][9]
    r09["answer"].update(refused=True, citations=[])
    cur = attach_eval({**cur, "results": [{k: v for k, v in r.items() if k != "eval"} for r in cur["results"]]},
                      _questions())
    cmp = compare(cur, base)
    assert cmp["status"]["q03"] == "worse" and cmp["status"]["q00"] == "same"
    assert cmp["worse"] == ["q03", "q09"]
    assert cmp["better"] == []
    assert cmp["newly_failing"] == ["q03", "q09"]
    assert cmp["newly_refused"] == ["q09"]
    assert cmp["newly_passing"] == [] and cmp["newly_answered"] == []
    assert cmp["changed_citations"] == ["q09"]  # q03 cites the same section, only its rank moved
    assert cmp["deltas"]["hit@5"] == {"baseline": 1.0, "current": 0.95, "delta": -0.05}
    assert cmp["deltas"]["false_refusals"] == {"baseline": 0, "current": 1, "delta": 1}
    # The reverse direction is "better".
    assert compare(base, cur)["better"] == ["q03", "q09"]


def test_compare_recomputes_rows_from_questions_without_eval():
    qs = _questions()
    base, cur = _doc(), _doc(pushed={"q05"})
    for doc in (base, cur):
        for r in doc["results"]:
            del r["eval"]
    assert compare(cur, base, qs)["newly_failing"] == ["q05"]


def test_gate_passes_on_identical_results(thresholds):
    doc = _doc()
    result = gate(doc, copy.deepcopy(doc), thresholds)
    assert result.passed is True
    assert result.failures == []
    assert len(result.checks) == 10  # 6 tolerances + 4 floors
    assert all(c["passed"] for c in result.checks)


def test_gate_fails_when_three_hits_at_5_are_lost(thresholds):
    result = gate(_doc(pushed={"q01", "q02", "q03"}), _doc(), thresholds)
    assert result.passed is False
    assert "hit@5 fell from 1.00 to 0.85 (−3 questions, tolerance 1)" in result.failures
    assert "hit@5 is 0.8500, below the floor of 0.9" in result.failures
    # Citations still point at the (now rank-7) evidence passage, so they hold.
    assert not any(f.startswith("citation_hit") for f in result.failures)


def test_gate_tolerance_of_exactly_one_question(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[tolerance]\nhit_at_5 = 1\n", encoding="utf-8")
    thresholds = load_thresholds(path)
    assert gate(_doc(pushed={"q04"}), _doc(), thresholds).passed is True
    two = gate(_doc(pushed={"q04", "q06"}), _doc(), thresholds)
    assert two.failures == ["hit@5 fell from 1.00 to 0.90 (−2 questions, tolerance 1)"]


def test_gate_counts_missed_refusals(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[tolerance]\nmissed_refusals = 1\n", encoding="utf-8")
    qs = _questions()
    cur = _doc()
    for r in cur["results"]:
        if r["id"] in ("q20", "q21"):
            r["answer"]["refused"] = False
            del r["eval"]
    cur = attach_eval(cur, qs)
    assert gate(cur, _doc(), load_thresholds(path)).failures == [
        "missed_refusals rose from 0 to 2 (+2 questions, tolerance 1)"]


def test_gate_compares_only_shared_ids(thresholds):
    qs = _questions()
    del qs["q00"]
    result = gate(_doc(questions=qs), _doc(), thresholds)
    assert result.passed is True
    assert result.notes == ["baseline and results cover different questions; tolerances compare only the "
                            "23 shared ids (0 only in results, 1 only in baseline)"]


def test_render_writes_files_and_escapes_html(tmp_path):
    qs = _questions()
    qs["q07"]["question"] = "<script>alert('x')</script> Wie lange?"
    cur = _doc(pushed={"q07"}, questions=qs)  # q07 fails, so its question text is shown
    cur["results"][7]["retrieved"][0]["text"] = "<b>fett</b> & mehr"
    out = tmp_path / "report"
    html_path = render(cur, out, baseline=_doc())
    assert html_path == out / "report.html"
    for name in ("report.html", "report.md", "tags.png", "refusal_scores.png", "ranks.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "tags.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html_path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Wie lange?" in page
    assert "&lt;b&gt;fett&lt;/b&gt; &amp; mehr" in page
    assert '<img src="tags.png"' in page
    assert "▼ -0.0500" in page  # hit@5 delta vs baseline
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "- `q07` — erwartet: Art. 7 — top: Art. 7-x1" in md
    assert "| hit@5 | 0.9500 | 0.9000 | 1.0000 |" in md


def test_format_summary_table():
    table = format_summary_table({"hit@5": 0.95, "false_refusals": 1, "latency_ms_p50": None})
    assert table == (
        "metric           value\n"
        "--------------  ------\n"
        "hit@5           0.9500\n"
        "false_refusals       1\n"
        "latency_ms_p50       –"
    )
