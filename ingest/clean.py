"""Repairs of extraction artefacts, applied before splitting (pure functions)."""
from __future__ import annotations

import re

from assistant.records import Line

_CONJ = r"(?:und|oder|bzw\.|sowie)"


def repair_text(text: str) -> str:
    """Fix spacing around hyphens left by PDF extraction.

    "Rheinland- Pfalz" -> "Rheinland-Pfalz", "KI - Anwendungen" -> "KI-Anwendungen",
    "Organisations - und" -> "Organisations- und" (a real suspended hyphen stays).
    """
    text = re.sub(rf"(\w) - ({_CONJ})\b", r"\1- \2", text)
    text = re.sub(r"(\w) - (?=\w)", r"\1-", text)
    text = re.sub(rf"(\w)- (?!{_CONJ}\b)([A-ZÄÖÜ]\w)", r"\1-\2", text)
    return text


def join_broken_lines(lines: list[Line]) -> list[Line]:
    """Undo line-end hyphenation and join a sentence split by a page or paragraph break.

    A line ending in "Verwaltungs-" followed by a line starting in lower case is one word
    ("Verwaltungsvorschrift"); a line ending mid-sentence followed by blank lines and a line
    starting in lower case continues that sentence.
    """
    out: list[Line] = []
    pending_blank = False
    for line in lines:
        text = line.text.rstrip()
        if not text.strip():
            pending_blank = True
            continue
        stripped = text.strip()
        if out:
            prev = out[-1].text
            starts_lower = stripped[:1].islower()
            if starts_lower and re.search(r"[A-Za-zÄÖÜäöüß]{2}-$", prev) and not re.match(rf"{_CONJ}\b", stripped):
                out[-1] = Line(prev[:-1] + stripped, out[-1].page)
                pending_blank = False
                continue
            open_end = re.search(r"[a-zäöüß,]$", prev) and not _HEADING.match(prev)
            if open_end and (starts_lower or pending_blank) and stripped[:1].isalpha() and not _is_marker(stripped):
                out[-1] = Line(prev + " " + stripped, out[-1].page)
                pending_blank = False
                continue
        if pending_blank and out:
            out.append(Line("", line.page))
        out.append(Line(text, line.page))
        pending_blank = False
    return out


_HEADING = re.compile(r"^(#+\s|\d+(\.\d+)*\.?\s+\S+(\s+\S+){0,10}$|Artikel\s+\d+|Anhang\s+[IVX]+)")


def _is_marker(text: str) -> bool:
    """List markers such as "a) …", "i) …" start lower-case but begin a new item."""
    return bool(re.match(r"^(?:[a-z]{1,4}\)|[ivx]+\))\s", text))
