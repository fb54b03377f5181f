"""What changed between two versions of a document, section by section (pure apart from loading).

Section keys are stable across versions (`ziff-3.2`, `art-50/abs-4`), so a diff compares the texts
stored under the same key; word-level differences make a changed Ziffer readable at a glance.
"""
from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field

from assistant.records import Chunk


@dataclass(frozen=True)
class SectionText:
    key: str
    label: str
    text: str
    page: int | None
    order: int


@dataclass(frozen=True)
class SectionChange:
    key: str
    label: str
    kind: str  # added | removed | changed
    old: str = ""
    new: str = ""
    words: tuple[tuple[str, str], ...] = ()  # (op, text): op in "=", "-", "+"


@dataclass
class VersionDiff:
    doc_id: str
    old_version: str
    new_version: str
    changes: list[SectionChange] = field(default_factory=list)
    unchanged: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def changed_keys(self) -> set[str]:
        return {c.key for c in self.changes if c.kind in ("added", "changed")}


def sections_of(chunks: list[Chunk]) -> dict[str, SectionText]:
    """Reassemble section texts from a version's chunks (in document order)."""
    parts: dict[str, list[Chunk]] = {}
    for c in chunks:
        parts.setdefault(c.section_key, []).append(c)
    out = {}
    for key, group in parts.items():
        group.sort(key=lambda c: c.index)
        first = group[0]
        out[key] = SectionText(key, first.label, "\n".join(c.text for c in group), first.page, first.order)
    return dict(sorted(out.items(), key=lambda kv: kv[1].order))


def diff_sections(doc_id: str, old_version: str, new_version: str, old: dict[str, SectionText],
                  new: dict[str, SectionText]) -> VersionDiff:
    diff = VersionDiff(doc_id, old_version, new_version)
    for key, section in new.items():
        if key not in old:
            diff.changes.append(SectionChange(key, section.label, "added", new=section.text))
        elif " ".join(old[key].text.split()) != " ".join(section.text.split()):
            diff.changes.append(SectionChange(key, section.label, "changed", old[key].text, section.text,
                                              word_diff(old[key].text, section.text)))
        else:
            diff.unchanged += 1
    for key, section in old.items():
        if key not in new:
            diff.changes.append(SectionChange(key, section.label, "removed", old=section.text))
    return diff


def word_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    a, b = old.split(), new.split()
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(a[i1:i2])))
        else:
            if i2 > i1:
                out.append(("-", " ".join(a[i1:i2])))
            if j2 > j1:
                out.append(("+", " ".join(b[j1:j2])))
    return tuple(out)


_KIND_DE = {"added": "neu", "removed": "entfallen", "changed": "geändert"}


def to_markdown(diff: VersionDiff, title: str = "") -> str:
    lines = [f"# Änderungen {title or diff.doc_id}: Fassung {diff.old_version} → {diff.new_version}", "",
             f"{diff.count('added')} neu, {diff.count('changed')} geändert, {diff.count('removed')} entfallen, "
             f"{diff.unchanged} unverändert.", ""]
    for c in diff.changes:
        lines.append(f"## {c.label} ({_KIND_DE[c.kind]})")
        lines.append("")
        if c.kind == "changed":
            lines.append(" ".join(t if op == "=" else f"~~{t}~~" if op == "-" else f"**{t}**" for op, t in c.words))
        else:
            lines.append(c.new or c.old)
        lines.append("")
    return "\n".join(lines)


def to_html(diff: VersionDiff, title: str = "") -> str:
    esc = html.escape
    body = [f"<h1>Änderungen {esc(title or diff.doc_id)}: Fassung {esc(diff.old_version)} → {esc(diff.new_version)}</h1>",
            f"<p>{diff.count('added')} neu, {diff.count('changed')} geändert, {diff.count('removed')} entfallen, "
            f"{diff.unchanged} unverändert.</p>"]
    for c in diff.changes:
        body.append(f"<h2>{esc(c.label)} ({_KIND_DE[c.kind]})</h2>")
        if c.kind == "changed":
            words = [esc(t) if op == "=" else f"<del>{esc(t)}</del>" if op == "-" else f"<ins>{esc(t)}</ins>"
                     for op, t in c.words]
            body.append(f"<p>{' '.join(words)}</p>")
        else:
            body.append(f"<p>{esc(c.new or c.old)}</p>")
    style = "del{background:#fdd;text-decoration:line-through}ins{background:#dfd;text-decoration:none}"
    return (f"<!doctype html><html lang=de><meta charset=utf-8><title>Änderungen</title><style>{style}</style>"
            f"<body>{''.join(body)}</body></html>")


def summary_sentences(diff: VersionDiff) -> list[tuple[str, str]]:
    """(section key, German sentence) per change, for answering "Was hat sich geändert?"."""
    out = []
    for c in diff.changes:
        if c.kind == "added":
            out.append((c.key, f"{c.label} ist neu hinzugekommen."))
        elif c.kind == "removed":
            out.append((c.key, f"{c.label} ist entfallen."))
        else:
            removed = " ".join(t for op, t in c.words if op == "-")
            added = " ".join(t for op, t in c.words if op == "+")
            detail = f" („{removed}“ → „{added}“)" if removed and added and len(removed) + len(added) < 200 else ""
            out.append((c.key, f"{c.label} wurde geändert{detail}."))
    return out


def previous_version(versions, current):
    """The non-staged version of the same document that came before `current` (by valid_from)."""
    older = [v for v in versions if v.doc_id == current.doc_id and v.state != "staged"
             and (v.valid_from, v.version) < (current.valid_from, current.version)]
    return max(older, key=lambda v: (v.valid_from, v.version)) if older else None


class DiffCache:
    """Diffs between versions, computed from a retrieval snapshot and kept until the registry changes."""

    def __init__(self):
        self._cache: dict[tuple, VersionDiff] = {}

    def diff(self, snap, doc_id: str, old: str, new: str) -> VersionDiff:
        key = (snap.generation, doc_id, old, new)
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            texts = {v: sections_of([snap.chunks[r] for r in snap.rows.get((doc_id, v), [])]) for v in (old, new)}
            self._cache[key] = diff_sections(doc_id, old, new, texts[old], texts[new])
        return self._cache[key]
