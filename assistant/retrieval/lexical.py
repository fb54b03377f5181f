"""German lexical retrieval: folding, Snowball stemming, compound parts, BM25 as a sparse matrix.

"Hochrisiko-KI-Systeme" and "Hochrisiko-System" share the tokens hochrisiko/system; closed compounds
such as "Transparenzpflichten" are also indexed by their parts when both parts occur in the corpus
vocabulary, so "Pflichten zur Transparenz" finds them.

BM25 is Okapi BM25 exactly as rank_bm25's `BM25Okapi(k1=1.2, b=0.75)` computes it (same idf with its
floor for very common terms, same sums), but the weight of every (document, term) pair is computed once
when the index is built, so a query only adds up the columns of its own terms.
"""
from __future__ import annotations

import math
from itertools import chain

import numpy as np
from scipy import sparse

from assistant.text.words import Vocabulary, content_words, stem, tokens

K1, B, EPSILON = 1.2, 0.75, 0.25  # rank_bm25's BM25Okapi with k1=1.2, b=0.75 and its default epsilon


class LexicalIndex:
    """BM25 over chunk texts (with their headings), rebuilt from the same chunks as the dense index."""

    def __init__(self, texts: list[str]):
        self._build([content_words(t) for t in texts])

    @classmethod
    def from_words(cls, docs: list[list[str]]) -> LexicalIndex:
        """The index of texts already split by `content_words` (the snapshot splits each chunk text once
        and reuses the words for the article-group index)."""
        index = cls.__new__(cls)
        index._build(docs)
        return index

    def _build(self, docs: list[list[str]]) -> None:
        # each distinct word is stemmed and split once: the same tokens as tokens(text, vocab), whose
        # vocabulary is the set of the texts' plain stems
        distinct = dict.fromkeys(chain.from_iterable(docs))
        self.vocab = Vocabulary({stem(w) for w in distinct})
        expansion = {w: (stem(w), *self.vocab.split(w)) for w in distinct}
        self.docs = [list(chain.from_iterable(map(expansion.__getitem__, doc))) for doc in docs]
        self._weigh()

    def _weigh(self) -> None:
        """The BM25 weight of every (document, term) pair, as rank_bm25's BM25Okapi.get_scores adds it."""
        flat = list(chain.from_iterable(self.docs))
        # terms numbered in order of first occurrence: the order in which rank_bm25 sums the idfs
        self.terms = {t: i for i, t in enumerate(dict.fromkeys(flat))}
        n_docs = len(self.docs)
        lengths = np.fromiter(map(len, self.docs), dtype=np.int64, count=n_docs)
        rows = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        cols = np.fromiter(map(self.terms.__getitem__, flat), dtype=np.int64, count=len(flat))
        tf = sparse.csc_array((np.ones(len(flat)), (rows, cols)), shape=(n_docs, len(self.terms)))
        tf.sum_duplicates()
        df = np.diff(tf.indptr)
        self.df = dict(zip(self.terms, df.tolist()))
        self.presence = tf.copy()  # 1 where a document contains a term, whatever its weight
        self.presence.data[:] = 1.0
        if not flat:  # rank_bm25 cannot index this at all (it divides by zero); nothing ever matches
            self.weights = tf
            return
        idf = [math.log(n_docs - f + 0.5) - math.log(f + 0.5) for f in df.tolist()]
        floor = EPSILON * (sum(idf) / len(idf))  # a term in more than half the documents gets a small idf
        idf = np.array([floor if x < 0 else x for x in idf])
        avgdl = len(flat) / n_docs
        # the same operations in the same order as rank_bm25, so each weight equals its term there bit for bit
        norm = K1 * (1 - B + B * lengths / avgdl)
        freq = tf.data
        doc_of = tf.indices
        term_of = np.repeat(np.arange(len(self.terms)), df)
        tf.data = idf[term_of] * (freq * (K1 + 1) / (freq + norm[doc_of]))
        self.weights = tf  # documents x terms, CSC: one column per term

    def query_tokens(self, text: str) -> list[str]:
        return tokens(text, self.vocab)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document; a token repeated in the query counts as often as it occurs."""
        cols = [self.terms[t] for t in query_tokens if t in self.terms]
        if not cols or not len(self.docs):
            return np.zeros(len(self.docs))
        # the columns in query order, repeats included: each document's sum runs in the same order as
        # rank_bm25's, so the scores are the same to the last bit
        return self.weights[:, cols] @ np.ones(len(cols))

    def coordination(self, query_tokens: list[str]) -> np.ndarray:
        """Per document, the share of the query's distinct known tokens it contains, each weighted by its
        rarity (log(1 + N/df)): a short passage that has every term of the question scores 1, however
        often it repeats them, where BM25 prefers the passage that repeats one rare term."""
        known = [t for t in dict.fromkeys(query_tokens) if t in self.terms]
        if not known or not len(self.docs):
            return np.zeros(len(self.docs))
        n_docs = len(self.docs)
        rarity = np.array([math.log(1 + n_docs / self.df[t]) for t in known])
        return (self.presence[:, [self.terms[t] for t in known]] @ rarity) / rarity.sum()

    def coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur anywhere in the corpus (low for English questions)."""
        if not query_tokens:
            return 0.0
        return sum(1 for t in query_tokens if t in self.df) / len(query_tokens)
