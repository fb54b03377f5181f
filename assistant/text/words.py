"""German words for matching: folding, Snowball stemming, stopwords, and compound parts known to a
vocabulary (pure functions). Questions, BM25 and answer-sentence scoring all use the same words.
"""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_STEMMER = Stemmer.Stemmer("german")
_WORD = re.compile(r"\w+(?:-\w+)*")
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
_SPLIT_CACHE_MAX = 200_000  # words whose compound split a vocabulary remembers (query words beyond are recomputed)


def fold(text: str) -> str:
    # str.replace four times: the same as a translate table, several times faster
    return text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def words(text: str) -> list[str]:
    """Lower-cased, folded words; hyphenated compounds give the whole and each part."""
    out: list[str] = []
    for token in _WORD.findall(fold(text)):
        if "-" in token:
            parts = token.split("-")  # never empty: the pattern puts a word character on both sides of "-"
            out.append("".join(parts))
            out.extend(parts)
        else:
            out.append(token)
    return out


def content_words(text: str) -> list[str]:
    """The words of a text that are indexed: `words` without stopwords."""
    return [w for w in words(text) if w not in STOPWORDS]


class Vocabulary:
    """Stems seen in the corpus, used to split closed compounds into known parts."""

    def __init__(self, stems: set[str]):
        self.stems = stems
        # per instance, not functools.lru_cache on the method: that would keep every earlier snapshot's
        # vocabulary alive through its cache keys
        self._splits: dict[str, tuple[str, ...]] = {}

    def split(self, word: str) -> tuple[str, ...]:
        parts = self._splits.get(word)
        if parts is None:
            parts = self._split(word)
            if len(self._splits) < _SPLIT_CACHE_MAX:
                self._splits[word] = parts
        return parts

    def _split(self, word: str) -> tuple[str, ...]:
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


