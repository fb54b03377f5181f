"""What a typed question may contain: control characters are dropped, length and emptiness checked."""
from __future__ import annotations

import unicodedata

from assistant.errors import InputError
from assistant.ui_text import too_long

EMPTY = "Die Frage ist leer. Bitte geben Sie eine Frage ein."


def clean_question(text: str) -> str:
    """NFC, no control or format characters (a pasted NUL, bell or terminal escape), single spaces."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in text)
    return " ".join(kept.split())


def check_question(text: str, max_chars: int) -> str:
    """The cleaned question, or an InputError saying what to change (empty, too long)."""
    question = clean_question(text)
    if not question:
        raise InputError(EMPTY)
    if len(question) > max_chars:
        raise InputError(too_long(len(question), max_chars))
    return question
