"""Version-aware parts of answering: which version a question is about, what changed, and notes
on cited sections that changed with the version in force."""
from __future__ import annotations

from assistant.records import Answer, Citation, DocumentVersion, Hit
from assistant.retrieval.ranking import Query, Retriever
from assistant.text.sentences import split_sentences
from assistant.question.analysis import QuestionAnalysis
from assistant.answering.versions import DiffCache, previous_version


def version_filters(retriever: Retriever, question: QuestionAnalysis, filters: dict) -> dict:
    """Filters for a question about an earlier state: a date it names, or the version before the
    one in force ("Was galt vor der Änderung …?"). Explicit filters from the caller win."""
    if "as_of" in filters or "versions" in filters:
        return filters
    day = question.asked_date
    if day:
        return {**filters, "as_of": day}
    if question.asks_previous_version:
        snap = retriever.snapshot()
        current = retriever.selected_versions(Query(""), snap)
        earlier = [previous_version(snap.versions.values(), v) for v in current.values()]
        chosen = tuple((v.doc_id, v.version) for v in earlier if v)
        if chosen:
            return {**filters, "versions": chosen}
    return filters


def _documents_with_history(retriever: Retriever, question: QuestionAnalysis) -> list[tuple[DocumentVersion, DocumentVersion]]:
    snap = retriever.snapshot()
    pairs = []
    for v in retriever.selected_versions(Query(""), snap).values():
        prev = previous_version(snap.versions.values(), v)
        if prev:
            pairs.append((prev, v))
    # a question naming the guideline (or a document's short name) is about that document
    named = [p for p in pairs if "leitlinie" in question.text.lower() and p[1].kind == "guideline"
             or p[1].short.lower() in question.text.lower()]
    return named or pairs


def changes_answer(retriever: Retriever, diffs: DiffCache, question: QuestionAnalysis) -> Answer | None:
    """ "Was hat sich in der neuen Fassung geändert?": answered from the section-level diff."""
    if not question.asks_changes:
        return None
    pairs = _documents_with_history(retriever, question)
    if not pairs:
        return None
    old, new = pairs[0]
    snap = retriever.snapshot()
    diff = diffs.diff(snap, new.doc_id, old.version, new.version)
    if not diff.changes:
        return None
    citations, parts, hits = [], [], []
    for n, change in enumerate(diff.changes[:8], start=1):
        chunk, version = _chunk_of(snap, old if change.kind == "removed" else new, change)
        hit = Hit(chunk=chunk, version=version.version, valid_from=version.valid_from, title=version.title,
                  score=1.0, rank=n)
        hits.append(hit)
        quote = _changed_sentence(chunk.text, change)
        citations.append(Citation(n, chunk.doc_id, version.title, chunk.label, chunk.section_key, chunk.chunk_id,
                                  version.version, version.valid_from, chunk.page, "", quote))
        kind = {"added": "ist neu hinzugekommen", "removed": "ist entfallen", "changed": "wurde geändert"}[change.kind]
        parts.append(f"{change.label} {kind}: „{quote}“ [{n}]")
    head = (f"Die Fassung {new.version} (gültig ab {new.valid_from}) von „{new.title}“ ändert gegenüber der Fassung "
            f"{old.version}: {diff.count('added')} neue, {diff.count('changed')} geänderte und "
            f"{diff.count('removed')} entfallene Abschnitte.")
    return Answer(text="\n\n".join([head, *parts]), refused=False, mode="extractive", citations=tuple(citations),
                  retrieved=tuple(hits), notes=(f"Vollständiger Bericht: python -m ingest diff {new.doc_id}",))


def _chunk_of(snap, version: DocumentVersion, change):
    """The piece of the section that carries the change (its first piece when nothing was added)."""
    pieces = sorted((snap.chunks[r] for r in snap.rows.get((version.doc_id, version.version), [])
                     if snap.chunks[r].section_key == change.key), key=lambda c: c.index)
    added = [t for op, t in change.words if op == "+"]
    for piece in pieces:
        if any(a in " ".join(piece.text.split()) for a in added):
            return piece, version
    return pieces[0], version


def _changed_sentence(text: str, change) -> str:
    """The sentence of the section that carries the change (verbatim), else its first sentence."""
    sentences = split_sentences(text) or [text]
    added = [t for op, t in change.words if op == "+"]
    for sentence in sentences:
        if any(a in sentence for a in added):
            return sentence
    return sentences[0]


def change_notes(retriever: Retriever, diffs: DiffCache, citations) -> tuple[str, ...]:
    """A note for every cited section that changed in its version relative to the previous one."""
    snap = retriever.snapshot()
    notes = []
    for c in citations:
        current = snap.versions.get((c.doc_id, c.version))
        prev = previous_version(snap.versions.values(), current) if current else None
        if prev and c.section_key in diffs.diff(snap, c.doc_id, prev.version, c.version).changed_keys():
            notes.append(f"{c.section} wurde mit der Fassung {c.version} gegenüber der Fassung {prev.version} geändert "
                         "oder neu eingefügt.")
    return tuple(dict.fromkeys(notes))
