"""Run the reference questions through the real pipeline (the same code path as the app).

The eval builds its own index in a temporary data directory from the manifest, so it never touches
the staff index; questions tagged `fixture` run against a second index that also holds the
fictional test guideline, so fiction never mixes into answers to the other questions.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from assistant.answering.extractive import Answerer, Turn
from assistant.storage.library import Library, open_library
from assistant.storage.models import Embedder, EmbeddingCache
from assistant.records import DocumentVersion
from assistant.answering.refusal import RefusalModel
from assistant.retrieval.ranking import Retriever
from assistant.settings import Settings
from eval.metrics import attach_eval, summarise

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
_GUIDELINE = dict(doc_id="ll-ki-fiktiv", title="Leitlinie zur Nutzung von KI-Sprachmodellen (Testfassung, fiktiv)",
                  short="LL-KI (fiktiv)", kind="guideline", issuer="Musterministerium für Digitales (fiktiv)")
FIXTURE_VERSIONS = [
    (DocumentVersion(version="2025-09", valid_from="2025-09-01", **_GUIDELINE), FIXTURES / "leitlinie_v1.md"),
    (DocumentVersion(version="2026-03", valid_from="2026-03-01", **_GUIDELINE), FIXTURES / "leitlinie_v2.md"),
]
DEFAULT_QUESTIONS = [ROOT / "eval" / "questions.jsonl", ROOT / "eval" / "questions_fixture.jsonl",
                     ROOT / "eval" / "questions_holdout.jsonl"]


def load_questions(paths: list[Path]) -> list[dict]:
    questions = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    questions.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg}).") from None
    return questions


def build_library(settings: Settings, workdir: Path, embedder: Embedder, *, with_fixture: bool) -> Library:
    """A fresh index of the manifest documents (and the fictional guideline) in `workdir`."""
    from ingest.pipeline import ingest_manifest, ingest_version

    lib = open_library(Settings(data_dir=workdir, corpus_dir=settings.corpus_dir,
                                embedding_model=settings.embedding_model, chunk_max_chars=settings.chunk_max_chars,
                                _env_file=None), embedder=embedder)
    report = ingest_manifest(lib)
    if report.skipped:
        raise RuntimeError("eval index incomplete: " + "; ".join(report.skipped))
    if with_fixture:
        for doc, path in FIXTURE_VERSIONS:
            ingest_version(lib, replace(doc, file=path.name), path)
    return lib


def answer_question(answerer: Answerer, q: dict) -> tuple[dict, float]:
    filters = {}
    if q.get("as_of"):
        filters["as_of"] = dt.date.fromisoformat(q["as_of"])
    turns: list[Turn] = []
    for earlier in q.get("history") or []:
        turns.append(Turn(earlier, answerer.answer(earlier, turns, **filters)))
    started = time.perf_counter()
    answer = answerer.answer(q["question"], turns, **filters)
    return answer.to_dict(), 1000 * (time.perf_counter() - started)


def answer_all(answerer: Answerer, questions: list[dict], on_each=None) -> list[dict]:
    """One result record per question, in the results-file shape."""
    results = []
    for q in questions:
        answer, latency = answer_question(answerer, q)
        results.append({"id": q["id"], "question": q["question"], "answerable": q["answerable"],
                        "tags": q.get("tags", []), "split": q.get("split", "dev"),
                        "retrieved": answer["retrieved"], "answer": answer, "latency_ms": round(latency, 1)})
        if on_each:
            on_each()
    return results


def run(settings: Settings, question_paths: list[Path], *, k: int = 10, mode: str = "hybrid",
        refusal: RefusalModel | None = None, progress: bool = True, today: dt.date | None = None,
        on_question=None, questions_index: bool = True) -> dict:
    """Answer every question and return the results document (config, summary, results).
    `on_question(done, total)` is called after each question (for progress bars in the UI)."""
    questions = load_questions(question_paths)
    embedder = Embedder(settings.embedding_model, cache=EmbeddingCache(settings.embedding_cache_path),
                        backend=settings.embedding_backend)
    refusal = refusal or RefusalModel()
    clock = (lambda: today) if today else dt.date.today
    results = []
    corpus: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="eval-index-") as tmp:
        groups = [(False, [q for q in questions if "fixture" not in q.get("tags", [])]),
                  (True, [q for q in questions if "fixture" in q.get("tags", [])])]
        bar = tqdm(total=len(questions), desc="questions", unit="q", disable=not progress)
        for with_fixture, group in groups:
            if not group:
                continue
            lib = build_library(settings, Path(tmp) / ("fixture" if with_fixture else "corpus"), embedder,
                                with_fixture=with_fixture)
            answerer = Answerer(Retriever(lib, clock=clock, mode=mode, questions=questions_index), refusal=refusal, k=k)
            corpus.update({d: v.version for d, v in lib.registry.in_force(clock()).items()})
            def step():
                bar.update(1)
                if on_question:
                    on_question(bar.n, len(questions))

            results.extend(answer_all(answerer, group, on_each=step))
        bar.close()
    by_id = {q["id"]: q for q in questions}
    config = {"embedding_model": embedder.fingerprint, "answer_mode": "extractive",
              "retrieval": f"{mode}-rrf" + ("" if questions_index or mode != "hybrid" else " without question index"),
              "git": _git_revision(), "corpus": corpus, "k": k, "refusal_threshold": refusal.threshold,
              "questions": [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in question_paths]}
    doc = {"config": config, "summary": summarise(by_id, results, k), "results": results}
    return attach_eval(doc, by_id, k)


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
