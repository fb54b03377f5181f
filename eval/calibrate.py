"""Choose the refusal threshold on the dev split: the one with the best refusal accuracy, ties broken
towards fewer missed refusals (answering an unanswerable question is the worse error), then towards
the threshold nearest the one in use.

Each candidate threshold is judged with the whole refusal decision of `RefusalModel.refuse` (its rules
for instructions, amounts, upcoming events, off-topic questions and named sections included), applied to
the signals stored with each answer. Answers refused by a rule outside the model (no passage at all, a
question about guidelines that are not stored) stay refused whatever the threshold.
"""
from __future__ import annotations

from assistant.answering.refusal import DEFAULT_THRESHOLD, DEFAULT_WEIGHTS, RefusalModel


def decisions(doc: dict, threshold: float) -> list[tuple[str, bool, bool]]:
    """(split, answerable, refused) per question, as the assistant would decide with this threshold."""
    out = []
    in_use = RefusalModel(weights=dict(DEFAULT_WEIGHTS))
    model = RefusalModel(weights=dict(DEFAULT_WEIGHTS), threshold=threshold)
    for r in doc["results"]:
        signals = r["answer"].get("signals") or {}
        refused = bool(r["answer"].get("refused"))
        if "top_dense" in signals:
            outside = refused and not in_use.refuse(dict(signals))  # refused by a rule the model does not see
            refused = outside or model.refuse(dict(signals))
        out.append((r.get("split", "dev"), bool(r["answerable"]), refused))
    return out


def calibrate(doc: dict, split: str = "dev") -> str:
    model = RefusalModel(weights=dict(DEFAULT_WEIGHTS))
    scores = sorted({model.score(r["answer"]["signals"]) for r in doc["results"]
                     if r.get("split", "dev") == split and "top_dense" in (r["answer"].get("signals") or {})})
    # every threshold inside a gap between neighbouring scores decides the same; its middle leaves the
    # widest margin on both sides (and 0.01 beyond the lowest and the highest score)
    edges = [scores[0] - 0.01, scores[-1] + 0.01] if scores else []
    candidates = sorted({DEFAULT_THRESHOLD, *edges, *((a + b) / 2 for a, b in zip(scores, scores[1:]))})
    best = None
    for t in candidates:
        acc, missed, false = _accuracy(decisions(doc, t), split)
        key = (acc, -missed, -abs(t - DEFAULT_THRESHOLD))
        if best is None or key > best[0]:
            best = (key, t)
    threshold = best[1]
    lines = []
    for part, t in ((split, DEFAULT_THRESHOLD), (split, threshold), ("test", DEFAULT_THRESHOLD), ("test", threshold)):
        decided = decisions(doc, t)
        acc, missed, false = _accuracy(decided, part)
        n = sum(1 for s, _, _ in decided if s == part)
        what = "in use " if t == DEFAULT_THRESHOLD else "best on " + split + " "
        lines.append(f"{part}: {what}threshold {t:.4f} -> accuracy {acc:.3f}, missed refusals {missed}, "
                     f"false refusals {false} ({n} questions)")
    return "\n".join(dict.fromkeys(lines))


def _accuracy(rows: list[tuple[str, bool, bool]], split: str) -> tuple[float, int, int]:
    part = [(answerable, refused) for s, answerable, refused in rows if s == split]
    missed = sum(1 for answerable, refused in part if not answerable and not refused)
    false = sum(1 for answerable, refused in part if answerable and refused)
    return (len(part) - missed - false) / max(1, len(part)), missed, false
