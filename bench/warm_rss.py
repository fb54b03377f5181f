"""Memory of a warm app process: `python -m bench.warm_rss --data-dir DIR` prints one JSON line.

Does what the app does before it reports ready (app.py, load_answerer): open the library, build the
retriever snapshot, answer one warm-up question; then reports its resident set size. Run in its own
process so the figure is not polluted by the benchmark's ingest runs.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

WARM_UP = "Was ist ein KI-System?"  # the app's warm-up question (app.py)


def status_mb(field: str) -> float | None:
    """VmRSS / VmHWM of this process in MB (10^6 bytes; Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--embedding-model", default="models/multilingual-e5-small")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from assistant.answering.extractive import Answerer
    from assistant.storage.library import open_library
    from assistant.retrieval.ranking import Retriever
    from assistant.settings import Settings

    settings = Settings(data_dir=args.data_dir, embedding_model=args.embedding_model, _env_file=None)
    answerer = Answerer(Retriever(open_library(settings)))
    opened = time.perf_counter()
    snap = answerer.retriever.snapshot()
    snapshot_at = time.perf_counter()
    answer = answerer.answer(WARM_UP)
    ready = time.perf_counter()
    print(json.dumps({
        "rss_mb": round(status_mb("VmRSS") or 0.0, 1),
        "peak_rss_mb": round(status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, 1),
        "chunks": len(snap.chunks), "sentences": len(snap.sentences),
        "ready_s": round(ready - started, 2), "import_open_s": round(opened - started, 2),
        "snapshot_s": round(snapshot_at - opened, 2),
        "warm_up_ms": round(1000 * (ready - snapshot_at), 1), "warm_up_refused": answer.refused,
        "encoded_passages": answerer.retriever.lib.embedder.encoded,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
