"""`python -m eval calibrate` judges each threshold with the assistant's whole refusal decision."""
from __future__ import annotations

from assistant.answering.refusal import DEFAULT_THRESHOLD as T
from eval.calibrate import calibrate, decisions


def _result(qid, split, answerable, score, refused, **rules):
    # the weighted score is top_dense + best_sentence + 0.35 * overlap + 0.03 * agreement
    signals = {"top_dense": score / 2, "best_sentence": score / 2, "overlap": 0.0, "agreement": 0.0,
               "coverage": 0.9, "german": True, **rules}
    return {"id": qid, "split": split, "answerable": answerable, "answer": {"refused": refused, "signals": signals}}


DOC = {"results": [
    _result("a1", "dev", True, T + 0.24, False),
    _result("a2", "dev", True, T - 0.02, True),                  # refused by the score: a false refusal
    _result("u1", "dev", False, T - 0.06, True),                 # refused by the score
    _result("u2", "dev", False, T + 0.24, True, upcoming=True),  # refused by a rule whatever the score
    _result("u3", "dev", False, T + 0.34, True),                 # refused outside the model (no guideline stored)
    {"id": "c1", "split": "dev", "answerable": True, "answer": {"refused": False, "signals": {}}},  # no scoring
    _result("t1", "test", False, T - 0.03, True),
]}


def test_rules_and_refusals_outside_the_model_hold_whatever_the_threshold():
    low = {qid: refused for qid, (_, _, refused) in zip([r["id"] for r in DOC["results"]], decisions(DOC, 0.0))}
    assert low == {"a1": False, "a2": False, "u1": False, "u2": True, "u3": True, "c1": False, "t1": False}
    high = dict(zip([r["id"] for r in DOC["results"]], (refused for _, _, refused in decisions(DOC, T))))
    assert high == {"a1": False, "a2": True, "u1": True, "u2": True, "u3": True, "c1": False, "t1": True}


def test_best_threshold_lies_in_the_middle_of_the_gap_that_separates_the_dev_questions():
    out = calibrate(DOC).splitlines()
    assert out[0] == f"dev: in use threshold {T:.4f} -> accuracy 0.833, missed refusals 0, false refusals 1 (6 questions)"
    assert out[1] == f"dev: best on dev threshold {T - 0.04:.4f} -> accuracy 1.000, missed refusals 0, false refusals 0 (6 questions)"
    # the test split is reported with both thresholds and never used to choose: here it disagrees
    assert out[2] == f"test: in use threshold {T:.4f} -> accuracy 1.000, missed refusals 0, false refusals 0 (1 questions)"
    assert out[3] == f"test: best on dev threshold {T - 0.04:.4f} -> accuracy 0.000, missed refusals 1, false refusals 0 (1 questions)"
