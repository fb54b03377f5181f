"""Synthetic copies of the AI Act for the scaling runs, and a stand-in passage encoder for them.

Copy i is the AI Act Markdown with a few words swapped (a copy-specific involution, e.g.
Anbieter <-> Hersteller) and the tag " (Kopie i)" inserted before the end of every sentence, so every
chunk text and every sentence differs from the original and from every other copy: nothing can be
served from the embedding cache. Headings and the Absatz/Buchstabe markers are left alone, so a copy
has the same sections and (nearly) the same chunks as the original. Each copy is registered as its own
regulation (`synth-kopie-i`, short name `KI-VO-Ki`) through `ingest_version`.

Encoding 5x or 20x the corpus takes 15-60 minutes on two cores, so the scaling runs ingest the copies
through the real pipeline with the model's *passage* encoder replaced by `PerturbedVectors`: the vector
of the original passage (undo the swaps and tags, look it up among the real 1x vectors) plus a small
deterministic perturbation (cosine ~0.999 to the original). Query encoding stays real. The encode time
at scale is then estimated from really encoding a stride sample of the synthetic passages.
"""
from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.storage.models import PASSAGE_PROMPT, Embedder, text_hash
from assistant.records import DocumentVersion
from assistant.text.sentences import split_sentences

# Pairs swapped in both directions (so applying the swap twice gives back the original text). None of
# these words occurs in the document title or in a structural heading keyword (Artikel, Anhang, ...).
SWAP_PAIRS = [("Anbieter", "Hersteller"), ("insbesondere", "besonders"), ("sollte", "könnte"),
              ("sollten", "könnten"), ("erhebliche", "wesentliche"), ("Daten", "Angaben"),
              ("Kommission", "Behörde"), ("Gesundheit", "Sicherheit")]
SWAPS_PER_COPY = 3
_END = re.compile(r"[.;:,!?]+[“”\")]*$")
_LONG_GAP = re.compile(r".{500}\S*(?=\s)")


def tag(i: int) -> str:
    return f" (Kopie {i})"


def swapper(i: int):
    """The word swap of copy i (an involution: swapping twice restores the text)."""
    pairs = [SWAP_PAIRS[(i * SWAPS_PER_COPY + j) % len(SWAP_PAIRS)] for j in range(SWAPS_PER_COPY)]
    table = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, table)) + r")\b")
    return lambda text: pattern.sub(lambda m: table[m.group(1)], text)


def _tag_sentence(sentence: str, label: str) -> str:
    m = _END.search(sentence)
    body, end = (sentence[:m.start()], sentence[m.start():]) if m else (sentence, "")
    # a very long sentence may be cut inside by the chunker: tag it every ~500 characters as well
    body = _LONG_GAP.sub(lambda g: g.group(0) + label, body)
    return body + label + end


def _tag_line(line: str, label: str) -> str:
    out, pos = [], 0
    for sentence in split_sentences(line):
        at = line.find(sentence, pos)
        if at < 0:  # cannot happen (sentences are substrings); keep the line intact rather than guess
            return line + label
        out.append(line[pos:at])
        out.append(_tag_sentence(sentence, label))
        pos = at + len(sentence)
    out.append(line[pos:])
    return "".join(out)


def synthetic_markdown(original: str, i: int) -> str:
    """The text of copy i: every sentence altered, the structure (headings, markers) unchanged."""
    swap, label = swapper(i), tag(i)
    out = []
    for line in original.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("<!--"):
            out.append(line)
        elif stripped.startswith("#"):
            out.append(swap(line))
        else:
            out.append(_tag_line(swap(line), label))
    return "\n".join(out)


def synthetic_version(original: DocumentVersion, i: int) -> DocumentVersion:
    return replace(original, doc_id=f"synth-kopie-{i}", title=synthetic_title(original.title, i),
                   short=f"{original.short}-K{i}", sha256="", file=f"synth-kopie-{i}.md", url="",
                   note=f"Synthetische Kopie {i} für Benchmarks (jeder Satz verändert).")


def synthetic_title(title: str, i: int) -> str:
    return f"{title} [synthetische Kopie {i}]"


def write_copy(original: DocumentVersion, original_path: Path, i: int, folder: Path) -> tuple[DocumentVersion, Path]:
    doc = synthetic_version(original, i)
    path = folder / doc.file
    path.write_text(synthetic_markdown(original_path.read_text(encoding="utf-8"), i), encoding="utf-8")
    return doc, path


def read_cache_vectors(cache_path: Path, model: str) -> dict[str, np.ndarray]:
    """All passage vectors of one model from an embedding-cache file (read-only)."""
    db = sqlite3.connect(f"file:{cache_path}?mode=ro", uri=True)
    try:
        return {h: np.frombuffer(v, dtype=np.float32) for h, v in db.execute("SELECT h, v FROM emb WHERE model = ?",
                                                                              (model,))}
    finally:
        db.close()


class PerturbedVectors:
    """Stand-in for the passage encoder while synthetic copies are ingested (clearly not the model).

    vector(copy text) = normalise(real vector of the original text + noise of norm `noise`), the noise
    seeded by the copy text's hash. When a synthetic chunk has no exact original (the inserted tags
    moved a chunk boundary), a real vector chosen by the hash is used instead (counted as `misses`).
    """

    def __init__(self, real: dict[str, np.ndarray], original_title: str, *, noise: float = 0.05):
        self.real = real
        self.pool = np.stack(list(real.values()))
        self.original_title = original_title
        self.noise = noise
        self.copy = 0
        self.texts: list[str] = []
        self.hits = self.misses = 0
        self.seconds = 0.0

    def original_text(self, text: str) -> str:
        text = text.replace(synthetic_title(self.original_title, self.copy), self.original_title)
        return swapper(self.copy)(text.replace(tag(self.copy), ""))

    def vector(self, text: str) -> np.ndarray:
        seed = int(text_hash(text)[:16], 16)
        base = self.real.get(text_hash(self.original_text(text)))
        if base is None:
            self.misses += 1
            base = self.pool[seed % len(self.pool)]
        else:
            self.hits += 1
        noise = np.random.default_rng(seed).standard_normal(base.shape[0]).astype(np.float32)
        v = base + self.noise * noise / np.linalg.norm(noise)
        return v / np.linalg.norm(v)

    def encode(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        self.texts.extend(texts)
        out = np.stack([self.vector(t) for t in texts]).astype(np.float32)
        self.seconds += time.perf_counter() - started
        return out


def install(embedder: Embedder, fake: PerturbedVectors) -> None:
    """Route this embedder's passage encoding to `fake`; queries still go through the model."""
    real = embedder._encode

    def _encode(texts: list[str], prompt: str) -> np.ndarray:
        return fake.encode(texts) if prompt == PASSAGE_PROMPT else real(texts, prompt)

    embedder._encode = _encode


def uninstall(embedder: Embedder) -> None:
    embedder.__dict__.pop("_encode", None)
