"""Benchmark: full ingest, incremental re-ingest, warm question latency, app memory, scaling, profile.

    python -m bench.run                      # make bench:        1x and 5x corpus
    python -m bench.run --scales 1,5,20      # make bench-scale:  adds 20x

Everything runs in a temporary data directory; the staff index in data/ is never touched. Prints a
table and writes bench/results/latest.json. Numbers vary by about +-30 % on the shared machine.
What is real encoding and what is not is stated in every row (see bench/README.md).
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
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

    retrieve_ms, retrieve_cpu, retrieve_cached = [], [], []
    for q in questions:
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
    for q in questions:
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
    from assistant.retrieval.ranking import build_snapshot

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


def scaling(workdir: Path, base_embedder, x1_cache: Path, scales: list[int], questions: list[dict],
            x1_ingest: dict, profile_questions: int) -> list[dict]:
    """Grow one index to each scale with synthetic copies of the AI Act; measure at each scale."""
    from assistant.storage.library import open_library
    from assistant.storage.models import Embedder, EmbeddingCache
    from bench.synthetic import PerturbedVectors, install, read_cache_vectors, uninstall, write_copy
    from ingest.manifest import read_manifest
    from ingest.pipeline import ingest_manifest, ingest_version

    copy_sqlite(x1_cache, workdir / "embedding-cache.sqlite")
    embedder = Embedder(str(MODEL_DIR), cache=EmbeddingCache(workdir / "embedding-cache.sqlite"))
    embedder._model = base_embedder._load()  # share the loaded model
    lib = open_library(make_settings(workdir), embedder=embedder)
    started = time.perf_counter()
    with EncodeTimer(embedder) as timer:
        report = ingest_manifest(lib)
    base = {"wall_s": round(time.perf_counter() - started, 2), "encoded": sum(r.encoded for r in report.results),
            "encode_s": round(timer.seconds, 2)}
    log(f"scaled index: 1x corpus re-ingested from the warm cache in {base['wall_s']} s "
        f"({base['encoded']} passages encoded)")
    original = next(d for d in read_manifest(ROOT / "corpus" / "manifest.toml") if d.doc_id == AI_ACT)
    original_path = ROOT / "corpus" / original.file
    docs_dir = workdir / "synthetic-docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    fake = PerturbedVectors(read_cache_vectors(x1_cache, embedder.fingerprint), original.title)
    rows, copies, copy_rows = [], 0, []
    for scale in sorted(s for s in scales if s > 1):
        install(embedder, fake)
        try:
            for i in range(copies + 1, scale):
                doc, path = write_copy(original, original_path, i, docs_dir)
                fake.copy = i
                with EncodeTimer(embedder) as timer:
                    started = time.perf_counter()
                    r = ingest_version(lib, doc, path)
                    wall = time.perf_counter() - started
                copy_rows.append({"copy": i, "chunks": r.chunks, "passages": r.encoded, "wall_s": round(wall, 2),
                                  "stand_in_encode_s": round(timer.seconds, 3),
                                  "non_encode_s": round(wall - timer.seconds, 2)})
                log(f"synthetic copy {i}: {r.chunks} chunks, {r.encoded} passages, {wall:.1f} s "
                    f"(stand-in encoder {timer.seconds:.1f} s)")
        finally:
            uninstall(embedder)
        copies = scale - 1
        log(f"{scale}x: really encoding a sample of the {len(set(fake.texts))} synthetic passages")
        sample = sample_real_encoding(base_embedder, fake.texts)
        synthetic_non_encode = sum(c["non_encode_s"] for c in copy_rows)
        encode_est = x1_ingest["encode_s"] + sample["estimated_s"] or 1e-9
        non_encode = x1_ingest["other_s"] + synthetic_non_encode
        passages = x1_ingest["passages_encoded"] + sample["passages"]
        ingest = {
            "measured": ("1x part real; synthetic copies ingested through the real pipeline with a stand-in "
                         "passage encoder (non-encode time measured), their encode time estimated from really "
                         f"encoding {sample['sample']} of {sample['passages']} synthetic passages"),
            "chunks": lib.store.count(), "passages": passages,
            "encode_s_est": round(encode_est, 1), "other_s": round(non_encode, 1),
            "total_s_est": round(encode_est + non_encode, 1),
            "total_over_encode": round((encode_est + non_encode) / encode_est, 3),
            "linear_from_1x_s": (round(x1_ingest["wall_s"] * passages / x1_ingest["passages_encoded"], 1)
                                 if x1_ingest["passages_encoded"] else None),
            "encode_sample": sample, "stand_in_vectors": {"exact_original": fake.hits, "fallback": fake.misses,
                                                          "seconds": round(fake.seconds, 2)},
            "copies": [c for c in copy_rows],
        }
        log(f"{scale}x: latency over {len(questions)} questions")
        lat = latency(lib, questions)
        lat_answerer = lat.pop("_answerer")
        log(f"{scale}x: warm app memory (subprocess)")
        rss = warm_rss(workdir)
        rows.append({"scale": scale, "ingest": ingest, "latency": lat, "warm_app": rss,
                     "latency_measured": "synthetic copies' vectors are stand-ins (perturbed real vectors); "
                                         "queries really encoded"})
        if scale == max(scales):
            log(f"{scale}x: profiling the warm answer path and the snapshot build")
            rows[-1]["profile_answer_scaled"] = profile_answers(lat_answerer, questions[:profile_questions],
                                                                f"{scale}x")
            rows[-1]["profile_snapshot"] = profile_snapshot(lib, f"{scale}x")
        del lat_answerer
    rows.insert(0, {"warm_cache_reingest_1x": base})
    return rows


# -------------------------------------------------------------------------------------------------- output

def fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.{digits}f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(r):
        return "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def targets(result: dict) -> list[dict]:
    ing, inc, lat, rss = result["ingest_1x"], result["incremental"], result["latency"]["1"], result["warm_app"]["1"]
    values = {
        "ingest_total_over_encode": ing["total_over_encode"],
        "incremental_share": inc["v2"]["wall_s"] / ing["wall_s"],
        "retrieve_p95_ms": lat["retrieve_ms"]["p95"],
        "answer_p95_ms": lat["answer_ms"]["p95"],
        "warm_rss_mb": rss.get("rss_mb"),
    }
    out = []
    for name, (limit, unit, text) in TARGETS.items():
        v = values[name]
        out.append({"target": name, "description": text, "value": round(v, 3) if v is not None else None,
                    "limit": limit, "met": v is not None and v <= limit})
    return out


def render(result: dict) -> str:
    out = []
    m = result["machine"]
    if result.get("warning"):
        out.append(f"!! {result['warning']}")
    out.append(f"== Leitlinien-Assistent benchmark  {result['started']}  git {result['git']}  "
               f"{m['cpus']} CPUs  load avg before {m['load_before']} after {m['load_after']}  "
               f"runtime {result['runtime_s'] / 60:.1f} min")
    ing = result["ingest_1x"]
    out.append(f"\n-- Full ingest, 1x corpus, fresh data dir, EMPTY embedding cache (real encoding; model load "
               f"{result['model_load_s']} s not included)")
    out.append(table(["docs", "chunks", "passages encoded", "wall s", "encode s", "other s", "total/encode",
                      "passages/s", "peak RSS MB"],
                     [[ing["documents"], ing["chunks"], ing["passages_encoded"], fmt(ing["wall_s"]),
                       fmt(ing["encode_s"]), fmt(ing["other_s"]), fmt(ing["total_over_encode"], "", 2),
                       fmt(ing["passages_per_s"]), fmt(ing["peak_rss_mb"], "", 0)]]))
    out.append("   (passages = chunks + their sentences, both embedded at ingest; encode = inside the model; "
               f"with cache I/O {ing['encode_with_cache_io_s']} s)")
    inc = result["incremental"]
    out.append("\n-- Incremental re-ingest: fictional guideline v1, then v2 into the 1x index (real encoding)")
    out.append(table(["version", "status", "chunks", "new chunks", "passages encoded", "wall s", "encode s",
                      "sections changed/added/removed/unchanged", "share of full ingest"],
                     [[f"{k} ({inc[k]['version']})", inc[k]["status"], inc[k]["chunks"], inc[k]["new_chunks"],
                       inc[k]["encoded"], fmt(inc[k]["wall_s"], "", 2), fmt(inc[k]["encode_s"], "", 2),
                       f"{inc[k]['sections_changed']}/{inc[k]['sections_added']}/{inc[k]['sections_removed']}/"
                       f"{inc[k]['sections_unchanged']}", f"{100 * inc[k]['wall_s'] / ing['wall_s']:.1f} %"]
                      for k in ("v1", "v2")]))
    out.append(f"\n-- Warm latency over {result['questions']['n']} questions of eval/questions.jsonl "
               f"({result['questions']['answerable']} answerable, {result['questions']['unanswerable']} not); "
               "ms; warm = snapshot built + 1 warm-up question")
    rows = []
    for scale, lat in result["latency"].items():
        rss = result["warm_app"].get(scale, {})
        rows.append([f"{scale}x", lat["documents"], lat["chunks"], lat["sentences"],
                     fmt(lat["retrieve_ms"]["p50"]), fmt(lat["retrieve_ms"]["p95"]),
                     "/".join(fmt(lat.get("retrieve_ms_without_model", {}).get(p)) for p in ("p50", "p95")),
                     fmt(lat["answer_ms"]["p50"]), fmt(lat["answer_ms"]["p95"]),
                     f"{fmt(lat['answer_ms_answerable']['p95'])}/{fmt(lat['answer_ms_unanswerable']['p95'])}",
                     fmt(lat["snapshot_build_s"], "", 2), fmt(rss.get("rss_mb"), "", 0), fmt(rss.get("ready_s"), "", 1),
                     "real" if scale == "1" else "stand-in vectors"])
    out.append(table(["scale", "docs", "chunks", "sentences", "retr p50", "retr p95", "w/o model p50/p95",
                      "answer p50", "answer p95",
                      "ans p95 yes/no", "snapshot s", "app RSS MB", "app ready s", "vectors"], rows))
    out.append("   (w/o model: the same retrieval again with the question's vectors cached; app RSS/ready: separate "
               "process `python -m bench.warm_rss`: open library, snapshot, warm-up)")
    out.append("\n-- Ingest time by scale (s)")
    rows = [["1x", ing["chunks"], ing["passages_encoded"], fmt(ing["encode_s"]), fmt(ing["other_s"]),
             fmt(ing["wall_s"]),
             fmt(ing["total_over_encode"], "", 2), "-", "all real (measured)"]]
    for row in result["scaling"]:
        if "scale" not in row:
            continue
        g = row["ingest"]
        s = g["encode_sample"]
        rows.append([f"{row['scale']}x", g["chunks"], g["passages"], fmt(g["encode_s_est"]) + " est", fmt(g["other_s"]),
                     fmt(g["total_s_est"]) + " est", fmt(g["total_over_encode"], "", 2), fmt(g["linear_from_1x_s"]),
                     f"encode: 1x real + {s['estimated_s']} s est. from {s['sample']}/{s['passages']} synthetic "
                     f"passages really encoded; other: measured"])
    out.append(table(["scale", "chunks", "passages", "encode", "other", "total", "total/encode", "linear from 1x",
                      "how"], rows))
    base = next((r["warm_cache_reingest_1x"] for r in result["scaling"] if "warm_cache_reingest_1x" in r), None)
    if base:
        out.append(f"   (1x re-ingest into a fresh index with a warm embedding cache: {base['wall_s']} s, "
                   f"{base['encoded']} passages encoded)")
    out.append("\n-- Targets")
    out.append(table(["target", "value", "limit", "met"],
                     [[t["description"], fmt(t["value"], "", 3), fmt(t["limit"], "", 2),
                       "MET" if t["met"] else "MISSED"]
                      for t in result["targets"]]))
    for key in ("profile_answer", "profile_answer_scaled", "profile_snapshot"):
        p = result.get(key)
        if not p:
            continue
        out.append(f"\n-- Profile top 10: {p['what']} (cProfile, {p['profiled_s']} s profiled; "
                   "share = of profiled time)")
        out.append(table(["own", "cum", "calls", "function"],
                         [[f"{100 * e['own_share']:.1f} %", f"{100 * e['cum_share']:.1f} %", e["calls"], e["function"]]
                          for e in p["top_own"]]))
        out.append("   project functions by cumulative time (top 6):")
        out.append(table(["cum", "own", "calls", "function"],
                         [[f"{100 * e['cum_share']:.1f} %", f"{100 * e['own_share']:.1f} %", e["calls"], e["function"]]
                          for e in p["top_project_cumulative"][:6]]))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark ingest, latency, memory and scaling.")
    parser.add_argument("--scales", default="1,5", help="comma-separated corpus multiples; 1 is always run")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--profile-questions", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="MINUTES",
                        help="wait up to MINUTES for the 1-minute load average to drop below 1.5 before starting")
    parser.add_argument("--questions-limit", type=int, default=0, help="use only the first N questions (quick try)")
    parser.add_argument("--warm-cache-from", type=Path, default=None,
                        help="quick try only: start the 1x ingest with this embedding cache (its numbers are then "
                             "NOT empty-cache numbers and the targets are not meaningful)")
    args = parser.parse_args(argv)
    scales = sorted({1, *(int(s) for s in args.scales.split(",") if s.strip())})
    if not MODEL_DIR.exists() or not (ROOT / "corpus" / "manifest.toml").exists():
        raise SystemExit("bench: model or corpus missing; run `make setup` first.")

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from assistant.storage.models import Embedder, EmbeddingCache

    deadline = time.monotonic() + 60 * args.wait_idle
    while args.wait_idle and load_average() and load_average()[0] >= 1.5 and time.monotonic() < deadline:
        log(f"waiting for an idle machine (load average {load_average()})")
        time.sleep(30)
    begun = time.perf_counter()
    load_before = load_average()
    if load_before and load_before[0] > 2:
        log(f"warning: load average {load_before} > 2, numbers will be slower than on an idle machine")
    result: dict = {"started": dt.datetime.now().isoformat(timespec="seconds"), "git": git_revision(),
                    "scales": scales, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                  "load_before": load_before}}
    questions = load_questions()
    if args.questions_limit:
        questions = questions[:args.questions_limit]
    result["questions"] = {"file": str(QUESTIONS.relative_to(ROOT)), "n": len(questions),
                           "answerable": sum(1 for q in questions if q.get("answerable")),
                           "unanswerable": sum(1 for q in questions if not q.get("answerable"))}
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        x1 = tmp / "x1"
        if args.warm_cache_from:
            copy_sqlite(args.warm_cache_from, x1 / "embedding-cache.sqlite")
            result["warning"] = (f"1x ingest started with a WARM embedding cache ({args.warm_cache_from}): "
                                 "not a benchmark")
            log(result["warning"])
        embedder = Embedder(str(MODEL_DIR), cache=EmbeddingCache(x1 / "embedding-cache.sqlite"))
        started = time.perf_counter()
        embedder._load()
        result["model_load_s"] = round(time.perf_counter() - started, 1)
        log("1x: full ingest with an empty embedding cache (real encoding; the longest step)")
        lib, result["ingest_1x"] = full_ingest(x1, embedder)
        log(f"1x: ingest {result['ingest_1x']['wall_s']} s; warm app memory (subprocess)")
        result["warm_app"] = {"1": warm_rss(x1)}
        log(f"1x: latency over {len(questions)} questions")
        lat = latency(lib, questions)
        answerer = lat.pop("_answerer")
        result["latency"] = {"1": lat}
        log("profiling the warm answer path")
        result["profile_answer"] = profile_answers(answerer, questions[:args.profile_questions])
        log("incremental re-ingest of the guideline")
        result["incremental"] = incremental(lib)
        del answerer, lat
        result["scaling"] = []
        if len(scales) > 1:
            result["scaling"] = scaling(tmp / "scaled", embedder, x1 / "embedding-cache.sqlite", scales, questions,
                                        result["ingest_1x"], args.profile_questions)
            for row in result["scaling"]:
                if "scale" in row:
                    result["latency"][str(row["scale"])] = row.pop("latency")
                    result["warm_app"][str(row["scale"])] = row.pop("warm_app")
                    for key in ("profile_answer_scaled", "profile_snapshot"):
                        if key in row:
                            result[key] = row.pop(key)
        if "profile_snapshot" not in result:
            result["profile_snapshot"] = profile_snapshot(lib, "1x")
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    result["machine"]["load_after"] = load_average()
    result["runtime_s"] = round(time.perf_counter() - begun, 1)
    result["targets"] = targets(result)
    text = render(result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
