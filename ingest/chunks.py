"""Sections -> chunks that never cross a section and fit the embedding model (pure functions)."""
from __future__ import annotations

import hashlib

from assistant.records import Chunk, Section
from assistant.text.sentences import pack_sentences


def chunk_id(doc_id: str, section_key: str, text: str) -> str:
    """Stable identity: the same text in the same section of the same document is the same chunk,
    whichever version it belongs to, so unchanged sections are stored and embedded once."""
    return hashlib.sha256(f"{doc_id}\x1f{section_key}\x1f{text}".encode()).hexdigest()[:24]


def chunk_sections(sections: list[Section], *, max_chars: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for order, section in enumerate(sections):
        offset = 0
        for index, piece in enumerate(pack_sentences(section.text, max_chars)):
            # the piece's first words locate it in the section text, and so its page
            found = section.text.find(piece[:40], offset)
            offset = found if found >= 0 else offset
            chunks.append(Chunk(chunk_id=chunk_id(section.doc_id, section.key, piece), doc_id=section.doc_id,
                                section_key=section.key, label=section.label, heading=section.heading, text=piece,
                                page=section.page_at(offset), index=index, order=order, kind=section.kind,
                                anchor=section.anchor, context=section.context))
    return chunks
