"""German sentence splitting for chunking and extractive answers (pure functions)."""
from __future__ import annotations

import re

# Abbreviations after which a full stop does not end a sentence.
_ABBREV = {"art", "abs", "nr", "buchst", "ziff", "bzw", "vgl", "z", "b", "d", "h", "u", "a", "s", "abl", "ggf",
           "etc", "ca", "inkl", "gem", "insb", "i", "e", "v", "dr", "prof", "str", "mio", "mrd", "uabs", "lit",
           "co", "kap", "anh", "erwg", "no", "eg", "eu", "nrn", "ff", "f", "sog", "usw", "evtl", "max", "min"}
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[„\"(A-ZÄÖÜ])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage: every line is at least one unit; lines split at sentence ends.

    Ordinals ("13. Juni"), abbreviations ("Art. 5", "z. B.") and list markers ("a)", "1.") do not end
    a sentence. Returned sentences are exact substrings of `text` (quotes must be verbatim).
    """
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        start = 0
        for m in _BOUNDARY.finditer(line):
            before = line[start:m.start()]
            word = re.search(r"(\S+)$", before)
            token = word.group(1).rstrip(".").lower() if word else ""
            if token in _ABBREV or token.isdigit() or len(token) <= 1 or len(before.split()) < 3:
                continue
            out.append(before.strip())
            start = m.end()
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return out


def pack_sentences(text: str, max_chars: int) -> list[str]:
    """Cut a long passage into pieces of at most `max_chars`, at line or sentence ends where possible."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for unit in _units(text, max_chars):
        sep = "\n" if current and unit.startswith("\n") else " "
        unit = unit.lstrip("\n")
        if current and len(current) + 1 + len(unit) > max_chars:
            pieces.append(current)
            current = unit
        else:
            current = f"{current}{sep}{unit}" if current else unit
    if current:
        pieces.append(current)
    return pieces


def _units(text: str, max_chars: int) -> list[str]:
    units: list[str] = []
    for i, line in enumerate(text.split("\n")):
        sentences = split_sentences(line) or [line]
        for j, sentence in enumerate(sentences):
            while len(sentence) > max_chars:  # a single overlong sentence: cut at a word boundary
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > 0 else max_chars
                units.append(sentence[:cut])
                sentence = sentence[cut:].strip()
            units.append(("\n" if i and not j else "") + sentence)
    return units
