"""What every benchmark shares: paths, targets, settings for a temporary data dir, timers and small statistics."""
from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np



ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MODEL_DIR = ROOT / "models" / "multilingual-e5-small"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
WARM_UP = "Was ist ein KI-System?"  # the app's warm-up question (app.py)
AI_ACT = "eu-ai-act"

TARGETS = {  # name: (limit, unit, description)
    "ingest_total_over_encode": (1.5, "x", "full ingest wall time <= 1.5 x encode time (1x, real encoding)"),
    "incremental_share": (0.10, "", "re-ingest of one changed guideline version <= 10 % of a full ingest"),
    "retrieve_p95_ms": (150.0, "ms", "warm retrieval p95 <= 150 ms (1x)"),
    "retrieve_over_dense_p95": (2.0, "x", "warm retrieval p95 <= 2 x a plain dense search's p95 (same chunks, same encoder, 1x)"),
    "answer_p95_ms": (400.0, "ms", "warm extractive answer p95 <= 400 ms (1x)"),
    "warm_rss_mb": (1500.0, "MB", "app RSS after warm-up <= 1.5 GB (1x)"),
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- helpers

def make_settings(data_dir: Path):
    from assistant.settings import Settings

    return Settings(data_dir=data_dir, corpus_dir=ROOT / "corpus", embedding_model=str(MODEL_DIR), _env_file=None)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in kB on Linux


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summary_ms(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}
    return {"n": len(values), "p50": round(pct(values, 50), 1), "p95": round(pct(values, 95), 1),
            "mean": round(float(np.mean(values)), 1), "max": round(max(values), 1)}


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


class EncodeTimer:
    """Times the model's passage encoding (Embedder._encode with the passage prompt) and, around it,
    encode_passages (model + embedding-cache look-ups and writes). Restores the embedder on exit."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.seconds = 0.0  # inside _encode (passages): the model, or the stand-in when installed
        self.passages = 0
        self.outer_seconds = 0.0  # inside encode_passages, including cache I/O

    def __enter__(self):
        from assistant.storage.models import PASSAGE_PROMPT

        emb = self.embedder
        self._saved = {k: emb.__dict__[k] for k in ("_encode", "encode_passages") if k in emb.__dict__}
        inner, outer = emb._encode, emb.encode_passages

        def _encode(texts, prompt):
            started = time.perf_counter()
            try:
                return inner(texts, prompt)
            finally:
                if prompt == PASSAGE_PROMPT:
                    self.seconds += time.perf_counter() - started
                    self.passages += len(texts)

        def encode_passages(texts, progress=None):
            started = time.perf_counter()
            try:
                return outer(texts, progress)
            finally:
                self.outer_seconds += time.perf_counter() - started

        emb._encode, emb.encode_passages = _encode, encode_passages
        return self

    def __exit__(self, *exc):
        for k in ("_encode", "encode_passages"):
            self.embedder.__dict__.pop(k, None)
        self.embedder.__dict__.update(self._saved)
        return False


def copy_sqlite(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    b.close()
    a.close()


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ------------------------------------------------------------------------------------------ measurements

