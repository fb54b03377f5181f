"""Personal data in questions: find it, and replace it before anything is stored (pure functions).

The patterns aim at what staff might paste from a case file: e-mail addresses, German phone numbers,
IBANs, the 11-digit Steuer-ID, names after a salutation or title, dates of birth and Aktenzeichen.
They must leave legal references alone ("Art. 26 Abs. 6", "Verordnung (EU) 2024/1689",
"35 000 000 EUR", "2. August 2026"), so each pattern needs a shape or a keyword that legal text lacks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    kind: str  # email | phone | iban | tax_id | name | birth_date | file_number
    span: tuple[int, int]


PLACEHOLDERS = {"email": "[E-MAIL]", "phone": "[TELEFON]", "iban": "[IBAN]", "tax_id": "[STEUER-ID]",
                "name": "[NAME]", "birth_date": "[GEBURTSDATUM]", "file_number": "[AKTENZEICHEN]"}
DESCRIPTIONS = {"email": "E-Mail-Adresse", "phone": "Telefonnummer", "iban": "IBAN", "tax_id": "Steuer-ID",
                "name": "Name", "birth_date": "Geburtsdatum", "file_number": "Aktenzeichen"}
# where two patterns claim the same characters, the more specific one wins
_PRIORITY = ["email", "iban", "file_number", "birth_date", "phone", "tax_id", "name"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_IBAN_DE = re.compile(r"(?<![A-Za-z0-9])(?:DE|de)\s?\d{2}(?:\s?\d{4}){4}\s?\d{2}(?!\d)")
_IBAN_ANY = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_TAX_ID = re.compile(r"(?<![\d.,/])[1-9]\d(?: ?\d{3}){3}(?![\d.,/])(?!\s?(?:EUR|Euro|€|%|Prozent))")
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)49[ \-/]?(?:\(0\)[ \-/]?)?[1-9]\d{1,4}|\(0\d{2,5}\)|0[1-9]\d{1,4})"
    r"(?:[ \-/]?\d{2,8}){1,3}(?:-\d{1,5})?(?!\d)")
_PHONE_KEYWORD = re.compile(r"\b(?:Tel(?:efon)?|Fax|Mobil|Handy|Rufnummer|Durchwahl)\b\.?:?[ ]*(\+?\d[\d \-/()]{3,}\d)",
                            re.IGNORECASE)
_TITLE = r"(?:Dr\.|Prof\.|Dipl\.-[A-Z][a-z]+\.|med\.|rer\.\s?nat\.|jur\.|phil\.)"
_WORD = r"[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?"
_NAME = re.compile(rf"\b(?:(?:Herrn?|Frau)(?:\s+{_TITLE})*|{_TITLE}(?:\s+{_TITLE})*)\s+"
                   rf"(?P<name>(?:(?:von|van|de|zu)\s+(?:der\s+|dem\s+)?)?{_WORD}(?:\s+{_WORD})?)")
# "Frau Ministerin" is a role, not a name; "Frau Ministerin Schmitt" names Schmitt
_ROLES = re.compile(r"^(?:Minister|Staatssekretär|Präsident|Abteilungsleiter|Referatsleiter|Referent|Kolleg|Bürgermeister|"
                    r"Landrat|Landrätin|Vorsitzend|Beauftragt|Direktor|Sachbearbeiter|Amtsleiter)\w*$")
_MONTH = r"(?:Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember)"
_DATE = rf"\d{{1,2}}\.\s?\d{{1,2}}\.\s?(?:19|20)?\d{{2}}(?!\d)|\d{{1,2}}\.\s?{_MONTH}\s+\d{{4}}"
_BIRTH = re.compile(rf"(?:\b(?i:geb\.|geboren|geburtsdatum|geburtstag)(?:\s+am)?\s*:?\s*|(?<![\w*])\*\s?)(?P<date>{_DATE})")
_FILE_NUMBER = re.compile(r"\b(?:Az|AZ|Gz|GZ|Aktenzeichen|Geschäftszeichen)\b\.?\s*:?\s*"
                          r"(?P<ref>(?:[A-ZÄÖÜ]{1,5}\b|\d[\d./-]*)(?:\s?[-/]?\s?(?:[A-ZÄÖÜ]{1,5}\b|\d[\d./-]*))*)")


def find_personal_data(text: str) -> list[Finding]:
    """Personal data in `text`, in order of position; overlapping findings are resolved by specificity."""
    found = [*_emails(text), *_ibans(text), *_file_numbers(text), *_birth_dates(text), *_phones(text),
             *_tax_ids(text), *_names(text)]
    found.sort(key=lambda f: (_PRIORITY.index(f.kind), f.span[0]))
    kept: list[Finding] = []
    for f in found:
        if all(f.span[1] <= k.span[0] or f.span[0] >= k.span[1] for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.span)


def redact(text: str) -> str:
    """`text` with every finding replaced by its placeholder ("[E-MAIL]", "[NAME]", …)."""
    for f in reversed(find_personal_data(text)):
        text = text[:f.span[0]] + PLACEHOLDERS[f.kind] + text[f.span[1]:]
    return text


def describe(findings: list[Finding]) -> list[str]:
    """German names of the kinds found, each once, in order of appearance: ["E-Mail-Adresse", "Name"]."""
    return list(dict.fromkeys(DESCRIPTIONS[f.kind] for f in findings))


def _emails(text: str) -> list[Finding]:
    return [Finding("email", m.span()) for m in _EMAIL.finditer(text)]


def _ibans(text: str) -> list[Finding]:
    out = [Finding("iban", m.span()) for m in _IBAN_DE.finditer(text)]
    for m in _IBAN_ANY.finditer(text):
        start, candidate = m.start(), m.group()
        # a trailing word in capitals ("… 3201 EUR") may have been taken for a group: drop groups until valid
        while len(candidate.replace(" ", "")) >= 15:
            if iban_is_valid(candidate):
                out.append(Finding("iban", (start, start + len(candidate))))
                break
            if " " not in candidate:
                break
            candidate = candidate[:candidate.rindex(" ")]
    return out


def iban_is_valid(iban: str) -> bool:
    """ISO 13616 check digits (mod 97)."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _tax_ids(text: str) -> list[Finding]:
    return [Finding("tax_id", m.span()) for m in _TAX_ID.finditer(text)]


def _phones(text: str) -> list[Finding]:
    out = []
    for m in _PHONE.finditer(text):
        if 6 <= sum(ch.isdigit() for ch in m.group()) <= 15:
            out.append(Finding("phone", m.span()))
    for m in _PHONE_KEYWORD.finditer(text):
        if 4 <= sum(ch.isdigit() for ch in m.group(1)) <= 15:
            out.append(Finding("phone", m.span(1)))
    return out


def _names(text: str) -> list[Finding]:
    out = []
    for m in _NAME.finditer(text):
        start, end = m.span("name")
        words = m.group("name").split()
        if words[0] in ("Dr", "Prof", "Dipl"):  # "Frau Dr." with no name after it
            continue
        if _ROLES.match(words[0]):
            if len(words) < 2:
                continue
            start += len(words[0]) + text[start + len(words[0]):end].index(words[1])
        out.append(Finding("name", (start, end)))
    return out


def _birth_dates(text: str) -> list[Finding]:
    return [Finding("birth_date", m.span("date")) for m in _BIRTH.finditer(text)]


def _file_numbers(text: str) -> list[Finding]:
    out = []
    for m in _FILE_NUMBER.finditer(text):
        start, ref = m.start("ref"), m.group("ref").rstrip(" .,-/")
        if any(ch.isdigit() for ch in ref):
            out.append(Finding("file_number", (start, start + len(ref))))
    return out
