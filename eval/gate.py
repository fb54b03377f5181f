"""CI quality gate: compare a results file against a baseline and floors.

Tolerances are counted in questions (see thresholds.toml) and computed from
per-question rows, never from rounded summary rates, so "lost one question"
is exact regardless of the question count.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import Question, doc_rows, hit_at, reciprocal_rank

Row = Mapping[str, Any]

# toml key -> metric name used everywhere else.
KEY_TO_METRIC = {
    "hit_at_1": "hit@1", "hit_at_3": "hit@3", "hit_at_5": "hit@5", "hit_at_10": "hit@10",
    "mrr_at_10": "mrr@10", "citation_hit": "citation_hit", "fact_coverage": "fact_coverage",
    "refusal_accuracy": "refusal_accuracy",
    "false_refusals": "false_refusals", "missed_refusals": "missed_refusals",
}

# Metrics that are "successes among a population": (population, success).
_COUNTED: dict[str, tuple[Callable[[Row], bool], Callable[[Row], bool]]] = {
    **{f"hit@{n}": (lambda r: r["answerable"], lambda r, n=n: hit_at(r["rank"], n)) for n in (1, 3, 5, 10)},
    "citation_hit": (lambda r: r["answerable"], lambda r: r["citation_hit"]),
    "fact_coverage": (lambda r: r["answerable"], lambda r: r["fact_covered"]),
    "refusal_accuracy": (lambda r: True, lambda r: r["correct_refusal_decision"]),
}
# Error counts where a rise is bad.
_ERRORS: dict[str, Callable[[Row], bool]] = {
    "false_refusals": lambda r: r["answerable"] and r["refused"],
    "missed_refusals": lambda r: not r["answerable"] and not r["refused"],
}


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_thresholds(path: str | Path) -> dict[str, dict[str, float]]:
    """Read thresholds.toml and map its underscore keys to metric names."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, dict[str, float]] = {}
    for table in ("tolerance", "floor"):
        out[table] = {}
        for key, value in (raw.get(table) or {}).items():
            if key not in KEY_TO_METRIC:
                # Fail loudly: a misspelt key would otherwise disable a check.
                raise ValueError(f"unknown key [{table}].{key} in {path} (latency is never gated)")
            out[table][KEY_TO_METRIC[key]] = value
    unknown = set(raw) - {"tolerance", "floor"}
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)} in {path}")
    return out


def _metric(key: str) -> str:
    """Accept toml keys ("hit_at_5") or metric names ("hit@5")."""
    metric = KEY_TO_METRIC.get(key, key)
    if metric not in KEY_TO_METRIC.values():
        raise ValueError(f"unknown gate metric {key!r} (latency is never gated)")
    return metric


def _count(rows: Sequence[Row], metric: str) -> tuple[int, int]:
    """(successes, population) for counted metrics, (errors, len) for error metrics."""
    if metric in _ERRORS:
        return sum(1 for r in rows if _ERRORS[metric](r)), len(rows)
    population, success = _COUNTED[metric]
    pop = [r for r in rows if population(r)]
    return sum(1 for r in pop if success(r)), len(pop)


def _value(rows: Sequence[Row], metric: str) -> float:
    if metric == "mrr@10":
        ans = [r for r in rows if r["answerable"]]
        return sum(reciprocal_rank(r["rank"], 10) for r in ans) / len(ans) if ans else 0.0
    hits, n = _count(rows, metric)
    return hits / n if n else 0.0


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    # Two decimals read best, but must not print a real change as "0.96 to 0.96".
    for digits in (2, 4):
        sa, sb = f"{a:.{digits}f}", f"{b:.{digits}f}"
        if sa != sb:
            break
    return sa, sb


def _questions(n: int) -> str:
    return f"{n} question" if abs(n) == 1 else f"{n} questions"


def _check_tolerance(metric: str, limit: float, base: Sequence[Row], cur: Sequence[Row]) -> tuple[dict, str | None]:
    b_val, c_val = _value(base, metric), _value(cur, metric)
    sb, sc = _fmt_pair(b_val, c_val)
    row: dict[str, Any] = {"metric": metric, "kind": "tolerance", "baseline": b_val, "current": c_val, "limit": limit}
    if metric == "mrr@10":  # a rate, not a count (see thresholds.toml)
        drop = b_val - c_val
        row.update(delta=-drop, passed=drop <= limit + 1e-9)
        msg = f"mrr@10 fell from {sb} to {sc} (−{drop:.4f}, tolerance {limit})"
    elif metric in _ERRORS:
        rise = _count(cur, metric)[0] - _count(base, metric)[0]
        row.update(baseline=_count(base, metric)[0], current=_count(cur, metric)[0], delta=rise, passed=rise <= limit)
        msg = f"{metric} rose from {row['baseline']} to {row['current']} (+{_questions(rise)}, tolerance {limit})"
    else:
        lost = _count(base, metric)[0] - _count(cur, metric)[0]
        row.update(delta=-lost, passed=lost <= limit)
        msg = f"{metric} fell from {sb} to {sc} (−{_questions(lost)}, tolerance {limit})"
    return row, None if row["passed"] else msg


def _check_floor(metric: str, floor: float, cur: Sequence[Row]) -> tuple[dict, str | None]:
    if metric in _ERRORS:
        raise ValueError(f"{metric} is a count; use [tolerance], not [floor]")
    value = _value(cur, metric)
    ok = value >= floor - 1e-9  # tolerate float noise at exactly the floor
    row = {"metric": metric, "kind": "floor", "baseline": None, "current": value, "limit": floor, "passed": ok}
    return row, None if ok else f"{metric} is {value:.4f}, below the floor of {floor}"


def gate(
    results: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    thresholds: Mapping[str, Mapping[str, float]],
    questions_by_id: Mapping[str, Question] | None = None,
) -> GateResult:
    """Check ``results`` against floors and (if given) tolerances vs ``baseline``.

    Both are results files; per-question rows come from ``result["eval"]`` or
    are recomputed with ``questions_by_id``.  Latency is never gated.
    """
    cur = doc_rows(results, questions_by_id)
    checks: list[dict[str, Any]] = []
    failures: list[str] = []
    notes: list[str] = []

    def record(pair: tuple[dict, str | None]) -> None:
        checks.append(pair[0])
        if pair[1]:
            failures.append(pair[1])

    tolerances = thresholds.get("tolerance") or {}
    if baseline is None:
        notes.append("no baseline given: only floors were checked")
    elif tolerances:
        base = doc_rows(baseline, questions_by_id)
        common = {r["id"] for r in cur} & {r["id"] for r in base}
        if len(common) != len(cur) or len(common) != len(base):
            notes.append(
                f"baseline and results cover different questions; tolerances compare only the "
                f"{len(common)} shared ids ({len(cur) - len(common)} only in results, "
                f"{len(base) - len(common)} only in baseline)"
            )
        if not common:
            failures.append("baseline and results share no question ids; cannot compare")
        else:
            cur_c = [r for r in cur if r["id"] in common]
            base_c = [r for r in base if r["id"] in common]
            for metric, limit in tolerances.items():
                record(_check_tolerance(_metric(metric), limit, base_c, cur_c))
    # Floors apply to the whole current run, not just the shared questions.
    for metric, floor in (thresholds.get("floor") or {}).items():
        record(_check_floor(_metric(metric), floor, cur))
    return GateResult(passed=not failures, failures=failures, checks=checks, notes=notes)
