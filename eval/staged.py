"""The eval gate on re-ingest: answer the reference questions with and without a staged version
and compare, so a new guideline version that breaks answers does not go live unnoticed."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from assistant.answering.extractive import Answerer
from assistant.storage.library import Library
from assistant.retrieval.ranking import Retriever
from eval.gate import GateResult, gate
from eval.metrics import attach_eval, summarise
from eval.report import compare
from eval.runner import DEFAULT_QUESTIONS, answer_all, load_questions

# Only the comparison with the state in force: a staged version must not make answers worse.
TOLERANCES = {"tolerance": {"hit@5": 0, "citation_hit": 0, "false_refusals": 0, "missed_refusals": 1}, "floor": {}}
FIXTURE_DOC = "ll-ki-fiktiv"


def staged_gate(lib: Library, doc_id: str, version: str, *, question_paths: list[Path] | None = None,
                clock=dt.date.today) -> tuple[GateResult, dict]:
    """Gate result and per-question comparison (newly failing, newly refused, changed citations)."""
    questions = load_questions(question_paths or DEFAULT_QUESTIONS)
    registered = {v.doc_id for v in lib.registry.versions()}
    # questions about the fictional test guideline only where that guideline is what is being staged
    questions = [q for q in questions if ("fixture" in q.get("tags", [])) == (FIXTURE_DOC in registered)]
    by_id = {q["id"]: q for q in questions}

    def run_with(staged: tuple) -> dict:
        answerer = Answerer(Retriever(lib, clock=clock, staged=staged))
        results = answer_all(answerer, questions)
        return attach_eval({"config": {"staged": list(staged)}, "summary": summarise(by_id, results),
                            "results": results}, by_id)

    current = run_with(())
    candidate = run_with(((doc_id, version),))
    return gate(candidate, current, TOLERANCES), compare(candidate, current)
