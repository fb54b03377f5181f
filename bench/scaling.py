"""Ingest and latency at several corpus multiples (distinct synthetic text, nothing served from a cache)."""
from __future__ import annotations

import time
from pathlib import Path


from bench.common import AI_ACT, EncodeTimer, MODEL_DIR, ROOT, copy_sqlite, log, make_settings
from bench.measure import latency, warm_rss
from bench.profiling import profile_answers, profile_snapshot, sample_real_encoding


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

