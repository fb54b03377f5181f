"""`python -m eval calibrate` judges each threshold with the assistant's whole refusal decision."""
from __future__ import annotations

from eval.calibrate import calibrate, decisions


def _result(qid, split, answerable, score, refused, **rules):
    # the weighted score is top_dense + best_sentence + 0.35 * overlap + 0.03 * agreement
    signals = {"top_dense": score / 2, "best_sentence": score / 2, "overlap": 0.0, "agreement": 0.0,
               "coverage": 0.9, "german": True, **rules}
    return {"id": qid, "split": split, "answerable": answerable, "answer": {"refused": refused, "signals": signals}}


DOC = {"results": [
    _result("a1", "dev", True, 2.00, False),
    _result("a2", "dev", True, 1.74, True),                  # refused by the score at 1.76: a false refusal
    _result("u1", "dev", False, 1.70, True),                 # refused by the score
    _result("u2", "dev", False, 2.00, True, upcoming=True),  # refused by a rule whatever the score
    _result("u3", "dev", False, 2.10, True),                 # refused outside the model (no guideline stored)
    {"id": "c1", "split": "dev", "answerable": True, "answer": {"refused": False, "signals": {}}},  # no scoring
    _result("t1", "test", False, 1.73, True),
]}


def test_rules_and_refusals_outside_the_model_hold_whatever_the_threshold():
    low = {qid: refused for qid, (_, _, refused) in zip([r["id"] for r in DOC["results"]], decisions(DOC, 0.0))}
    assert low == {"a1": False, "a2": False, "u1": False, "u2": True, "u3": True, "c1": False, "t1": False}
    high = dict(zip([r["id"] for r in DOC["results"]], (refused for _, _, refused in decisions(DOC, 1.76))))
    assert high == {"a1": False, "a2": True, "u1": True, "u2": True, "u3": True, "c1": False, "t1": True}


def test_best_threshold_lies_in_the_middle_of_the_gap_that_separates_the_dev_questions():
    out = calibrate(DOC).splitlines()
    assert out[0] == "dev: in use threshold 1.7600 -> accuracy 0.833, missed refusals 0, false refusals 1 (6 questions)"
    assert out[1] == "dev: best on dev threshold 1.7200 -> accuracy 1.000, missed refusals 0, false refusals 0 (6 questions)"
    # the test split is reported with both thresholds and never used to choose: here it disagrees
    assert out[2] == "test: in use threshold 1.7600 -> accuracy 1.000, missed refusals 0, false refusals 0 (1 questions)"
    assert out[3] == "test: best on dev threshold 1.7200 -> accuracy 0.000, missed refusals 1, false refusals 0 (1 questions)"
