"""Grounded extractive answers with citations, or a refusal that says what the documents cover.

The answer is made of sentences copied verbatim from the retrieved passages: each sentence is scored
against the question with the embedding model (vectors computed at ingest) plus lexical overlap of the
question's content words. The best sentence of the best-ranked passage comes first, then the best of
the rest (1-4 sentences from at most three passages), each passage's sentences in document order, with
markers [1], [2]. A cited introduction of a list ("… folgende Informationen:") is followed by one of its
items, which are passages of their own.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

import numpy as np

from assistant.answering.refusal import RefusalModel, out_of_scope, refusal_features
from assistant.answering.version_answers import change_notes, changes_answer, version_filters
from assistant.answering.versions import DiffCache
from assistant.question.analysis import QuestionAnalysis, analyse
from assistant.records import Answer, Citation, Hit
from assistant.retrieval.ranking import Query, Retriever, dense_query_text
from assistant.retrieval.snapshot import states_date
from assistant.text.sentences import split_sentences
from assistant.text.words import tokens

MAX_SENTENCES = 4
NO_GUIDELINE = ("Die Leitlinien zur konformen Nutzung von LLMs in der Landesverwaltung sind noch nicht hinterlegt; "
                "Fragen zu ihrem Inhalt kann ich erst beantworten, wenn das MASTD sie eingestellt hat.")
CANDIDATE_PASSAGES = 5
# a "wann" question is answered by a sentence that states a date: it gets more than the 0.04 within which
# sentences join the answer (dev: fact coverage 0.750 -> 0.767)
DATE_SENTENCE = 0.05
_MARKER = re.compile(r"^(?:\(\d+[a-z]?\)|[a-z]\)|[ivx]+\)|\d+\.)\s+")


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer | None = None


@dataclass(frozen=True)
class _Context:
    """What answer sentences are scored against: the question, or with a follow-up the previous question
    and this one together."""

    text: str
    tokens: tuple[str, ...]
    asks_when: bool


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    sentence: str
    position: int
    score: float


class Answerer:
    def __init__(self, retriever: Retriever, *, refusal: RefusalModel | None = None, k: int = 10):
        self.retriever = retriever
        self.refusal = refusal or RefusalModel()
        self.k = k
        self.diffs = DiffCache()

    def answer(self, question: str, history: list[Turn] | tuple = (), **filters) -> Answer:
        started = time.perf_counter()
        previous = [t for t in history if t.question]
        q = analyse(question, tuple(t.question for t in previous), max_chars=self.retriever.lib.settings.max_question_chars)
        changes = changes_answer(self.retriever, self.diffs, q) if not filters else None
        if changes is not None:
            return replace(changes, timings_ms={"retrieve": 0.0, "answer": round(1000 * (time.perf_counter() - started), 1)})
        filters = version_filters(self.retriever, q, filters)
        cited = ()
        if previous and previous[-1].answer is not None:
            cited = tuple((c.doc_id, c.section_key) for c in previous[-1].answer.citations)
        query = Query(q.text, history=tuple(t.question for t in previous), cited_keys=cited, analysis=q, **filters)
        hits = self.retriever.retrieve(query, k=self.k)
        retrieved_at = time.perf_counter()
        follow_up = bool(hits) and bool(hits[0].signals.get("follow_up"))
        context = _Context(q.resolved_text, q.resolved_tokens, q.asks_when_in_context) if follow_up else \
            _Context(q.text, q.tokens, q.asks_when)
        candidates = self._score_sentences(context, hits)
        features = refusal_features(q, hits, candidates, self.retriever)
        refused = not hits or self.refusal.refuse(features)
        no_guideline = self._asks_missing_guideline(q, query)
        if no_guideline and q.asks_guideline_content:
            # what the Leitlinien say is not answered from other documents as if they were the state's rules
            refused = True
        if refused:
            answer = self._refusal(hits, features, no_guideline=no_guideline, unrelated=out_of_scope(features))
        else:
            answer = self._compose(candidates, hits, context)
            if no_guideline:
                answer = replace(answer, notes=answer.notes + (NO_GUIDELINE,))
        done = time.perf_counter()
        timings = {"retrieve": round(1000 * (retrieved_at - started), 1), "answer": round(1000 * (done - retrieved_at), 1)}
        notes = answer.notes + change_notes(self.retriever, self.diffs, answer.citations)
        return Answer(text=answer.text, refused=answer.refused, mode="extractive", citations=answer.citations,
                      retrieved=tuple(hits), notes=notes, timings_ms=timings, signals=features,
                      related=answer.related)

    def _score_sentences(self, question: _Context, hits: list[Hit]) -> list[Candidate]:
        named = [h for h in hits[:CANDIDATE_PASSAGES] if h.signals.get("explicit")]
        if named:  # "Was steht in Art. 50 Abs. 4?": the answer is that section's text, in order
            sentences = [s for s in split_sentences(named[0].chunk.text) if len(s.split()) >= 3] or [named[0].chunk.text]
            return [Candidate(named[0], s, i, 2.0 - 0.001 * i) for i, s in enumerate(sentences[:MAX_SENTENCES])]
        return self._scored(question, hits[:CANDIDATE_PASSAGES])

    def _scored(self, question: _Context, hits: list[Hit]) -> list[Candidate]:
        """The sentences of these passages, best first."""
        pool = [(h, i, s) for h in hits for i, s in enumerate(split_sentences(h.chunk.text)) if len(s.split()) >= 3]
        if not pool:
            return []
        embedder = self.retriever.lib.embedder
        q_vec = embedder.encode_queries([dense_query_text(question.text)])[0]
        s_vecs = embedder.encode_passages([s for _, _, s in pool])
        dense = s_vecs @ q_vec
        q_terms = set(question.tokens)
        when = question.asks_when
        out = []
        for (hit, pos, sentence), d in zip(pool, dense):
            overlap = len(q_terms & set(tokens(sentence))) / len(q_terms) if q_terms else 0.0
            prior = 0.02 * (CANDIDATE_PASSAGES - hit.rank) / CANDIDATE_PASSAGES
            dated = DATE_SENTENCE if when and states_date(sentence) else 0.0
            out.append(Candidate(hit, sentence, pos, float(d) + 0.15 * overlap + prior + dated))
        return sorted(out, key=lambda c: -c.score)

    def _compose(self, candidates: list[Candidate], hits: list[Hit], question: _Context) -> Answer:
        # the best-ranked passage always leads the answer: its rank weighs more evidence (exact terms, the
        # article around it, definitions, dates) than the similarity of any single sentence
        lead = next((c for c in candidates if c.hit.chunk.chunk_id == hits[0].chunk.chunk_id), None)
        if lead is not None and lead is not candidates[0]:
            candidates = [replace(lead, score=candidates[0].score), *(c for c in candidates if c is not lead)]
        best = candidates[0].score
        chosen = [c for c in candidates[:8] if c.score >= best - 0.04][:MAX_SENTENCES]
        # at most three passages, and the best passage's sentences first
        passages: list[str] = []
        for c in chosen:
            if c.hit.chunk.chunk_id not in passages and len(passages) < 3:
                passages.append(c.hit.chunk.chunk_id)
        chosen = [c for c in chosen if c.hit.chunk.chunk_id in passages]
        chosen += self._list_items(chosen, hits, passages, question)
        chosen.sort(key=lambda c: (passages.index(c.hit.chunk.chunk_id), c.position))
        citations, parts = [], []
        for n, cid in enumerate(passages, start=1):
            group = [c for c in chosen if c.hit.chunk.chunk_id == cid]
            hit = group[0].hit
            quote = " ".join(c.sentence for c in group)
            citations.append(_citation(n, hit, quote))
            parts.append(" ".join(_readable(c.sentence) for c in group) + f" [{n}]")
        return Answer(text="\n\n".join(parts), refused=False, mode="extractive", citations=tuple(citations),
                      retrieved=tuple(hits), notes=_notes(citations))

    def _list_items(self, chosen: list[Candidate], hits: list[Hit], passages: list[str],
                    question: _Context) -> list[Candidate]:
        """"Folgende Praktiken sind verboten:" says nothing without its items, which are passages of their
        own: after such an introduction comes the best sentence of its retrieved items, as one more
        citation. `passages` is extended in place."""
        added = []
        for c in [c for c in chosen if _introduces_list(c.hit.chunk)]:
            intro = c.hit.chunk
            items = [h for h in hits if h.chunk.doc_id == intro.doc_id and h.chunk.section_key.startswith(intro.section_key + "/")]
            cited = [h.chunk.chunk_id for h in items if h.chunk.chunk_id in passages]
            if not cited:
                if c.hit.signals.get("explicit") and items:  # "Was steht in Art. 5 Abs. 1?": from its start
                    items = [min(items, key=lambda h: (h.chunk.section_key, h.chunk.index))]
                best = self._scored(question, items)[:1]
                added += best
                cited = [b.hit.chunk.chunk_id for b in best]
            for chunk_id in reversed(cited):  # the items right after their introduction
                if chunk_id in passages:
                    passages.remove(chunk_id)
                passages.insert(passages.index(intro.chunk_id) + 1, chunk_id)
        return added

    def _asks_missing_guideline(self, question: QuestionAnalysis, query: Query) -> bool:
        if not question.names_guideline:
            return False
        return not any(v.kind == "guideline" for v in self.retriever.selected_versions(query).values())

    def _refusal(self, hits: list[Hit], features: dict, *, no_guideline: bool = False, unrelated: bool = False) -> Answer:
        """The refusal with the documents searched; possibly related passages only when the question is
        about the documents' subject at all (`unrelated`: the question index's gate found it is not)."""
        covered = ", ".join(sorted({h.title for h in hits[:10]})) or "keine Dokumente"
        text = ("Dazu enthalten die hinterlegten Dokumente keine Aussage, auf die ich eine Antwort stützen kann. "
                "Ich beantworte Fragen zur KI-Verordnung (EU) 2024/1689, zum Ministerratsbeschluss zum "
                "„Ökosystem KI“ und zu den hinterlegten Leitlinien – jeweils mit Fundstelle.")
        if no_guideline:
            text = NO_GUIDELINE + " " + text
        return Answer(text=text, refused=True, mode="extractive", citations=(), retrieved=tuple(hits),
                      notes=(f"Durchsuchte Dokumente: {covered}",), related=() if unrelated else tuple(hits[:3]))


def _introduces_list(chunk) -> bool:
    """A passage that only introduces a list ("(1) Folgende Praktiken im KI-Bereich sind verboten:")."""
    text = chunk.text.strip()
    return "\n" not in text and (text.endswith(":") or text[-1:].isalnum())


def _readable(sentence: str) -> str:
    """Drop a leading Absatz/list marker ("(6) ", "a) ") so the sentence reads as prose."""
    text = _MARKER.sub("", sentence)
    return text[:1].upper() + text[1:] if text else text


def _citation(n: int, hit: Hit, quote: str) -> Citation:
    c = hit.chunk
    return Citation(n=n, doc_id=c.doc_id, title=hit.title, section=c.label, section_key=c.section_key,
                    chunk_id=c.chunk_id, version=hit.version, valid_from=hit.valid_from, page=c.page,
                    url=hit.url, quote=quote)


def _notes(citations: list[Citation]) -> tuple[str, ...]:
    notes = []
    if any(c.doc_id == "eu-ai-act" for c in citations):
        notes.append("KI-VO in der Ursprungsfassung vom 13. Juni 2024; spätere Änderungen sind nicht berücksichtigt.")
    return tuple(notes)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)
