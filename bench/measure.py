"""The measurements of `make bench`: full ingest, re-ingest of one changed guideline, warm latency, app memory."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path


import numpy as np
from tqdm import tqdm

from bench.common import EncodeTimer, MODEL_DIR, QUESTIONS, ROOT, WARM_UP, make_settings, peak_rss_mb, summary_ms


def full_ingest(data_dir: Path, embedder) -> tuple[object, dict]:
    """The manifest into a fresh data directory with an empty embedding cache: every passage encoded."""
    from assistant.storage.library import open_library
    from ingest.pipeline import ingest_manifest

    lib = open_library(make_settings(data_dir), embedder=embedder)
    before = embedder.encoded
    with EncodeTimer(embedder) as timer:
        started = time.perf_counter()
        report = ingest_manifest(lib)
        wall = time.perf_counter() - started
    if report.skipped:
        raise SystemExit("bench: corpus incomplete (run `make setup`): " + "; ".join(report.skipped))
    chunks = lib.store.count()
    return lib, {
        "measured": "real encoding, empty embedding cache",
        "documents": len(report.results), "chunks": chunks, "passages_encoded": embedder.encoded - before,
        "wall_s": round(wall, 2), "encode_s": round(timer.seconds, 2),
        "encode_with_cache_io_s": round(timer.outer_seconds, 2), "other_s": round(wall - timer.seconds, 2),
        "total_over_encode": round(wall / timer.seconds, 3) if timer.seconds else None,
        "passages_per_s": round(timer.passages / timer.seconds, 1) if timer.seconds else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def incremental(lib) -> dict:
    """Guideline v1 (new document), then v2 (a changed version): v2 should encode only what changed."""
    from eval.runner import FIXTURE_VERSIONS
    from ingest.pipeline import ingest_version

    out = {}
    for name, (doc, path) in zip(("v1", "v2"), FIXTURE_VERSIONS):
        with EncodeTimer(lib.embedder) as timer:
            started = time.perf_counter()
            r = ingest_version(lib, replace(doc, file=path.name), path)
            wall = time.perf_counter() - started
        out[name] = {"version": doc.version, "status": r.status, "wall_s": round(wall, 3), "encoded": r.encoded,
                     "encode_s": round(timer.seconds, 3), "chunks": r.chunks, "new_chunks": r.new_chunks,
                     "sections_changed": r.sections_changed, "sections_added": r.sections_added,
                     "sections_removed": r.sections_removed, "sections_unchanged": r.sections_unchanged}
    out["measured"] = "real encoding; guideline fixture ingested into the 1x index"
    return out


def load_questions() -> list[dict]:
    from eval.runner import load_questions as load

    return load([QUESTIONS])


def latency(lib, questions: list[dict]) -> dict:
    """Warm latency (snapshot built, one warm-up question answered) of retrieval and full answers.

    The embedder's per-process query-vector cache is cleared before every timed call, so each question
    pays for its query encoding as a new question would."""
    from assistant.answering.extractive import Answerer, Turn
    from assistant.retrieval.ranking import Query, Retriever

    retriever = Retriever(lib)
    answerer = Answerer(retriever)
    started = time.perf_counter()
    snap = retriever.snapshot()
    snapshot_s = time.perf_counter() - started
    started = time.perf_counter()
    answerer.answer(WARM_UP)
    warm_up_ms = 1000 * (time.perf_counter() - started)
    encoded_before = lib.embedder.encoded
    qcache = lib.embedder._query_cache

    def filters(q):
        return {"as_of": dt.date.fromisoformat(q["as_of"])} if q.get("as_of") else {}

    retrieve_ms, retrieve_cpu, retrieve_cached, dense_ms = [], [], [], []
    for q in _bar(questions, "retrieval"):
        # plain dense search over the same chunks with the same encoder, for comparison: encode, score, top 10
        qcache.clear()
        started = time.perf_counter()
        vector = lib.embedder.encode_queries([q["question"]])[0]
        np.argsort(-(snap.matrix @ vector))[:10]
        dense_ms.append(1000 * (time.perf_counter() - started))
        query = Query(q["question"], history=tuple(q.get("history") or ()), **filters(q))
        qcache.clear()
        started, cpu = time.perf_counter(), time.process_time()
        retriever.retrieve(query, k=10)
        retrieve_ms.append(1000 * (time.perf_counter() - started))
        retrieve_cpu.append(1000 * (time.process_time() - cpu))
        # the same question again, its query vectors now cached: everything but the model, which is
        # what the index size changes and far less disturbed by other jobs than the model is
        started = time.perf_counter()
        retriever.retrieve(query, k=10)
        retrieve_cached.append(1000 * (time.perf_counter() - started))
    answer_ms, answer_cpu, by_kind, refused = [], [], {True: [], False: []}, 0
    follow_up = [bool(q.get("history")) for q in questions]
    for q in _bar(questions, "answers"):
        turns = []
        for earlier in q.get("history") or []:  # replayed like the eval runner, not timed
            turns.append(Turn(earlier, answerer.answer(earlier, turns, **filters(q))))
        qcache.clear()
        started, cpu = time.perf_counter(), time.process_time()
        answer = answerer.answer(q["question"], turns, **filters(q))
        ms = 1000 * (time.perf_counter() - started)
        answer_cpu.append(1000 * (time.process_time() - cpu))
        answer_ms.append(ms)
        by_kind[bool(q.get("answerable"))].append(ms)
        refused += answer.refused
    return {
        "chunks": len(snap.chunks), "sentences": len(snap.sentences), "documents": len({c.doc_id for c in snap.chunks}),
        "snapshot_build_s": round(snapshot_s, 2), "warm_up_ms": round(warm_up_ms, 1),
        "retrieve_ms": summary_ms(retrieve_ms), "answer_ms": summary_ms(answer_ms),
        "retrieve_ms_without_model": summary_ms(retrieve_cached),
        "plain_dense_ms": summary_ms(dense_ms),
        "retrieve_cpu_ms": summary_ms(retrieve_cpu), "answer_cpu_ms": summary_ms(answer_cpu),
        "answer_ms_answerable": summary_ms(by_kind[True]), "answer_ms_unanswerable": summary_ms(by_kind[False]),
        "retrieve_ms_follow_up": summary_ms([ms for ms, f in zip(retrieve_ms, follow_up) if f]),
        "retrieve_ms_single": summary_ms([ms for ms, f in zip(retrieve_ms, follow_up) if not f]),
        "per_question": [{"id": q["id"], "answerable": bool(q.get("answerable")), "follow_up": f,
                          "retrieve_ms": round(r, 1), "answer_ms": round(a, 1)}
                         for q, f, r, a in zip(questions, follow_up, retrieve_ms, answer_ms)],
        "refused": refused, "passages_encoded_while_answering": lib.embedder.encoded - encoded_before,
        "_answerer": answerer,
    }


def warm_rss(data_dir: Path) -> dict:
    """RSS of a fresh process that opened the library, built the snapshot and answered the warm-up."""
    cmd = [sys.executable, "-m", "bench.warm_rss", "--data-dir", str(data_dir), "--embedding-model", str(MODEL_DIR)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])




def _bar(items, what: str):
    """A progress bar in a terminal (tqdm on stderr); nothing when the output goes to a file."""
    return tqdm(items, desc=f"latency: {what}", unit="q", leave=False, file=sys.stderr, disable=not sys.stderr.isatty())


def encoder_backends(questions: list[dict], n: int = 60) -> dict:
    """Per-question encoding time of the same e5 weights with torch and with ONNX Runtime, and how close
    their vectors are: what the ONNX backend changes."""
    from assistant.storage.models import QUERY_PROMPT, Embedder

    texts = [q["question"] for q in questions[:n]]
    out, vectors = {}, {}
    for backend in ("torch", "onnx"):
        embedder = Embedder(str(MODEL_DIR), backend=backend)
        if embedder.backend != backend:
            out[backend] = {"error": "ONNX export missing: run make setup"}
            continue
        embedder._encode(texts[:2], QUERY_PROMPT)  # load and warm up
        times = []
        for text in texts:
            started = time.perf_counter()
            embedder._encode([text], QUERY_PROMPT)
            times.append(1000 * (time.perf_counter() - started))
        vectors[backend] = embedder._encode(texts, QUERY_PROMPT)
        out[backend] = summary_ms(times)
    if len(vectors) == 2:
        out["min_cosine"] = round(float((vectors["torch"] * vectors["onnx"]).sum(axis=1).min()), 5)
    return out
