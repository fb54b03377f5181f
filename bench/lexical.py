"""Benchmark of the BM25 part alone: building the two lexical indexes of a snapshot, and scoring queries.

    python -m bench.lexical                       # 1x, 5x and 20x corpus, 5 builds each
    python -m bench.lexical --scales 1,20 --repeat 3

Compares the implementation before issue 8 (every text tokenised twice, the group texts tokenised again,
rank_bm25's BM25Okapi) with the current one (assistant/retrieval/lexical.py: one word split per chunk text, BM25
weights in a sparse matrix) on the same chunks, and checks that both give the same scores. No model and
no index: the chunks come from the chunker (`read_document`, `chunk_sections`), the 5x/20x copies from
bench/synthetic.py. Prints medians; CPU-only, so it is much less noisy than `bench.run`, but still
slower while other jobs run (the header shows the load average).
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import QUESTIONS, ROOT, load_average, pct


_OLD_WORD = re.compile(r"\w+(?:-\w+)*")
_OLD_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _old_tokens(text: str, vocab=None) -> list[str]:
    from assistant.text.words import STOPWORDS, stem

    out: list[str] = []
    for m in _OLD_WORD.finditer(text.lower().translate(_OLD_FOLD)):
        token = m.group(0)
        parts = [p for p in token.split("-") if p]
        for w in (["".join(parts)] if len(parts) > 1 else []) + parts:
            if w in STOPWORDS:
                continue
            out.append(stem(w))
            if vocab:
                out.extend(vocab.split(w))
    return out


class TwoPassIndex:
    """LexicalIndex as it was before issue 8 (its tokeniser and rank_bm25), the reference for the timings."""

    def __init__(self, texts: list[str]):
        from rank_bm25 import BM25Okapi

        from assistant.text.words import Vocabulary

        base = [_old_tokens(t) for t in texts]
        self.vocab = Vocabulary({t for doc in base for t in doc})
        self.docs = [_old_tokens(t, self.vocab) for t in texts]
        self.bm25 = BM25Okapi(self.docs, k1=1.2, b=0.75) if self.docs else None

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not self.bm25 or not query_tokens:
            return np.zeros(len(self.docs))
        return np.asarray(self.bm25.get_scores(query_tokens), dtype=np.float64)


def corpus_chunks(scale: int, folder: Path) -> tuple[list, dict[str, str]]:
    """The chunks of the manifest documents plus scale-1 synthetic copies of the AI Act, and the titles."""
    from assistant.settings import Settings
    from bench.synthetic import write_copy
    from ingest.chunks import chunk_sections
    from ingest.manifest import read_manifest
    from ingest.pipeline import read_document

    max_chars = Settings(_env_file=None).chunk_max_chars
    docs = [(doc, ROOT / "corpus" / doc.file) for doc in read_manifest(ROOT / "corpus" / "manifest.toml")]
    ai_act = next((d, p) for d, p in docs if d.doc_id == "eu-ai-act")
    docs += [write_copy(*ai_act, i, folder) for i in range(1, scale)]
    chunks, titles = [], {}
    for doc, path in docs:
        chunks += chunk_sections(read_document(path, doc), max_chars=max_chars)
        titles[doc.doc_id] = doc.title
    return chunks, titles


def measure(scale: int, repeat: int, questions: list[str]) -> dict:
    from assistant.question.glossary import expand
    from assistant.text.words import stem
    from assistant.retrieval.snapshot import group_key, lexical_indexes

    with tempfile.TemporaryDirectory(prefix="bench-lexical-") as tmp:
        chunks, titles = corpus_chunks(scale, Path(tmp))
    names: dict[tuple[str, str], int] = {}
    groups = np.array([names.setdefault((c.doc_id, group_key(c.section_key)), len(names)) for c in chunks])

    def old_build():
        texts = [c.embedding_text(titles.get(c.doc_id, "")) for c in chunks]
        group_texts = [""] * len(names)
        for row, g in enumerate(groups):
            group_texts[g] += " " + chunks[row].text
        return TwoPassIndex(texts), TwoPassIndex(group_texts)

    def new_build():
        return lexical_indexes(chunks, titles, groups, len(names))

    out = {"scale": scale, "chunks": len(chunks), "groups": len(names)}
    for name, build in (("old", old_build), ("new", new_build)):
        seconds = []
        for _ in range(repeat):
            stem.cache_clear()  # as at app start; otherwise whichever runs second finds every stem cached
            started = time.perf_counter()
            indexes = build()
            seconds.append(time.perf_counter() - started)
        out[f"{name}_build_s"] = statistics.median(seconds)
        out[f"{name}_indexes"] = indexes
    old, new = out.pop("old_indexes"), out.pop("new_indexes")
    out["same_tokens"] = old[0].docs == new[0].docs and old[1].docs == new[1].docs
    queries = [new[0].query_tokens(f"{q} {expand(q)}") for q in questions]
    for name, (chunk_index, group_index) in (("old", old), ("new", new)):
        ms = []
        for q in queries:  # per question: the chunk index and the group index, as Retriever._score does
            started = time.perf_counter()
            chunk_index.scores(q)
            group_index.scores(q)
            ms.append(1000 * (time.perf_counter() - started))
        out[f"{name}_query_ms_p50"], out[f"{name}_query_ms_p95"] = pct(ms, 50), pct(ms, 95)
    out["max_abs_diff"] = max(float(np.max(np.abs(o.scores(q) - n.scores(q)), initial=0.0))
                              for q in queries for o, n in zip(old, new))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time building and querying the BM25 indexes, before and after "
                                                 "issue 8, on the same chunks.")
    parser.add_argument("--scales", default="1,5,20", help="comma-separated corpus multiples")
    parser.add_argument("--repeat", type=int, default=5, help="index builds per implementation and scale (median)")
    args = parser.parse_args(argv)
    from eval.runner import load_questions

    questions = [q["question"] for q in load_questions([QUESTIONS])]
    print(f"== BM25 indexes of a snapshot: before (two-pass tokens, rank_bm25) and after (one pass, sparse)  "
          f"load avg before {load_average()}")
    print("scale  chunks  groups  build s old  build s new  query ms p50 old/new  query ms p95 old/new  "
          "same tokens  max |score diff|")
    for scale in sorted({int(s) for s in args.scales.split(",") if s.strip()}):
        r = measure(scale, args.repeat, questions)
        print(f"{scale:>4}x  {r['chunks']:>6}  {r['groups']:>6}  {r['old_build_s']:>11.2f}  {r['new_build_s']:>11.2f}  "
              f"{r['old_query_ms_p50']:>9.2f} / {r['new_query_ms_p50']:<7.2f}  "
              f"{r['old_query_ms_p95']:>9.2f} / {r['new_query_ms_p95']:<7.2f}  "
              f"{'yes' if r['same_tokens'] else 'NO':>11}  {r['max_abs_diff']:.1e}", flush=True)
    print(f"   ({len(questions)} questions of {QUESTIONS.relative_to(ROOT)} with their glossary expansion; query ms = "
          f"chunk + group index; build = median of {args.repeat}; load avg after {load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
