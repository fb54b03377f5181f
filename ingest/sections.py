"""Split a document's lines into citable sections (pure functions).

Three grammars are recognised, whatever the file format:
- legal acts (the AI Act, also as PDF): Erwägungsgrund (n), Artikel n – Titel with Absätze "(n)",
  Buchstaben "a)", numbered definitions; Anhang with Nummer;
- cabinet decisions: "Beschluss:" with numbered points, "Erläuterungen:";
- guidelines: numbered headings "1", "2.1", "3.2.1" (Markdown '#' headings or PDF heading lines).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.labels import section_label
from assistant.records import DocumentVersion, Line, Section

LONG_SECTION = 1400  # characters; longer Absätze are split at their Buchstaben / Nummern

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RECITAL = re.compile(r"^Erwägungsgrund\s*\((\d+)\)$")
_ARTICLE = re.compile(r"^Artikel\s+(\d+[a-z]?)(?:\s*[–-]\s*(.*))?$")
_ANNEX_NR = re.compile(r"^Anhang\s+([IVXLC]+)\s+Nummer\s+(\d+)(?:\s*[–-]\s*(.*))?$", re.I)
_ANNEX = re.compile(r"^Anhang\s+([IVXLC]+)(?:\s*[–-]\s*(.*))?$", re.I)
_SKIP = re.compile(r"^(Fußnoten|Schlussformel)", re.I)
_ABSATZ = re.compile(r"^\((\d+[a-z]?)\)\s+")
_LETTER = re.compile(r"^([a-z])\)\s+")
_NUMBER = re.compile(r"^(\d+)\.\s+")
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+){0,3})\.?\s+([A-ZÄÖÜ][^\n]{1,90})$")


@dataclass
class _Block:
    kind: str  # recital | article | annex | annex-nr | guideline | skip | none
    number: str = ""
    sub: str = ""
    title: str = ""
    page: int | None = None
    lines: list[Line] = field(default_factory=list)


def split_sections(doc: DocumentVersion, lines: list[Line], *, markdown: bool) -> list[Section]:
    """Sections of one document version in document order."""
    texts = [ln.text.strip() for ln in lines]
    if any(t == "Beschluss:" for t in texts) and doc.kind == "cabinet-decision":
        return _decision_sections(doc, lines)
    blocks = _blocks(lines, markdown=markdown, guideline=doc.kind == "guideline")
    sections: list[Section] = []
    for block in blocks:
        sections.extend(_block_sections(doc, block))
    return _unique_keys(sections)


def _heading_of(line: Line, markdown: bool, guideline: bool) -> tuple[str, str] | None:
    text = line.text.strip()
    if markdown:
        m = _MD_HEADING.match(text)
        if not m:
            return None
        return ("md", m.group(2))
    if _RECITAL.match(text) or _ARTICLE.match(text) or _ANNEX.match(text) or _ANNEX_NR.match(text):
        return ("plain", text)
    if guideline and _NUMBERED_HEADING.match(text) and not re.search(r"[.,;:]$", text) and len(text.split()) <= 12:
        return ("plain", text)
    return None


def _blocks(lines: list[Line], *, markdown: bool, guideline: bool) -> list[_Block]:
    blocks: list[_Block] = []
    current = _Block("none")
    pending_title = False
    for line in lines:
        text = line.text.strip()
        if text.startswith("<!--"):
            continue
        head = _heading_of(line, markdown, guideline)
        if head:
            current = _new_block(head[1], line.page)
            blocks.append(current)
            # a PDF article heading "Artikel 5" carries its title on the next line
            pending_title = current.kind == "article" and not current.title and not markdown
            continue
        if not text:
            continue
        if pending_title:
            current.title, pending_title = text, False
            continue
        current.lines.append(Line(text, line.page))
    return [b for b in blocks if b.kind not in ("none", "skip") and b.lines]


def _new_block(heading: str, page: int | None) -> _Block:
    if m := _RECITAL.match(heading):
        return _Block("recital", m.group(1), page=page)
    if m := _ARTICLE.match(heading):
        return _Block("article", m.group(1), title=(m.group(2) or "").strip(), page=page)
    if m := _ANNEX_NR.match(heading):
        return _Block("annex-nr", m.group(1).upper(), m.group(2), (m.group(3) or "").strip(), page=page)
    if m := _ANNEX.match(heading):
        return _Block("annex", m.group(1).upper(), title=(m.group(2) or "").strip(), page=page)
    if _SKIP.match(heading):
        return _Block("skip")
    if m := _NUMBERED_HEADING.match(heading):
        return _Block("guideline", m.group(1), title=m.group(2).strip(), page=page)
    return _Block("none")


def _block_sections(doc: DocumentVersion, b: _Block) -> list[Section]:
    def make(key: str, heading: str, lines: list[Line], kind: str, anchor: str, context: str = "") -> Section:
        return Section(doc_id=doc.doc_id, key=key, label=section_label(key, doc.short, doc.kind), heading=heading,
                       text="\n".join(ln.text for ln in lines), page=lines[0].page if lines else b.page,
                       kind=kind, anchor=anchor, context=context, line_pages=tuple(ln.page for ln in lines))

    if b.kind == "recital":
        return [make(f"erwg-{b.number}", f"Erwägungsgrund {b.number}", b.lines, "recital", f"#rct_{b.number}")]
    if b.kind == "guideline":
        return [make(f"ziff-{b.number}", f"{b.number} {b.title}", b.lines, "guideline", "")]
    if b.kind == "annex-nr":
        base, heading = f"anh-{b.number}/nr-{b.sub}", f"Anhang {b.number} Nummer {b.sub} – {b.title}"
        # each Buchstabe of an Anhang III area is a use case of its own: cite (and find) it on its own
        return _split_list(make, base, heading, b.lines, "annex", f"#anx_{b.number}", _LETTER, "buchst", force=True)
    if b.kind == "annex":
        base, heading = f"anh-{b.number}", f"Anhang {b.number} – {b.title}".rstrip(" –")
        return _split_list(make, base, heading, b.lines, "annex", f"#anx_{b.number}", _NUMBER, "nr")
    # article
    base, heading = f"art-{b.number}", f"Artikel {b.number} – {b.title}".rstrip(" –")
    anchor = f"#art_{b.number}"
    groups = _group(b.lines, _ABSATZ)
    if len(groups) <= 1:  # no Absätze: a single section, or definitions/numbered items
        return _split_list(make, base, heading, b.lines, "article", anchor, _NUMBER, "nr", force=b.number == "3")
    sections = []
    for number, lines in groups:
        if number is None:  # text before "(1)"
            sections.append(make(base, heading, lines, "article", anchor))
            continue
        sections.extend(_split_list(make, f"{base}/abs-{number}", f"{heading}, Absatz {number}", lines,
                                    "article", anchor, _LETTER, "buchst"))
    return sections


def _group(lines: list[Line], marker: re.Pattern) -> list[tuple[str | None, list[Line]]]:
    """Consecutive runs of lines, each starting at a line that carries `marker`."""
    groups: list[tuple[str | None, list[Line]]] = []
    previous = ""
    for n, line in enumerate(lines):
        m = marker.match(line.text)
        if m and marker is _LETTER and m.group(1) in "ivx" and _roman(previous, m.group(1), lines[n + 1:]):
            m = None  # "i)" after "c)" opens a list of roman numerals inside Buchstabe c, not Buchstabe i
        if m:
            previous = m.group(1)
        if m or not groups:
            groups.append((m.group(1) if m else None, [line]))
        else:
            groups[-1][1].append(line)
    return groups


def _roman(previous: str, letter: str, rest: list[Line]) -> bool:
    """Whether a marker "i)", "v)" or "x)" is a roman numeral: it does not continue the letters, or
    (after "h)") the next marker is "ii)"."""
    if not previous or ord(letter) != ord(previous) + 1:
        return True
    for line in rest:
        if re.match(r"^[ivx]+\)\s", line.text) and not _LETTER.match(line.text):
            return True
        if _LETTER.match(line.text):
            return False
    return False


def _split_list(make, base: str, heading: str, lines: list[Line], kind: str, anchor: str,
                marker: re.Pattern, part: str, force: bool = False) -> list[Section]:
    """One section, or (when long) a lead-in section plus one per list item ("Buchst. a", "Nr. 3")."""
    size = sum(len(ln.text) + 1 for ln in lines)
    groups = _group(lines, marker)
    items = [g for g in groups if g[0] is not None]
    if (size <= LONG_SECTION and not force) or len(items) < 2:
        return [make(base, heading, lines, kind, anchor)]
    sections, lead = [], ""
    for number, group in groups:
        if number is None:
            lead = " ".join(ln.text for ln in group)
            sections.append(make(base, heading, group, kind, anchor))
            continue
        name = "Buchstabe" if part == "buchst" else "Nummer"
        sections.append(make(f"{base}/{part}-{number}", f"{heading}, {name} {number}", group, kind, anchor,
                             context=_shorten(lead)))
    return sections


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _unique_keys(sections: list[Section]) -> list[Section]:
    """Numbering that restarts inside an annex (Anhang VIII Abschnitt A/B/C) gets a `~n` suffix."""
    seen: dict[str, int] = {}
    out = []
    for s in sections:
        n = seen.get(s.key, 0) + 1
        seen[s.key] = n
        if n > 1:
            from dataclasses import replace
            s = replace(s, key=f"{s.key}~{n}")
        out.append(s)
    return out


def _decision_sections(doc: DocumentVersion, lines: list[Line]) -> list[Section]:
    """Cabinet decision: the heading as context, points of the "Beschluss:" and the "Erläuterungen:"."""
    heading, part, out = "", "head", []
    points: dict[str, list[Line]] = {}
    notes: list[Line] = []
    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        if text == "Beschluss:":
            part = "beschluss"
            continue
        if text == "Erläuterungen:":
            part = "erlaeuterungen"
            continue
        if part == "head":
            heading = f"{heading} {text}".strip() if text.startswith("TOP") or not heading else heading
        elif part == "beschluss":
            m = _NUMBER.match(text)
            if m:
                points[m.group(1)] = [Line(text, line.page)]
            elif points:
                points[list(points)[-1]].append(Line(text, line.page))
        else:
            notes.append(Line(text, line.page))
    title = _shorten(heading, 200)
    for number, pl in points.items():
        key = f"beschluss-{number}"
        out.append(Section(doc.doc_id, key, section_label(key, doc.short, doc.kind), f"{title} – Beschluss Nr. {number}",
                           "\n".join(ln.text for ln in pl), pl[0].page, "decision"))
    if notes:
        key = "erlaeuterungen"
        out.append(Section(doc.doc_id, key, section_label(key, doc.short, doc.kind), f"{title} – Erläuterungen",
                           "\n".join(ln.text for ln in notes), notes[0].page, "decision"))
    return out
