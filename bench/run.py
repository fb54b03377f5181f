"""Benchmark: full ingest, incremental re-ingest, warm question latency, app memory, scaling, profile.

    python -m bench.run                      # make bench:        1x and 5x corpus
    python -m bench.run --scales 1,5,20      # make bench-scale:  adds 20x

Everything runs in a temporary data directory; the staff index in data/ is never touched. Prints a
table and writes bench/results/latest.json. Numbers vary by about +-30 % on the shared machine.
What is real encoding and what is not is stated in every row (see bench/README.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


from bench.common import MODEL_DIR, QUESTIONS, RESULTS, ROOT, copy_sqlite, git_revision, load_average, log
from bench.measure import encoder_backends, full_ingest, incremental, latency, load_questions, warm_rss
from bench.profiling import profile_answers, profile_snapshot
from bench.render import render, targets
from bench.scaling import scaling


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
        log("query encoding: torch against ONNX Runtime")
        result["encoders"] = encoder_backends(questions)
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
