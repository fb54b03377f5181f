"""The project's small vocabulary: frozen records passed between the stages.

LangChain and Chroma types are converted to and from these at the edges, so the rest of the code
speaks only in these terms.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class DocumentVersion:
    """One version of one document, as the manifest or an upload describes it."""

    doc_id: str
    version: str
    valid_from: str  # ISO date
    title: str
    short: str  # citation short name, e.g. "KI-VO"
    kind: str  # regulation | cabinet-decision | guideline
    issuer: str = ""
    sha256: str = ""
    file: str = ""
    url: str = ""
    licence: str = ""
    valid_from_approx: bool = False
    note: str = ""
    state: str = "active"  # staged | active | retired


@dataclass(frozen=True)
class Line:
    """A line of extracted text and the page it stands on (None for Markdown and plain text)."""

    text: str
    page: int | None = None


@dataclass(frozen=True)
class Section:
    """The smallest citable unit of a document: an Absatz, a Buchstabe, a definition, a Ziffer."""

    doc_id: str
    key: str  # normalised numbering path, stable across versions: "art-50/abs-4"
    label: str  # "Art. 50 Abs. 4 KI-VO"
    heading: str  # "Artikel 50 – Transparenzpflichten …, Absatz 4"
    text: str
    page: int | None = None
    kind: str = "article"  # article | recital | annex | decision | guideline | other
    anchor: str = ""  # fragment of the official address, e.g. "#art_50"
    context: str = ""  # lead-in text that the section continues (list introductions)
    line_pages: tuple = ()  # page of each line of `text` (PDF), so a chunk knows where it starts

    def page_at(self, offset: int) -> int | None:
        """Page of the character at `offset` in `text`."""
        if not self.line_pages:
            return self.page
        line = self.text.count("\n", 0, max(0, offset))
        return self.line_pages[min(line, len(self.line_pages) - 1)]


@dataclass(frozen=True)
class Chunk:
    """A piece of one section, small enough for the embedding model to read whole."""

    chunk_id: str
    doc_id: str
    section_key: str
    label: str
    heading: str
    text: str
    page: int | None
    index: int  # position of the piece inside its section
    order: int  # position of the section inside the document
    kind: str
    anchor: str = ""
    context: str = ""

    def embedding_text(self, doc_title: str) -> str:
        """What the models read: document and section heading first, so a piece keeps its label."""
        head = f"{doc_title} – {self.heading}"
        if self.context:
            head = f"{head}\n{self.context}"
        return f"{head}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the version it was retrieved from and its fused score."""

    chunk: Chunk
    version: str
    valid_from: str
    title: str
    score: float
    rank: int
    url: str = ""
    signals: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        c = self.chunk
        return {"rank": self.rank, "doc_id": c.doc_id, "section": c.label, "section_key": c.section_key,
                "chunk_id": c.chunk_id, "version": self.version, "page": c.page,
                "score": round(self.score, 6), "text": c.text}


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    section: str
    section_key: str
    chunk_id: str
    version: str
    valid_from: str
    page: int | None
    url: str
    quote: str


@dataclass(frozen=True)
class Answer:
    text: str
    refused: bool
    mode: str
    citations: tuple[Citation, ...]
    retrieved: tuple[Hit, ...]
    notes: tuple[str, ...] = ()
    timings_ms: dict = field(default_factory=dict)
    signals: dict = field(default_factory=dict)
    related: tuple[Hit, ...] = ()  # "möglicherweise verwandt" passages shown with a refusal

    def to_dict(self) -> dict:
        return {"text": self.text, "refused": self.refused, "mode": self.mode,
                "citations": [asdict(c) for c in self.citations],
                "retrieved": [h.to_dict() for h in self.retrieved],
                "related": [h.to_dict() for h in self.related],
                "notes": list(self.notes), "timings_ms": dict(self.timings_ms),
                "signals": dict(self.signals)}
