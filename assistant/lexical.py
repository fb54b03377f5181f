"""German lexical retrieval: folding, Snowball stemming, compound parts, BM25 (pure apart from BM25).

"Hochrisiko-KI-Systeme" and "Hochrisiko-System" share the tokens hochrisiko/system; closed compounds
such as "Transparenzpflichten" are also indexed by their parts when both parts occur in the corpus
vocabulary, so "Pflichten zur Transparenz" finds them.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import Stemmer
from rank_bm25 import BM25Okapi

_STEMMER = Stemmer.Stemmer("german")
_WORD = re.compile(r"\w+(?:-\w+)*")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
STOPWORDS = frozenset("""
aber alle allem allen aller alles als also am an ander andere anderen auch auf aus bei beim bin bis bist da
dabei damit dann das dass dein dem den denn der des dessen die dies diese diesem diesen dieser dieses doch dort
du durch ein eine einem einen einer eines er es etwa euer für gegen gibt hab habe haben hat hatte hier ich ihm ihn
ihr ihre ihrem ihren ihrer im in ist ja jede jedem jeden jeder jedes jetzt kann kein keine können könnte man mehr
mich mir mit muss müssen nach nicht noch nun nur ob oder ohne sehr sein seine sich sie sind so solche soll sollen
sollte sonst über um und uns unser unter vom von vor wann war waren warum was weil welche welchem welchen welcher
welches wenn wer werden wie wieder will wir wird wo wurde wurden zu zum zur zwar zwischen gilt gelten steht darf
dürfen denn eigentlich genau bitte einmal the a an of to in is are for and or what which who how does do be must
""".split())


def fold(text: str) -> str:
    return text.lower().translate(_FOLD)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def words(text: str) -> list[str]:
    """Lower-cased, folded words; hyphenated compounds give the whole and each part."""
    out: list[str] = []
    for m in _WORD.finditer(fold(text)):
        token = m.group(0)
        parts = [p for p in token.split("-") if p]
        if len(parts) > 1:
            out.append("".join(parts))
        out.extend(parts)
    return out


class Vocabulary:
    """Stems seen in the corpus, used to split closed compounds into known parts."""

    def __init__(self, stems: set[str]):
        self.stems = stems

    @lru_cache(maxsize=100_000)
    def split(self, word: str) -> tuple[str, ...]:
        if len(word) < 10 or not word.isalpha():
            return ()
        for i in range(len(word) - 4, 3, -1):  # longest head first
            head, tail = word[:i], word[i:]
            for h in (head, head[:-1] if head.endswith("s") else None):
                if h and len(h) >= 4 and stem(h) in self.stems and stem(tail) in self.stems and len(tail) >= 4:
                    return (stem(h), stem(tail))
        return ()


def tokens(text: str, vocab: Vocabulary | None = None, *, drop_stopwords: bool = True) -> list[str]:
    out: list[str] = []
    for w in words(text):
        if drop_stopwords and w in STOPWORDS:
            continue
        out.append(stem(w))
        if vocab:
            out.extend(vocab.split(w))
    return out


class LexicalIndex:
    """BM25 over chunk texts (with their headings), rebuilt from the same chunks as the dense index."""

    def __init__(self, texts: list[str]):
        base = [tokens(t) for t in texts]
        self.vocab = Vocabulary({t for doc in base for t in doc})
        self.docs = [tokens(t, self.vocab) for t in texts]
        self.bm25 = BM25Okapi(self.docs, k1=1.2, b=0.75) if self.docs else None
        self.df = {}
        for doc in self.docs:
            for t in set(doc):
                self.df[t] = self.df.get(t, 0) + 1

    def query_tokens(self, text: str) -> list[str]:
        return tokens(text, self.vocab)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not self.bm25 or not query_tokens:
            return np.zeros(len(self.docs))
        return np.asarray(self.bm25.get_scores(query_tokens), dtype=np.float64)

    def coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur anywhere in the corpus (low for English questions)."""
        if not query_tokens:
            return 0.0
        return sum(1 for t in query_tokens if t in self.df) / len(query_tokens)
