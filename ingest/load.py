"""Read a document file into lines with page numbers: PDF (pypdf), Markdown, plain text.

Every refusal names the file and says what to do; nothing here touches the index.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from assistant.errors import InputError
from assistant.records import Line

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PAGES = 2000
TEXT_SUFFIXES = {".md", ".markdown", ".txt"}


def load_lines(path: Path, *, max_bytes: int = MAX_FILE_BYTES, max_pages: int = MAX_PAGES) -> list[Line]:
    """Lines of a document; PDF lines carry their page number, header/footer lines are removed."""
    if not path.is_file():
        raise InputError(f"{path}: file not found. Check the path; nothing was changed.")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes). Supply the complete document; nothing was changed.")
    if size > max_bytes:
        raise InputError(f"{path}: {size / 1e6:.1f} MB is larger than the limit of {max_bytes / 1e6:.0f} MB. "
                         "Split the document or raise the limit; nothing was changed.")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise InputError(f"{path}: not a PDF file (no PDF header), although it is named .pdf. "
                             "Export the document as PDF again; nothing was changed.")
        return _pdf_lines(path, data, max_pages)
    if suffix in TEXT_SUFFIXES:
        return _text_lines(path, data)
    raise InputError(f"{path}: unsupported file type '{suffix}'. Use PDF, Markdown (.md) or text (.txt).")


def _text_lines(path: Path, data: bytes) -> list[Line]:
    if data.startswith(b"%PDF-"):
        raise InputError(f"{path}: this is a PDF file with a text name. Rename it to .pdf and add it again.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text (byte {exc.start}). Save the file as UTF-8 and add it "
                         "again; nothing was changed.") from None
    if "\x00" in text:
        raise InputError(f"{path}: contains binary data (NUL bytes); it is not a text document.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{path}: contains no text. Supply the complete document; nothing was changed.")
    return [Line(t) for t in text.split("\n")]


def _pdf_lines(path: Path, data: bytes, max_pages: int) -> list[Line]:
    from io import BytesIO

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            raise InputError(f"{path}: the PDF is encrypted. Save an unprotected copy and add that; nothing was changed.")
        n_pages = len(reader.pages)
        if n_pages > max_pages:
            raise InputError(f"{path}: {n_pages} pages is more than the limit of {max_pages}. "
                             "Split the document or raise the limit; nothing was changed.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise InputError(f"{path}: the PDF cannot be read ({type(exc).__name__}: {exc}). "
                         "The file may be damaged; export it again. Nothing was changed.") from None
    if sum(len(p.strip()) for p in pages) < 20:
        raise InputError(f"{path}: no extractable text (scanned PDF?). Supply a PDF with a text layer or "
                         "a Markdown version; nothing was changed.")
    page_lines = [[t for t in p.split("\n")] for p in pages]
    repeated = _repeated_lines(page_lines)
    lines: list[Line] = []
    for number, texts in enumerate(page_lines, start=1):
        for t in texts:
            if _shape(t) in repeated:
                continue
            lines.append(Line(t, number))
        lines.append(Line("", number))
    return lines


def _shape(line: str) -> str:
    """Header/footer lines repeat with a different page number: compare them with digits masked."""
    return re.sub(r"\d+", "#", line.strip().lower())


def _repeated_lines(page_lines: list[list[str]]) -> set[str]:
    """Shapes of lines that stand in the first or last three lines of most pages (running heads, footers)."""
    if len(page_lines) < 3:
        return {s for s in (_shape(t) for p in page_lines for t in p) if re.fullmatch(r"(seite )?#( von #)?|- # -", s)}
    counts: Counter[str] = Counter()
    for texts in page_lines:
        edge = [t for t in texts if t.strip()]
        for shape in {_shape(t) for t in edge[:3] + edge[-3:]}:
            counts[shape] += 1
    threshold = max(2, int(0.6 * len(page_lines)))
    return {s for s, c in counts.items() if c >= threshold and s}
