"""Pure evaluation metrics for retrieval, citations, facts and refusals.

Everything here is deterministic and free of I/O so that the runner, the
report and the CI gate all compute identical numbers from the same data.

Data flow: ``per_question(question, result)`` turns one runner result into a
flat "row"; ``summarise_rows`` aggregates rows.  Report and gate work on rows
so they never need to re-derive anything from raw passages twice.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Question = Mapping[str, Any]
Result = Mapping[str, Any]

# Ranks reported as hit@k in summaries; hit@5 is the headline metric.
HIT_KS = (1, 3, 5, 10)


def normalise(text: str) -> str:
    """NFKC, lower-case, collapse all whitespace to single spaces, strip.

    NFKC folds ligatures ("ﬁ" -> "fi") and full-width forms that PDF
    extraction produces; collapsing whitespace makes quotes match across the
    line breaks a chunker leaves in passages.
    """
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _quotes(values: Iterable[str] | None) -> list[str]:
    # Empty quotes would match every passage, so they are dropped.
    return [q for q in (normalise(v) for v in (values or [])) if q]


def _ordered(retrieved: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    # Trust the passage's own "rank" (1-based) when present; list order otherwise.
    pairs = [(int(p.get("rank") or i + 1), p) for i, p in enumerate(retrieved)]
    return sorted(pairs, key=lambda pair: pair[0])


def evidence_rank(question: Question, retrieved: Sequence[Mapping[str, Any]]) -> int | None:
    """1-based rank of the first passage containing any evidence quote, else None."""
    quotes = _quotes(question.get("evidence"))
    if not quotes:
        return None
    for rank, passage in _ordered(retrieved):
        text = normalise(passage.get("text") or "")
        if any(q in text for q in quotes):
            return rank
    return None


def hit_at(rank: int | None, k: int) -> bool:
    """True if the evidence was found at rank <= k."""
    return rank is not None and rank <= k


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    """1/rank within the cutoff k, 0.0 when missing or deeper than k."""
    return 1.0 / rank if hit_at(rank, k) else 0.0


def citation_hit(
    question: Question,
    answer: Mapping[str, Any] | None,
    retrieved: Sequence[Mapping[str, Any]] | None = None,
) -> bool:
    """True if any cited passage contains an evidence quote.

    Cited text is looked up by ``chunk_id`` in ``answer["retrieved"]``, falling
    back to ``retrieved`` (the result's own list).  The citation's ``quote``
    field is deliberately ignored: a citation pointing at a chunk we never
    retrieved is fabricated and must not count even if its quote looks right.
    """
    answer = answer or {}
    quotes = _quotes(question.get("evidence"))
    if not quotes:
        return False
    by_chunk: dict[str, str] = {}
    for passage in list(retrieved or []) + list(answer.get("retrieved") or []):
        # answer["retrieved"] is added last so it wins over the fallback list.
        if passage.get("chunk_id") is not None:
            by_chunk[passage["chunk_id"]] = passage.get("text") or ""
    for citation in answer.get("citations") or []:
        text = by_chunk.get(citation.get("chunk_id"))
        if text is not None and any(q in normalise(text) for q in quotes):
            return True
    return False


def fact_covered(question: Question, answer: Mapping[str, Any] | None) -> bool:
    """True if the answer text contains any expected fact.

    A refusal never covers facts, even if its boilerplate happens to contain
    one; questions without facts count as covered whenever they are answered.
    """
    answer = answer or {}
    if answer.get("refused"):
        return False
    facts = _quotes(question.get("facts"))
    if not facts:
        return True
    text = normalise(answer.get("text") or "")
    return any(f in text for f in facts)


def per_question(question: Question, result: Result, k: int = 10) -> dict[str, Any]:
    """Flat per-question row used by summaries, the report and the gate."""
    answer = result.get("answer") or {}
    retrieved = result.get("retrieved") or []
    answerable = bool(question.get("answerable", result.get("answerable", True)))
    rank = evidence_rank(question, retrieved)
    refused = bool(answer.get("refused", False))
    cited = citation_hit(question, answer, retrieved)
    hit5 = hit_at(rank, 5)
    ordered = _ordered(retrieved)
    return {
        "id": result.get("id", question.get("id")),
        "rank": rank,
        "hit@5": hit5,
        "rr": reciprocal_rank(rank, k),
        "citation_hit": cited,
        "fact_covered": fact_covered(question, answer),
        "refused": refused,
        "correct_refusal_decision": refused != answerable,
        "passed": (hit5 and cited and not refused) if answerable else refused,
        # Context for reports, so they do not need the questions file again.
        "answerable": answerable,
        "split": question.get("split", result.get("split")),
        "tags": list(question.get("tags", result.get("tags")) or []),
        "section": question.get("section"),
        "top_section": ordered[0][1].get("section") if ordered else None,
        "cited_sections": sorted({str(c.get("section")) for c in answer.get("citations") or []}),
        "refusal_score": (answer.get("signals") or {}).get("refusal_score"),
        "latency_ms": result.get("latency_ms"),
    }


def _question_for(result: Result, questions_by_id: Mapping[str, Question]) -> Question:
    question = questions_by_id.get(result["id"])
    if question is None and "evidence" in result:
        question = result  # the runner may have copied the question fields in
    if question is None:
        raise KeyError(f"no question data for result {result['id']!r}; pass questions_by_id")
    return question


def evaluate(questions_by_id: Mapping[str, Question], results: Sequence[Result], k: int = 10) -> list[dict[str, Any]]:
    """per_question() for every result, in result order."""
    return [per_question(_question_for(r, questions_by_id), r, k) for r in results]


def doc_rows(doc: Mapping[str, Any], questions_by_id: Mapping[str, Question] | None = None) -> list[dict[str, Any]]:
    """Rows for a whole results file: stored ``result["eval"]`` rows win,
    otherwise they are recomputed (needs question data)."""
    results = doc.get("results") or []
    if results and all("eval" in r for r in results):
        return [dict(r["eval"]) for r in results]
    k = int((doc.get("config") or {}).get("k") or 10)
    return evaluate(questions_by_id or {}, results, k)


def attach_eval(doc: Mapping[str, Any], questions_by_id: Mapping[str, Question], k: int = 10) -> dict[str, Any]:
    """Copy of a results file with ``eval`` rows stored on each result, so the
    report and gate later work without the questions file."""
    rows = evaluate(questions_by_id, doc.get("results") or [], k)
    results = [{**r, "eval": row} for r, row in zip(doc.get("results") or [], rows)]
    return {**doc, "results": results}


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (no interpolation): the smallest value with at
    least p% of the data at or below it.  Always an observed latency."""
    data = sorted(values)
    if not data:
        return None
    return data[max(0, math.ceil(p / 100 * len(data)) - 1)]


def _rate(flags: Sequence[bool | float]) -> float | None:
    # None (not 0.0) when nothing to average, so a tag without answerable
    # questions is not reported as a retrieval failure.
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate per_question() rows into the summary dict."""
    ans = [r for r in rows if r["answerable"]]
    unans = [r for r in rows if not r["answerable"]]
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    summary: dict[str, Any] = {f"hit@{n}": _rate([hit_at(r["rank"], n) for r in ans]) for n in HIT_KS}
    summary.update({
        "mrr@10": _rate([r["rr"] for r in ans]),
        "citation_hit": _rate([r["citation_hit"] for r in ans]),
        "fact_coverage": _rate([r["fact_covered"] for r in ans]),
        "refusal_accuracy": _rate([r["correct_refusal_decision"] for r in rows]),
        "false_refusals": sum(1 for r in ans if r["refused"]),
        "missed_refusals": sum(1 for r in unans if not r["refused"]),
        "n_questions": len(rows),
        "n_answerable": len(ans),
        "n_unanswerable": len(unans),
        "latency_ms_p50": None if p50 is None else round(p50, 4),
        "latency_ms_p95": None if p95 is None else round(p95, 4),
    })
    return summary


def summarise(questions_by_id: Mapping[str, Question], results: Sequence[Result], k: int = 10) -> dict[str, Any]:
    """Summary over all results.  ``k`` is the MRR cutoff (key stays "mrr@10",
    so keep the default); hit@1/3/5/10 always use their own cutoffs.
    Latency percentiles are nearest-rank (see ``percentile``)."""
    return summarise_rows(evaluate(questions_by_id, results, k))


def group_rows(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    """Group rows by a scalar field ("split") or by each element of a list field ("tags")."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        value = row.get(key)
        for name in value if isinstance(value, (list, tuple)) else [value]:
            if name is not None:
                groups.setdefault(str(name), []).append(row)
    return dict(sorted(groups.items()))


def summarise_by(
    questions_by_id: Mapping[str, Question], results: Sequence[Result], key: str, k: int = 10
) -> dict[str, dict[str, Any]]:
    """Summary per group: key "tags" -> one entry per tag, "split" -> per split."""
    rows = evaluate(questions_by_id, results, k)
    return {name: summarise_rows(group) for name, group in group_rows(rows, key).items()}
