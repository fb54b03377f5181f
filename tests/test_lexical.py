"""The sparse BM25 index against rank_bm25's BM25Okapi, and its one-pass tokens against the two-pass ones."""
from __future__ import annotations

import re

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from assistant.retrieval.lexical import LexicalIndex
from assistant.text.words import STOPWORDS, stem, tokens, words
from assistant.retrieval.snapshot import build_snapshot, group_key
from conftest import FIXTURES
from eval.runner import DEFAULT_QUESTIONS, load_questions

GUIDELINE_PARAGRAPHS = [p for p in re.split(r"\n\s*\n", (FIXTURES / "leitlinie_v1.md").read_text(encoding="utf-8"))
                        if p.strip()]
QUESTIONS = [
    "Welche Transparenzpflichten gelten für Anbieter von KI-Systemen?",
    "Pflichten zur Transparenz bei Hochrisiko-KI-Systemen",
    "Darf ich personenbezogene Daten in ein KI-Sprachmodell eingeben?",
    "Was ist ein KI-Werkzeug und wer führt das Werkzeugverzeichnis?",
    "Werkzeugverzeichnis Werkzeugverzeichnis Schutzstufe",  # a repeated word counts twice
    "Gilt die Leitlinie auch für Praktikantinnen im Homeoffice?",
]


# ---- the tokeniser before issue 8, verbatim: the reference the faster one must agree with
_OLD_WORD = re.compile(r"\w+(?:-\w+)*")
_OLD_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def old_words(text: str) -> list[str]:
    out: list[str] = []
    for m in _OLD_WORD.finditer(text.lower().translate(_OLD_FOLD)):
        token = m.group(0)
        parts = [p for p in token.split("-") if p]
        if len(parts) > 1:
            out.append("".join(parts))
        out.extend(parts)
    return out


def old_split(stems: set[str], word: str) -> tuple[str, ...]:
    if len(word) < 10 or not word.isalpha():
        return ()
    for i in range(len(word) - 4, 3, -1):  # longest head first
        head, tail = word[:i], word[i:]
        for h in (head, head[:-1] if head.endswith("s") else None):
            if h and len(h) >= 4 and stem(h) in stems and stem(tail) in stems and len(tail) >= 4:
                return (stem(h), stem(tail))
    return ()


def old_tokens(text: str, stems: set[str] | None = None) -> list[str]:
    out: list[str] = []
    for w in old_words(text):
        if w in STOPWORDS:
            continue
        out.append(stem(w))
        if stems:
            out.extend(old_split(stems, w))
    return out


def two_pass_docs(texts: list[str]) -> list[list[str]]:
    """The tokens as LexicalIndex built them before: every text tokenised for the vocabulary, then again."""
    stems = {t for text in texts for t in old_tokens(text)}
    return [old_tokens(text, stems) for text in texts]


def rank_bm25_scores(docs: list[list[str]], query: list[str]) -> np.ndarray:
    return np.asarray(BM25Okapi(docs, k1=1.2, b=0.75).get_scores(query), dtype=np.float64)


def assert_same_scores(index: LexicalIndex, query: list[str]) -> None:
    expected = rank_bm25_scores(index.docs, query)
    np.testing.assert_allclose(index.scores(query), expected, rtol=0, atol=1e-9)


def test_words_are_those_of_the_old_tokeniser():
    text = "Hochrisiko-KI-Systeme, Maßnahmen – Übersicht: ÄNDERUNG-- -Frist GROẞE Straße_1 x-y"
    assert words(text) == old_words(text)
    assert tokens(text) == old_tokens(text)


def test_tokens_are_those_of_the_two_pass_tokenisation():
    index = LexicalIndex(GUIDELINE_PARAGRAPHS)
    assert index.docs == two_pass_docs(GUIDELINE_PARAGRAPHS)
    assert index.query_tokens("Meldefrist und Zugangsdaten") == ["meldefrist", "meld", "frist",  # closed compounds
                                                                 "zugangsdat", "zugang", "dat"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_equal_rank_bm25_on_guideline_paragraphs(question):
    index = LexicalIndex(GUIDELINE_PARAGRAPHS)
    query = index.query_tokens(question)
    assert query
    assert_same_scores(index, query)


def test_term_in_more_than_half_the_documents_gets_rank_bm25s_idf_floor():
    texts = ["KI-System Anbieter", "KI-System Betreiber", "KI-System Behörde", "Anbieter Pflichten", "Transparenz"]
    index = LexicalIndex(texts)
    query = index.query_tokens("System")  # in 3 of 5 documents: negative idf, floored at 0.25 x mean idf
    assert_same_scores(index, query)
    assert (index.scores(query)[:3] > 0).all() and (index.scores(query)[3:] == 0).all()


def test_repeated_query_token_counts_as_often_as_it_occurs():
    index = LexicalIndex(GUIDELINE_PARAGRAPHS)
    once, twice = ["schutzstuf"], ["schutzstuf", "schutzstuf"]
    assert index.scores(once).max() > 0
    assert_same_scores(index, twice)
    np.testing.assert_allclose(index.scores(twice), 2 * index.scores(once), rtol=0, atol=1e-12)


def test_unknown_token_adds_nothing():
    index = LexicalIndex(GUIDELINE_PARAGRAPHS)
    assert not index.scores(["quantencomput"]).any()
    np.testing.assert_array_equal(index.scores(["schutzstuf", "quantencomput"]), index.scores(["schutzstuf"]))
    assert_same_scores(index, ["schutzstuf", "quantencomput"])
    assert index.coverage(["schutzstuf", "quantencomput"]) == 0.5


def test_empty_query_scores_zero_everywhere():
    index = LexicalIndex(GUIDELINE_PARAGRAPHS)
    scores = index.scores([])
    assert scores.shape == (len(GUIDELINE_PARAGRAPHS),) and not scores.any()
    assert index.coverage([]) == 0.0


def test_empty_index_scores_nothing():
    index = LexicalIndex([])
    assert index.scores(["ki"]).shape == (0,)
    assert index.coverage(["ki"]) == 0.0 and index.df == {}


def test_index_of_stopwords_only_scores_zero_instead_of_failing():
    index = LexicalIndex(["und oder", ""])  # rank_bm25 divides by zero on this corpus
    assert index.docs == [[], []]
    np.testing.assert_array_equal(index.scores(["und", "ki"]), [0.0, 0.0])


def test_document_frequencies_count_documents_not_occurrences():
    index = LexicalIndex(["Daten Daten Daten", "Daten Schutz", "Schutz"])
    assert index.df == {"dat": 2, "schutz": 2}


def test_coordination_is_the_rarity_weighted_share_of_the_query_a_document_contains():
    index = LexicalIndex(["Daten Daten Daten Daten", "Daten Schutz Aufsicht", "Aufsicht", "Schutz Protokoll"])
    query = index.query_tokens("Aufsicht über den Schutz der Daten")
    share = index.coordination(query)
    rarity = {t: np.log(1 + 4 / index.df[t]) for t in ("dat", "schutz", "aufsicht")}
    total = sum(rarity.values())
    np.testing.assert_allclose(share, [rarity["dat"] / total, 1.0, rarity["aufsicht"] / total,
                                       rarity["schutz"] / total])
    # BM25 prefers the document that repeats one word; coordination the one that has every word
    assert share.argmax() == 1
    assert index.coordination(query + query).tolist() == share.tolist()  # repeats do not count twice


def test_coordination_ignores_unknown_tokens_and_scores_nothing_without_known_ones():
    index = LexicalIndex(["Daten Schutz", "Schutz"])
    np.testing.assert_array_equal(index.coordination(["schutz", "quantencomput"]), index.coordination(["schutz"]))
    np.testing.assert_array_equal(index.coordination(["quantencomput"]), [0.0, 0.0])
    assert LexicalIndex([]).coordination(["schutz"]).shape == (0,)


# ---------------------------------------------------------------------------------------- the real corpus

@pytest.fixture(scope="module")
def corpus_snapshot(corpus_library):
    return build_snapshot(corpus_library)


def old_texts(snap) -> tuple[list[str], list[str]]:
    """The texts the snapshot used to tokenise: embedding texts, and per group its chunk texts joined."""
    titles = {v.doc_id: v.title for v in snap.versions.values()}
    texts = [c.embedding_text(titles.get(c.doc_id, "")) for c in snap.chunks]
    names: dict[tuple[str, str], int] = {}
    group_texts: list[str] = []
    for c in snap.chunks:
        g = names.setdefault((c.doc_id, group_key(c.section_key)), len(names))
        if g == len(group_texts):
            group_texts.append("")
        group_texts[g] += " " + c.text
    return texts, group_texts


def test_snapshot_tokens_equal_two_pass_tokens_of_the_corpus(corpus_snapshot):
    texts, group_texts = old_texts(corpus_snapshot)
    assert len(texts) > 1000
    assert corpus_snapshot.lexical.docs == two_pass_docs(texts)
    assert corpus_snapshot.group_lexical.docs == two_pass_docs(group_texts)


def test_snapshot_scores_equal_rank_bm25_for_the_eval_questions(corpus_snapshot):
    chunk_bm25 = BM25Okapi(corpus_snapshot.lexical.docs, k1=1.2, b=0.75)
    group_bm25 = BM25Okapi(corpus_snapshot.group_lexical.docs, k1=1.2, b=0.75)
    questions = [q["question"] for q in load_questions(DEFAULT_QUESTIONS)]
    for question in questions:
        query = corpus_snapshot.lexical.query_tokens(question)
        np.testing.assert_allclose(corpus_snapshot.lexical.scores(query), chunk_bm25.get_scores(query),
                                   rtol=0, atol=1e-9, err_msg=question)
        np.testing.assert_allclose(corpus_snapshot.group_lexical.scores(query), group_bm25.get_scores(query),
                                   rtol=0, atol=1e-9, err_msg=question)
