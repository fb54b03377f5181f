"""Where the time goes: cProfile of answers and of the snapshot build, and a sample of real encoding."""
from __future__ import annotations

import cProfile
import os
import pstats
import time


from bench.common import ROOT


def _where(file: str) -> str:
    if file.startswith(str(ROOT)) and "/.venv/" not in file:
        return os.path.relpath(file, ROOT)
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    return os.path.basename(file) if file not in ("~", "") else ""


def profile(fn, top: int = 10) -> dict:
    """cProfile of fn(): the top functions by own time, and the project's functions by cumulative time."""
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(prof)
    total = stats.total_tt or 1e-9

    def entry(key, value):
        file, line, name = key
        calls, _, own, cum, _ = value
        where = _where(file)
        return {"function": name if not where else f"{where}:{line}({name})", "calls": calls,
                "own_s": round(own, 3), "own_share": round(own / total, 3),
                "cum_s": round(cum, 3), "cum_share": round(cum / total, 3)}

    items = list(stats.stats.items())
    by_own = sorted(items, key=lambda kv: -kv[1][2])[:top]
    project = [kv for kv in items if kv[0][0].startswith(str(ROOT)) and "/.venv/" not in kv[0][0]
               and "/bench/" not in kv[0][0]]
    by_cum = sorted(project, key=lambda kv: -kv[1][3])[:top]
    return {"wall_s": round(wall, 2), "profiled_s": round(total, 2),
            "top_own": [entry(*kv) for kv in by_own], "top_project_cumulative": [entry(*kv) for kv in by_cum]}


def profile_answers(answerer, questions: list[dict], label: str = "1x") -> dict:
    qcache = answerer.retriever.lib.embedder._query_cache

    def run():
        for q in questions:
            qcache.clear()
            answerer.answer(q["question"])

    result = profile(run)
    result["what"] = f"warm Answerer.answer over {len(questions)} questions (no history), {label}"
    return result


def profile_snapshot(lib, label: str) -> dict:
    from assistant.retrieval.snapshot import build_snapshot

    result = profile(lambda: build_snapshot(lib))
    result["what"] = f"build_snapshot at {label} (vectors from the embedding cache)"
    return result


def sample_real_encoding(embedder, texts: list[str], *, fraction: float = 0.01, low: int = 64, high: int = 320) -> dict:
    """Really encode a stride sample of the synthetic passages; estimate the time for all of them by
    the sample's share of characters."""
    from assistant.storage.models import PASSAGE_PROMPT, Embedder

    unique = list(dict.fromkeys(texts))
    if not unique:
        return {"passages": 0, "sample": 0, "sample_s": 0.0, "estimated_s": 0.0}
    n = int(min(len(unique), max(low, min(high, len(unique) * fraction))))
    stride = max(1, len(unique) // n)
    sample = unique[::stride][:n]
    started = time.perf_counter()
    for start in range(0, len(sample), 64):  # the batches encode_passages uses
        Embedder._encode(embedder, sample[start:start + 64], PASSAGE_PROMPT)
    seconds = time.perf_counter() - started
    share = sum(map(len, sample)) / sum(map(len, unique))
    return {"passages": len(unique), "sample": len(sample), "sample_s": round(seconds, 2),
            "estimated_s": round(seconds / share, 1), "passages_per_s": round(len(sample) / seconds, 1)}


