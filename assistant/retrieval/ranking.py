"""Hybrid retrieval: German BM25 + exact dense (e5) scores + coordination (how much of the question a
passage contains), fused by weighted reciprocal rank, with the article around each passage scored too.
A question of several sentences is also searched sentence by sentence. docs/retrieval.md has the
measurements behind each part.

Dense scores are computed exactly over the in-memory embedding matrix (a few thousand chunks), so
results are identical across runs and rebuilds, and filters (version in force, document, kind) are a
row mask rather than an approximate pre-filter.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace

import numpy as np

from assistant.labels import key_matches
from assistant.question.analysis import QuestionAnalysis, analyse, question_parts
from assistant.question.glossary import expand
from assistant.records import Chunk, DocumentVersion, Hit
from assistant.retrieval.snapshot import Snapshot, build_snapshot
from assistant.storage.library import Library

log = logging.getLogger(__name__)

RRF_K = 60
GROUP_WEIGHT = 0.25
SENTENCE_MIX = 0.5
USE_GLOSSARY = True
DENSE_GLOSSARY = True
DEFINITION_BOOST = 0.05
FOLLOW_UP_ALONE = 0.5
# a third ranked list besides dense and BM25: how much of the question a passage contains (coordination)
COORDINATION_WEIGHT = 0.5
# "Wir möchten Bewerbungen vorsortieren. Ist das ein Hochrisiko-System?": the scenario and the question are
# also searched on their own, so that the question's general words do not drown the scenario's
QUESTION_PARTS_WEIGHT = 0.5
EXPLICIT_MENTION = 1.0 / RRF_K
# "Ab wann gilt …?", "Bis wann müssen …?": the answer is a date, so passages that state one move up
DATE_BOOST = 0.5
# the question index: a passage ranks by the best of the questions written for it (corpus/questions)
QUESTION_WEIGHT = 2.0
QUESTION_K = RRF_K
# how many nearest questions (passage questions and out-of-scope examples together) the gate looks at
GATE_NEIGHBOURS = 10
QUESTION_GLOSSARY = False  # questions are compared with questions as asked, without the glossary's terms


@dataclass(frozen=True)
class Query:
    """A question with its filters. `analysis` is the question's one reading; a query built from a bare
    string (the CLI's search, benchmarks) is analysed when it is retrieved."""

    question: str
    history: tuple[str, ...] = ()
    cited_keys: tuple[tuple[str, str], ...] = ()  # (doc_id, section_key) cited in the previous turn
    doc_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    versions: tuple[tuple[str, str], ...] = ()  # explicit (doc_id, version) choices
    as_of: dt.date | None = None
    analysis: QuestionAnalysis | None = None


class Retriever:
    MODES = ("hybrid", "dense", "lexical")

    def __init__(self, lib: Library, *, clock=dt.date.today, mode: str = "hybrid", staged: tuple = (),
                 questions: bool = True):
        if mode not in self.MODES:
            raise ValueError(f"retrieval mode {mode!r} is not one of {self.MODES}")
        self.mode = mode
        self.questions = questions  # the question index as a ranked list (hybrid mode); off for the ablation
        self.staged = set(staged)  # (doc_id, version) pairs treated as active: the eval gate on re-ingest
        self.lib = lib
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._rows_cache: tuple[int, dict] = (-1, {})

    def snapshot(self) -> Snapshot:
        """The current snapshot; rebuilt when another process changed the registry."""
        generation = self.lib.registry.generation()
        with self._lock:
            if self._snapshot is None or self._snapshot.generation != generation:
                if self._snapshot is not None:
                    self.lib.store.reopen()  # another process wrote: read its chunks, not a cached view
                self._snapshot = build_snapshot(self.lib)
            return self._snapshot

    def selected_versions(self, query: Query, snap: Snapshot | None = None) -> dict[str, DocumentVersion]:
        """Per document, the version to answer from: an explicit choice, else the one in force."""
        snap = snap or self.snapshot()
        day = (query.as_of or self.clock()).isoformat()
        chosen: dict[str, DocumentVersion] = {}
        for v in snap.versions.values():
            if (v.state == "active" or (v.doc_id, v.version) in self.staged) and v.valid_from <= day:
                best = chosen.get(v.doc_id)
                if best is None or (v.valid_from, v.version) > (best.valid_from, best.version):
                    chosen[v.doc_id] = v
        for doc_id, version in query.versions:
            if (doc_id, version) in snap.versions:
                chosen[doc_id] = snap.versions[(doc_id, version)]
        if query.doc_ids:
            chosen = {d: v for d, v in chosen.items() if d in query.doc_ids}
        if query.kinds:
            chosen = {d: v for d, v in chosen.items() if v.kind in query.kinds}
        return chosen

    def dense_scores(self, snap: Snapshot, q_vec: np.ndarray) -> np.ndarray:
        """Per chunk: its own similarity, mixed with its best sentence's (a long passage whose one
        sentence answers the question is not diluted by the rest)."""
        whole = snap.matrix @ q_vec
        if SENTENCE_MIX == 0:
            return whole
        best = _sentence_max(snap, q_vec)
        best = np.where(best < 0, whole, best)
        return (1 - SENTENCE_MIX) * whole + SENTENCE_MIX * best

    def _score(self, snap: Snapshot, rows: np.ndarray, text: str, coverage: float):
        """Fused relevance of the candidate rows for one query text, plus its sentences searched alone."""
        texts = [text, *(question_parts(text) if QUESTION_PARTS_WEIGHT else [])]
        # one batch: the texts as the passages are searched (with the glossary's terms), and the whole text as
        # it is compared with the question index's questions (as asked; the same text without glossary terms)
        vectors = self.lib.embedder.encode_queries([dense_query_text(t) for t in texts] + [_as_asked(text)])
        fused, dense, lexical, signals = self._score_text(snap, rows, text, vectors[0], vectors[-1], coverage)
        for part, vector in zip(texts[1:], vectors[1:-1]):
            fused = fused + QUESTION_PARTS_WEIGHT * self._score_text(snap, rows, part, vector, None, coverage)[0]
        return fused, dense, lexical, signals

    def _score_text(self, snap: Snapshot, rows: np.ndarray, text: str, q_vec: np.ndarray, asked: np.ndarray | None,
                    coverage: float):
        """Fused relevance of the candidate rows for one query text (dense, lexical, coordination, article)."""
        expansion = expand(text) if USE_GLOSSARY else ""
        dense = self.dense_scores(snap, q_vec)[rows]
        # no word runs across a space: the tokens of "text expansion" are the text's followed by the expansion's
        own_tokens = snap.lexical.query_tokens(text)
        q_tokens = own_tokens + snap.lexical.query_tokens(expansion)
        lexical = snap.lexical.scores(q_tokens)[rows]
        fused, signals = fuse(dense, lexical, coverage, mode=self.mode)
        if COORDINATION_WEIGHT:
            # the question's own words only (the glossary's added terms are alternatives, not requirements);
            # equal shares are ordered by the other list of the mode
            share = snap.lexical.coordination(own_tokens)[rows]
            tie = lexical / (lexical.max() or 1.0) if self.mode == "lexical" else dense
            weight = COORDINATION_WEIGHT * lexical_weight(coverage, self.mode)
            fused = fused + weight / (RRF_K + _ranks(share + 0.001 * tie))
        # the article around a passage matters too: a paraphrased question often matches the article
        # as a whole better than any single Absatz of it
        group_rows = snap.groups[rows]
        g_dense = (snap.group_matrix @ q_vec)[group_rows]
        g_lex = snap.group_lexical.scores(q_tokens)[group_rows]
        g_fused, _ = fuse(g_dense, g_lex, coverage, mode=self.mode)
        fused = fused + GROUP_WEIGHT * g_fused
        if asked is not None and self.questions and self.mode == "hybrid" and len(snap.question_rows):
            best = question_max(snap, asked)[rows]
            # a passage without questions (a new guideline before any were written) takes part with its text:
            # its rank in this list is its dense rank, so it is not pushed down by passages that have questions
            ranks = np.where(best > -1, _ranks(best), signals["dense_rank"])
            fused = fused + QUESTION_WEIGHT / (QUESTION_K + ranks)
        return fused, dense, lexical, signals

    def _defines(self, snap: Snapshot, rows: np.ndarray, question: QuestionAnalysis) -> np.ndarray:
        """1 for the definition(s) of the longest defined term the question names, else 0."""
        asked = set(question.tokens)
        sizes = np.zeros(len(rows))
        named = [(r, len(terms)) for r, terms in snap.definitions.items() if terms <= asked]
        if named and len(rows):
            wanted = np.array([r for r, _ in named])
            at = np.minimum(np.searchsorted(rows, wanted), len(rows) - 1)  # rows is sorted
            found = rows[at] == wanted
            sizes[at[found]] = np.array([n for _, n in named])[found]
        return (sizes == sizes.max()).astype(float) if sizes.max() > 0 else np.zeros(len(rows))

    def _rows(self, snap: Snapshot, keys: tuple) -> np.ndarray:
        """The sorted chunk rows of these versions (the same few combinations come up again and again)."""
        generation, cache = self._rows_cache
        if generation != snap.generation:  # a new dict, never cleared under another thread's feet
            cache = {}
            self._rows_cache = (snap.generation, cache)
        rows = cache.get(keys)
        if rows is None:
            rows = cache[keys] = np.unique(np.concatenate([snap.rows[key] for key in keys]))
        return rows

    def search(self, question: str, *, k: int = 10, **filters) -> list[Hit]:
        return self.retrieve(Query(question, **filters), k=k)

    def retrieve(self, query: Query, *, k: int = 10) -> list[Hit]:
        snap = self.snapshot()
        q = query.analysis or analyse(query.question, query.history, max_chars=self.lib.settings.max_question_chars)
        chosen = self.selected_versions(query, snap)
        if not chosen:
            return []
        rows = self._rows(snap, tuple(sorted((v.doc_id, v.version) for v in chosen.values())))
        if rows.size == 0:
            return []
        coverage = snap.lexical.coverage(snap.lexical.query_tokens(q.text))
        # a question whose own words are foreign to the documents ("Was gibt es heute in der Kantine?")
        # starts a new topic even after a conversation about AI systems
        follow_up = q.follow_up and (coverage >= 0.25 or not q.german)
        if follow_up:
            # a follow-up is searched in the context of the previous question and on its own
            # ("Ab wann gilt dieses Verbot?" is about dates as much as about the prohibition)
            fused, dense, lexical, signals = self._score(snap, rows, q.resolved_text, coverage)
            alone, *_ = self._score(snap, rows, q.text, coverage)
            fused = fused + FOLLOW_UP_ALONE * alone
        else:
            fused, dense, lexical, signals = self._score(snap, rows, q.text, coverage)
        fused = fused * snap.weight[rows]
        if DATE_BOOST and q.asks_when:
            fused = fused * (1.0 + DATE_BOOST * snap.dated[rows])
        if follow_up and query.cited_keys:
            same = np.array([any(c.doc_id == d and c.section_key.split("/")[0] == key.split("/")[0]
                                 for d, key in query.cited_keys) for c in map(snap.chunks.__getitem__, rows)])
            fused = fused + same * (0.5 / RRF_K)
        if DEFINITION_BOOST and q.asks_definition:
            fused = fused + DEFINITION_BOOST * self._defines(snap, rows, q)
        references = q.references
        explicit = np.zeros(len(rows), dtype=bool)
        if references:
            explicit = np.array([any(key_matches(ref, c.section_key) for ref in references)
                                 for c in map(snap.chunks.__getitem__, rows)])
            # "Was steht in Art. 50 Abs. 4?" wants that section first; "ein Hochrisiko-System nach
            # Anhang III" only narrows the topic, so there the named sections merely move up
            fused = fused + explicit * (1.0 if q.about_section else EXPLICIT_MENTION)
        order = np.lexsort((np.arange(len(rows)), -fused))[:k]
        # the gate reads the question as retrieval understood it: a follow-up together with its predecessor
        q_vec = self.lib.embedder.encode_queries([_as_asked(q.resolved_text if follow_up else q.text)])[0]
        # the gate asks whether the documents cover the question at all: a document filter does not narrow it
        everything = self.selected_versions(replace(query, doc_ids=(), kinds=()), snap)
        gate = answerability(snap, self._rows(snap, tuple(sorted((v.doc_id, v.version) for v in everything.values()))),
                             q_vec)
        by_question = question_max(snap, q_vec)
        hits = []
        for rank, i in enumerate(order, start=1):
            c = snap.chunks[rows[i]]
            v = chosen[c.doc_id]
            hits.append(Hit(chunk=c, version=v.version, valid_from=v.valid_from, title=v.title,
                            score=float(fused[i]), rank=rank, url=_url(v, c),
                            signals={"dense": round(float(dense[i]), 4), "bm25": round(float(lexical[i]), 3),
                                     "dense_rank": int(signals["dense_rank"][i]),
                                     "lexical_rank": int(signals["lexical_rank"][i]),
                                     "explicit": bool(explicit[i]), "coverage": round(coverage, 3),
                                     "follow_up": follow_up, "question": round(float(by_question[rows[i]]), 4),
                                     **gate}))
        return hits


def question_max(snap: Snapshot, q_vec: np.ndarray) -> np.ndarray:
    """Per chunk row: the similarity of its best question, -1 for a chunk without questions."""
    best = np.full(len(snap.chunks), -1.0, dtype=np.float32)
    if len(snap.question_rows):
        np.maximum.at(best, snap.question_rows, snap.question_matrix @ q_vec)
    return best


def answerability(snap: Snapshot, rows: np.ndarray, q_vec: np.ndarray) -> dict:
    """How close the question is to the questions the selected passages answer, and to the examples of
    questions the documents do not cover: the best similarity of each, and the share of out-of-scope
    examples among the nearest GATE_NEIGHBOURS of both together."""
    own = snap.question_matrix[np.isin(snap.question_rows, rows)] @ q_vec if len(snap.question_rows) else np.zeros(0)
    other = snap.out_of_scope @ q_vec if len(snap.out_of_scope) else np.zeros(0)
    if not len(own) and not len(other):
        return {}
    pooled = np.concatenate([own, other])
    nearest = np.argsort(-pooled, kind="stable")[:GATE_NEIGHBOURS]
    return {"question_best": round(float(own.max()) if len(own) else 0.0, 4),
            "out_of_scope_best": round(float(other.max()) if len(other) else 0.0, 4),
            "out_of_scope_share": round(float(np.mean(nearest >= len(own))), 2)}


def _sentence_max(snap: Snapshot, q_vec: np.ndarray) -> np.ndarray:
    best = np.full(len(snap.chunks), -1.0, dtype=np.float32)
    if len(snap.sentences):
        np.maximum.at(best, snap.sentence_rows, snap.sentence_matrix @ q_vec)
    return best


def fuse(dense: np.ndarray, lexical: np.ndarray, coverage: float, mode: str = "hybrid") -> tuple[np.ndarray, dict]:
    """Weighted reciprocal-rank fusion; the lexical weight follows how much of the query the corpus knows
    (an English question has almost no German terms to match, and BM25 would only add noise)."""
    dense_rank = _ranks(dense)
    lexical_rank = _ranks(lexical)
    lexical_rank = np.where(lexical > 0, lexical_rank, len(lexical) + 1)
    w_dense = 0.0 if mode == "lexical" else 1.0
    fused = w_dense / (RRF_K + dense_rank) + lexical_weight(coverage, mode) / (RRF_K + lexical_rank)
    return fused, {"dense_rank": dense_rank, "lexical_rank": lexical_rank}



def lexical_weight(coverage: float, mode: str = "hybrid") -> float:
    """How much the lexical lists count: in hybrid mode, by how much of the query the corpus knows."""
    if mode == "dense":
        return 0.0
    if mode == "lexical":
        return 1.0
    return min(1.0, max(0.0, (coverage - 0.3) / 0.5))


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def _as_asked(text: str) -> str:
    return dense_query_text(text) if QUESTION_GLOSSARY else text


def dense_query_text(text: str) -> str:
    """What the embedding model reads for a question: the question and the legal terms for its everyday
    words. Answer sentences are scored with the same text, so its vector is computed once."""
    expansion = expand(text) if USE_GLOSSARY and DENSE_GLOSSARY else ""
    return f"{text} ({expansion})" if expansion else text


def _url(v: DocumentVersion, c: Chunk) -> str:
    if not v.url:
        return ""
    return v.url + c.anchor if c.anchor and "#" not in v.url else v.url
