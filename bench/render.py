"""The printed table and the targets check of a benchmark result."""
from __future__ import annotations

import numpy as np

from bench.common import TARGETS


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
        "retrieve_over_dense_p95": round(lat["retrieve_ms"]["p95"] / lat["plain_dense_ms"]["p95"], 2)
        if lat.get("plain_dense_ms", {}).get("p95") else None,
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
                     "/".join(fmt(lat.get("plain_dense_ms", {}).get(p)) for p in ("p50", "p95")),
                     fmt(lat["answer_ms"]["p50"]), fmt(lat["answer_ms"]["p95"]),
                     f"{fmt(lat['answer_ms_answerable']['p95'])}/{fmt(lat['answer_ms_unanswerable']['p95'])}",
                     fmt(lat["snapshot_build_s"], "", 2), fmt(rss.get("rss_mb"), "", 0), fmt(rss.get("ready_s"), "", 1),
                     "real" if scale == "1" else "stand-in vectors"])
    out.append(table(["scale", "docs", "chunks", "sentences", "retr p50", "retr p95", "w/o model p50/p95",
                      "plain dense p50/p95",
                      "answer p50", "answer p95",
                      "ans p95 yes/no", "snapshot s", "app RSS MB", "app ready s", "vectors"], rows))
    out.append("   (w/o model: the same retrieval again with the question's vectors cached; plain dense: encode the "
               "question and take the top 10 by dot product over the same chunks, for comparison; app RSS/ready: separate "
               "process `python -m bench.warm_rss`: open library, snapshot, warm-up)")
    enc = result.get("encoders")
    if enc:
        out.append("\n-- Query encoding, one question at a time, the same e5 weights (ms)")
        out.append(table(["backend", "p50", "p95"], [[name, fmt(enc[name].get("p50")), fmt(enc[name].get("p95"))]
                                                      for name in ("torch", "onnx") if name in enc]))
        out.append(f"   (lowest cosine between the two backends' vectors: {enc.get('min_cosine')}; the assistant uses "
                   "ONNX Runtime, ASSISTANT_EMBEDDING_BACKEND=torch switches back)")
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

