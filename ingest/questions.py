"""Questions per passage for the question index: where they come from, and which chunks they belong to.

A chunk's questions come from, in this order:
1. a questions file (`ingest add … --questions FILE.jsonl`) or the admin's edits;
2. the questions it already has in the index, which is how unchanged sections keep theirs (an
   unchanged section is the same chunk);
3. the bundled data in `corpus/questions/` (see its README);
4. a configured language model.

An entry is keyed by doc_id, section_key and the hash of the passage text it was written for. If the
passage text changed, the entry is stale and is not used.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import InputError
from assistant.records import Chunk
from assistant.storage.questions import KINDS, OUT_OF_SCOPE, StoredQuestion

QUESTIONS_DIR = "questions"
OUT_OF_SCOPE_FILE = "out_of_scope.jsonl"


def passage_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class QuestionSource:
    """Questions by (doc_id, section_key, text_sha); text_sha "" matches any text of that section."""

    name: str
    entries: dict[tuple[str, str, str], list[tuple[str, str]]] = field(default_factory=dict)  # -> [(kind, text)]
    sources: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def add(self, doc_id: str, section_key: str, text_sha: str, questions: list[tuple[str, str]], source: str) -> None:
        key = (doc_id, section_key, text_sha)
        self.entries.setdefault(key, []).extend(questions)
        self.sources[key] = source

    def find(self, chunk: Chunk) -> tuple[list[tuple[str, str]], str] | None:
        for key in ((chunk.doc_id, chunk.section_key, passage_sha(chunk.text)), (chunk.doc_id, chunk.section_key, "")):
            if key in self.entries:
                return self.entries[key], self.sources[key]
        return None

    def is_stale_for(self, chunk: Chunk) -> bool:
        """Questions exist for this section, but written for another text of it."""
        return self.find(chunk) is None and any(k[0] == chunk.doc_id and k[1] == chunk.section_key for k in self.entries)

    def keys(self) -> set[tuple[str, str, str]]:
        return set(self.entries)


def read_question_file(path: Path, *, doc_id: str = "", source: str = "") -> QuestionSource:
    """A JSON-lines questions file. Each line: {"section_key", "questions": [..]} plus optional "doc_id"
    (default: the document being added) and "text_sha" (default: whatever the section's text is now).
    A question is a string or {"type": plain|situation|search, "text": …}."""
    result = QuestionSource(str(path))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: the questions file cannot be read ({exc}). Give a UTF-8 JSON-lines file; "
                         "nothing was changed.") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = (entry.get("doc_id") or doc_id, entry["section_key"], entry.get("text_sha", ""))
            questions = [_question(q) for q in entry["questions"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}, line {n}: not a questions entry ({type(exc).__name__}: {exc}). Each line "
                             'needs {"section_key": "...", "questions": ["...", ...]}; nothing was changed.') from None
        if not key[0]:
            raise InputError(f"{path}, line {n}: no doc_id. Add \"doc_id\" to the line; nothing was changed.")
        result.add(*key, [q for q in questions if q[1]], entry.get("source") or source or f"file:{path.name}")
    return result


def _question(q) -> tuple[str, str]:
    if isinstance(q, str):
        return "other", " ".join(q.split())
    kind = q.get("type", "other")
    return (kind if kind in KINDS else "other"), " ".join(str(q["text"]).split())


def bundled_questions(corpus_dir: Path) -> QuestionSource:
    """The questions shipped beside the corpus manifest (corpus/questions/<doc_id>.jsonl)."""
    folder = corpus_dir / QUESTIONS_DIR
    merged = QuestionSource(str(folder))
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        if path.name == OUT_OF_SCOPE_FILE:
            continue
        part = read_question_file(path, source="corpus/questions")
        for key, questions in part.entries.items():
            merged.add(*key, questions, part.sources[key])
    return merged


def out_of_scope_examples(corpus_dir: Path) -> list[StoredQuestion]:
    path = corpus_dir / QUESTIONS_DIR / OUT_OF_SCOPE_FILE
    if not path.is_file():
        return []
    examples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                entry = json.loads(line)
                examples.append(StoredQuestion(text=" ".join(entry["text"].split()), chunk_id="", kind=OUT_OF_SCOPE,
                                               source=entry.get("source", "corpus/questions")))
            except (ValueError, KeyError, AttributeError) as exc:
                raise InputError(f"{path}, line {n}: not an out-of-scope example ({exc}). Each line needs "
                                 '{"text": "..."}.') from None
    return examples


@dataclass
class QuestionReport:
    chunks: int = 0
    carried: int = 0  # chunks that kept the questions they had
    provided: int = 0  # chunks whose questions came from a file or the admin
    bundled: int = 0
    generated: int = 0
    missing: int = 0  # chunks without questions (found through their text only)
    stale: int = 0  # chunks whose section has questions written for another text
    new_questions: int = 0

    def line(self) -> str:
        return (f"questions: {self.chunks - self.missing} of {self.chunks} passages covered "
                f"({self.carried} kept, {self.provided} from file, {self.bundled} bundled, {self.generated} generated; "
                f"{self.stale} stale, {self.missing} without questions), {self.new_questions} new questions embedded")


def attach_questions(store, chunks: list[Chunk], *, provided: QuestionSource | None = None,
                     bundled: QuestionSource | None = None, writer=None, progress=None) -> QuestionReport:
    """Give each chunk its questions (see the module docstring for the order) and store the new ones."""
    report = QuestionReport(chunks=len(chunks))
    have = {q.chunk_id for q in store.for_chunks([c.chunk_id for c in chunks])}
    # sections that had questions for another text (an earlier version): a new text makes them stale
    earlier = store.sections_with_questions({c.doc_id for c in chunks})
    new: list[StoredQuestion] = []
    for chunk in chunks:
        found = provided.find(chunk) if provided else None
        if found:
            questions, source = found
            store.replace(chunk.chunk_id, _stored(chunk, questions, source))
            report.provided += 1
            continue
        if chunk.chunk_id in have:
            report.carried += 1
            continue
        found = bundled.find(chunk) if bundled else None
        if found:
            new += _stored(chunk, *found)
            report.bundled += 1
            continue
        if (chunk.doc_id, chunk.section_key) in earlier or any(
                source and source.is_stale_for(chunk) for source in (provided, bundled)):
            report.stale += 1
        generated = writer(chunk) if writer else []
        if generated:
            new += _stored(chunk, generated, getattr(writer, "source", "llm"))
            report.generated += 1
        else:
            report.missing += 1
    report.new_questions = store.add(new, progress=progress)
    return report


def _stored(chunk: Chunk, questions: list[tuple[str, str]], source: str) -> list[StoredQuestion]:
    return [StoredQuestion(text=text, chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, section_key=chunk.section_key,
                           kind=kind, source=source) for kind, text in questions if text]


def question_coverage(lib) -> list[str]:
    """Lines for `ingest status`: per version in force, how many passages have questions, and how many
    bundled entries no longer match their passage's text (stale)."""
    lines = ["Question index: "
             f"{lib.questions.count()} questions and out-of-scope examples stored"]
    bundled = bundled_questions(lib.settings.corpus_dir)
    stored_keys = set()
    for doc_id, v in sorted(lib.registry.in_force().items()):
        chunks, _ = lib.store.load(lib.registry.chunk_ids(doc_id, v.version))
        covered = {q.chunk_id for q in lib.questions.for_chunks([c.chunk_id for c in chunks])}
        stored_keys |= {(c.doc_id, c.section_key, passage_sha(c.text)) for c in chunks}
        share = f"{100 * len(covered) / len(chunks):.0f} %" if chunks else "-"
        lines.append(f"  {doc_id:32} {v.version:12} {len(covered):5} of {len(chunks):5} passages with questions ({share})")
    in_force = set(lib.registry.in_force())
    stale = [k for k in bundled.keys() if k[0] in in_force and k not in stored_keys]
    if stale:
        lines.append(f"  {len(stale)} bundled question entries are stale (their passage text changed), e.g. "
                     + ", ".join(f"{d} {s}" for d, s, _ in sorted(stale)[:5]))
    return lines
