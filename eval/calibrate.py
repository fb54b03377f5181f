"""Choose the refusal threshold on the dev split: the one with the best refusal accuracy, ties broken
towards fewer missed refusals (answering an unanswerable question is the worse error)."""
from __future__ import annotations

from assistant.refusal import DEFAULT_WEIGHTS, RefusalModel


def calibrate(doc: dict, split: str = "dev") -> str:
    model = RefusalModel(weights=dict(DEFAULT_WEIGHTS))
    rows = []
    for r in doc["results"]:
        signals = r["answer"].get("signals") or {}
        rows.append((r.get("split", "dev"), r["answerable"], model.score(signals), bool(signals.get("explicit"))))
    lines = []
    best = None
    for part in (split, "test"):
        data = [x for x in rows if x[0] == part]
        if part == split:
            candidates = sorted({s for _, _, s, _ in data})
            for t in candidates:
                acc, missed, false = _accuracy(data, t)
                key = (acc, -missed)
                if best is None or key > best[0]:
                    best = (key, t)
        t = best[1]
        acc, missed, false = _accuracy(data, t)
        lines.append(f"{part}: threshold {t:.4f} -> accuracy {acc:.3f}, missed refusals {missed}, "
                     f"false refusals {false} ({len(data)} questions)")
    return "\n".join(lines)


def _accuracy(data, t):
    missed = sum(1 for _, ans, s, exp in data if not ans and not exp and s >= t)
    missed += sum(1 for _, ans, s, exp in data if not ans and exp)
    false = sum(1 for _, ans, s, exp in data if ans and not exp and s < t)
    return (len(data) - missed - false) / max(1, len(data)), missed, false
