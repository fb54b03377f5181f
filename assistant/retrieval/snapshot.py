"""What retrieval reads from the index, loaded once per registry generation: chunks, their vectors and
sentence vectors, the lexical indexes over chunks and over the article around them, and per-row facts
(recital weight, stated dates, defined terms)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.records import Chunk, DocumentVersion
from assistant.retrieval.lexical import LexicalIndex
from assistant.storage.library import Library
from assistant.text.sentences import split_sentences
from assistant.text.words import content_words, tokens

RECITAL_FACTOR = 0.7  # recitals interpret, articles bind: an equally good article comes first
_DEFINED_TERM = re.compile(r"^\d+\.\s+„([^“]{2,80})“")
_DATE = re.compile(r"\b\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
                   r"Dezember) \d{4}\b")


@dataclass
class Snapshot:
    """Everything retrieval needs, loaded once per registry generation."""

    generation: int
    chunks: list[Chunk]
    matrix: np.ndarray
    lexical: LexicalIndex
    versions: dict[tuple[str, str], DocumentVersion]
    rows: dict[tuple[str, str], np.ndarray]  # (doc_id, version) -> chunk rows
    groups: np.ndarray  # per chunk row: index of its article / recital / annex group
    group_matrix: np.ndarray  # per group: normalised mean of its chunk vectors
    group_lexical: LexicalIndex
    sentences: list[str]  # every sentence of every chunk (for max-sim scoring and extractive answers)
    sentence_rows: np.ndarray  # chunk row of each sentence
    sentence_matrix: np.ndarray
    definitions: dict[int, frozenset]  # chunk row -> tokens of the term it defines ("„KI-System“ …")
    dated: np.ndarray  # per chunk row: 1.0 when its text names a calendar date ("2. August 2026")
    weight: np.ndarray  # per chunk row: RECITAL_FACTOR for recitals, else 1.0
    question_matrix: np.ndarray  # the question index: one vector per question of a stored chunk
    question_rows: np.ndarray  # chunk row of each of those questions
    out_of_scope: np.ndarray  # vectors of the out-of-scope examples


def build_snapshot(lib: Library) -> Snapshot:
    generation = lib.registry.generation()
    versions = {(v.doc_id, v.version): v for v in lib.registry.versions()}
    chunks, matrix = lib.store.load()
    row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
    rows = {key: np.array(sorted(row_of[c] for c in lib.registry.chunk_ids(*key) if c in row_of), dtype=np.int64)
            for key in versions}
    titles = {v.doc_id: v.title for v in versions.values()}
    names: dict[tuple[str, str], int] = {}
    groups = np.array([names.setdefault((c.doc_id, group_key(c.section_key)), len(names)) for c in chunks], dtype=np.int64)
    group_matrix = np.zeros((len(names), matrix.shape[1] if len(matrix) else 384), dtype=np.float32)
    for row, g in enumerate(groups):
        group_matrix[g] += matrix[row]
    group_matrix /= np.maximum(np.linalg.norm(group_matrix, axis=1, keepdims=True), 1e-9)
    lexical, group_lexical = lexical_indexes(chunks, titles, groups, len(names))
    sentences, sentence_rows = [], []
    for row, c in enumerate(chunks):
        for sentence in split_sentences(c.text):
            sentences.append(sentence)
            sentence_rows.append(row)
    # computed at ingest; served from the embedding cache
    sentence_matrix = lib.embedder.encode_passages(sentences)
    definitions = {}
    for row, c in enumerate(chunks):
        m = _DEFINED_TERM.match(c.text)
        if m and c.index == 0:
            definitions[row] = frozenset(tokens(m.group(1)))
    questions, question_vectors = lib.questions.load()
    own = [i for i, q in enumerate(questions) if q.chunk_id in row_of]
    examples = [i for i, q in enumerate(questions) if not q.chunk_id]
    return Snapshot(generation, chunks, matrix, lexical, versions, rows, groups, group_matrix, group_lexical,
                    sentences, np.array(sentence_rows, dtype=np.int64), sentence_matrix, definitions,
                    np.array([1.0 if states_date(c.text) else 0.0 for c in chunks]),
                    np.array([RECITAL_FACTOR if c.kind == "recital" else 1.0 for c in chunks]),
                    question_vectors[own], np.array([row_of[questions[i].chunk_id] for i in own], dtype=np.int64),
                    question_vectors[examples])


def lexical_indexes(chunks: list[Chunk], titles: dict[str, str], groups: np.ndarray,
                    n_groups: int) -> tuple[LexicalIndex, LexicalIndex]:
    """BM25 over each chunk's embedding text, and over each group's chunk texts joined by spaces.

    Both are built from one word split per chunk text: the embedding text is "heading\ntext" and no word
    runs across a line break or a space, so its words are the heading's words followed by the text's,
    and a group's words are its chunks' words in row order (tests/test_lexical.py checks this)."""
    heads: dict[str, list[str]] = {}  # a heading is repeated by every chunk of its section
    chunk_words: list[list[str]] = []
    group_words: list[list[str]] = [[] for _ in range(n_groups)]
    for c, g in zip(chunks, groups):
        full = c.embedding_text(titles.get(c.doc_id, ""))
        text = content_words(c.text)
        if full.endswith(c.text):
            head = full[:len(full) - len(c.text)]
            if head not in heads:
                heads[head] = content_words(head)
            chunk_words.append(heads[head] + text)
        else:
            chunk_words.append(content_words(full))
        group_words[g].extend(text)
    return LexicalIndex.from_words(chunk_words), LexicalIndex.from_words(group_words)


def group_key(section_key: str) -> str:
    """The article, recital, annex item or guideline chapter a section belongs to."""
    head = section_key.split("/")[0].split("~")[0]
    if head.startswith("ziff-"):
        return head.split(".")[0]
    if head.startswith("anh-") and "/nr-" in section_key and section_key.startswith("anh-III"):
        return "/".join(section_key.split("/")[:2])
    return head


def states_date(text: str) -> bool:
    """The text names a calendar date ("2. August 2026")."""
    return bool(_DATE.search(text))
