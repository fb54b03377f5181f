"""Questions about an earlier state: "Was galt am 1. Oktober 2025?", "vor der Änderung" (pure)."""
from __future__ import annotations

import datetime as dt
import re

_MONTHS = {"januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "april": 4, "mai": 5, "juni": 6, "juli": 7,
           "august": 8, "september": 9, "oktober": 10, "november": 11, "dezember": 12}
_PAST = re.compile(r"\b(galt|galten|damals|bisher|bislang|vorher|früher\w*|vorherig\w*|alte[nrms]?|"
                   r"vor der (änderung|neufassung|aktualisierung)|ursprünglich\w*)\b", re.IGNORECASE)
_DATE_NUM = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})\b")
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DATE_WORDS = re.compile(r"\b(?:(\d{1,2})\.\s+)?(" + "|".join(_MONTHS) + r")\s+(\d{4})\b", re.IGNORECASE)
_CHANGES = re.compile(r"\b(geändert|verändert|verändern|änderung(en)?|neu(e|en|er)? (fassung|version)|unterschied\w*|was ist neu|"
                      r"what changed|changes)\b", re.IGNORECASE)


def asked_date(question: str) -> dt.date | None:
    """A date the question asks about, when it asks about the past ("Was galt am 1. Oktober 2025?")."""
    if not _PAST.search(question):
        return None
    for pattern, order in ((_DATE_ISO, "ymd"), (_DATE_NUM, "dmy"), (_DATE_WORDS, "dMy")):
        m = pattern.search(question)
        if not m:
            continue
        try:
            if order == "ymd":
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if order == "dmy":
                return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            return dt.date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1) or 1))
        except ValueError:
            return None
    return None


def asks_previous_version(question: str) -> bool:
    """ "Was galt vor der Änderung …?", "in der alten Fassung": the version before the one in force."""
    return bool(_PAST.search(question)) and asked_date(question) is None and bool(
        re.search(r"\b(fassung|version|änderung|leitlinie\w*|regel\w*|galt)\b", question, re.IGNORECASE))


def asks_for_changes(question: str) -> bool:
    return bool(_CHANGES.search(question)) and not _PAST.search(question)
