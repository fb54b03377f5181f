"""Citation labels and the parser for explicit references in questions.

A section key is the normalised numbering path inside a document (`art-50/abs-4`, `erwg-20`,
`anh-III/nr-4/buchst-a`, `beschluss-2`, `erlaeuterungen`, `ziff-3.2`). Labels are rendered from keys
and references in questions are parsed back into keys with the same grammar, so a round-trip test
keeps both in step.
"""
from __future__ import annotations

import re

_PART_NAMES = {"art": "Art.", "abs": "Abs.", "buchst": "Buchst.", "nr": "Nr.", "ziff": "Ziff.",
               "erwg": "Erwägungsgrund", "anh": "Anhang", "uabs": "UAbs."}


def key_parts(key: str) -> list[tuple[str, str]]:
    """`art-50/abs-4` -> [("art", "50"), ("abs", "4")]; a `~n` suffix (restarted numbering) is dropped."""
    parts = []
    for seg in key.split("/"):
        seg = seg.split("~", 1)[0]
        name, _, value = seg.partition("-")
        parts.append((name, value))
    return parts


def reference_text(key: str) -> str:
    """The numbering path in the form people cite it: `Art. 50 Abs. 4`, `Anhang III Nr. 4 Buchst. a`."""
    parts = key_parts(key)
    if parts and parts[0][0] == "beschluss":
        return f"Beschluss Nr. {parts[0][1]}"
    if parts and parts[0][0] == "erlaeuterungen":
        return "Erläuterungen"
    words = []
    for name, value in parts:
        words.append(f"{_PART_NAMES.get(name, name.capitalize())} {value}".strip())
    return " ".join(words)


def section_label(key: str, short: str, kind: str) -> str:
    """Display label: `Art. 50 Abs. 4 KI-VO`, `Beschluss Nr. 2 (Ministerrat RLP, TOP 4)`, `Ziff. 3.2 LL`."""
    ref = reference_text(key)
    if kind == "cabinet-decision":
        return f"{ref} ({short})"
    return f"{ref} {short}".strip()


# --- parsing references in questions ----------------------------------------------------------

_ROMAN = r"[IVXLC]+"
_REF = re.compile(
    r"""
    (?P<art>\b(?:Art(?:ikel|\.)?|Article)\s*(?P<art_n>\d+[a-z]?)
        (?:\s*(?:(?:Abs(?:atz|\.)?|Paragraph|para\.?)\s*(?P<abs>\d+[a-z]?)|\((?P<abs_p>\d+[a-z]?)\)))?
        (?:\s*(?:UAbs\.?|Unterabsatz)\s*\d+)?
        (?:\s*(?:Buchst(?:abe|\.)?|lit\.?|point)\s*(?P<art_b>[a-z])\b|\s*\((?P<art_bp>[a-z])\)
           |(?<=\))\s+(?P<art_bl>[a-z])(?=$|[\s?.,;]))?
        (?:\s*(?:Nr\.?|Nummer|point)\s*(?P<art_nr>\d+))?
    )
    | (?P<erwg>\b(?:Erwägungsgr(?:und|ünde|\.)|ErwG\.?|Recital)\s*\(?(?P<erwg_n>\d+)\)?)
    | (?P<anh>\b(?:Anhang|Annex)\s+(?P<anh_n>""" + _ROMAN + r""")\b
        (?:\s*(?:Nr\.?|Nummer|Ziffer|point)\s*(?P<anh_nr>\d+))?
        (?:\s*(?:Buchst(?:abe|\.)?|lit\.?|point)\s*(?P<anh_b>[a-z])\b)?
    )
    | (?P<ziff>\b(?:Ziff(?:er|\.)?|Abschnitt|Nr\.|Nummer)\s*(?P<ziff_n>\d+(?:\.\d+)*)\b)
    | (?P<beschl>\b(?:Beschluss(?:punkt)?)\s*(?:Nr\.?\s*)?(?P<beschl_n>[1-9])\b)
    """,
    re.VERBOSE | re.IGNORECASE,
)


def parse_references(text: str) -> list[str]:
    """Section keys (or key prefixes) named explicitly in a question, in order of appearance.

    `Artikel 50 Absatz 4` -> `art-50/abs-4`; `Art. 5 (1) c` -> `art-5/abs-1/buchst-c`;
    `Erwägungsgrund 20` -> `erwg-20`; `Anhang III Nr. 4` -> `anh-III/nr-4`; `Ziffer 3.2` -> `ziff-3.2`.
    """
    keys: list[str] = []
    for m in _REF.finditer(text):
        g = m.groupdict()
        if g["art"]:
            key = f"art-{g['art_n'].lower()}"
            absatz = g["abs"] or g["abs_p"]
            if absatz:
                key += f"/abs-{absatz.lower()}"
            letter = g["art_b"] or g["art_bp"] or g["art_bl"]
            if letter:
                key += f"/buchst-{letter.lower()}"
            if g["art_nr"]:
                key += f"/nr-{g['art_nr']}"
        elif g["erwg"]:
            key = f"erwg-{g['erwg_n']}"
        elif g["anh"]:
            key = f"anh-{g['anh_n'].upper()}"
            if g["anh_nr"]:
                key += f"/nr-{g['anh_nr']}"
            if g["anh_b"]:
                key += f"/buchst-{g['anh_b'].lower()}"
        elif g["ziff"]:
            key = f"ziff-{g['ziff_n']}"
        else:
            key = f"beschluss-{g['beschl_n']}"
        if key not in keys:
            keys.append(key)
    return keys


def key_matches(reference: str, key: str) -> bool:
    """True when `key` is the referenced section, lies inside it (`art-50` matches `art-50/abs-4`) or
    contains it (a reference to `anh-III/nr-4/buchst-b` is answered by the section `anh-III/nr-4`)."""
    key = "/".join(seg.split("~", 1)[0] for seg in key.split("/"))
    return key == reference or key.startswith(reference + "/") or reference.startswith(key + "/")
