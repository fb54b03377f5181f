"""The only place that names model backends: the embedding model (and, later, the LLM).

Embeddings are always computed with the E5 prompts ("query: " / "passage: ") and passage
embeddings are cached by (model, text hash), so unchanged text is never encoded twice.
"""
from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

from assistant.errors import StorageError, write_failed
from assistant.storage.onnx_encoder import OnnxEncoder, onnx_available

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "torch")
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class EmbeddingCache:
    """Vectors by (model, text hash) in a small SQLite file; safe to share between index builds."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (model TEXT, h TEXT, v BLOB, PRIMARY KEY (model, h))")
            self._db.commit()
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: embedding cache cannot be opened ({exc}). Check the data directory.") from None
        self._lock = threading.Lock()

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                part = hashes[start:start + 500]
                rows = self._db.execute(
                    f"SELECT h, v FROM emb WHERE model = ? AND h IN ({','.join('?' * len(part))})", [model, *part])
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            try:
                self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                                     [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()])
                self._db.commit()
            except sqlite3.Error as exc:
                self._db.rollback()
                raise write_failed(self.path, exc) from None


class Embedder:
    """A sentence-transformers E5 model, loaded lazily from a local folder (or a hub id when online)."""

    def __init__(self, model: str, *, cache: EmbeddingCache | None = None, batch_size: int = 16,
                 backend: str = "onnx"):
        if backend not in BACKENDS:
            raise StorageError(f"embedding backend '{backend}' is not one of {', '.join(BACKENDS)} "
                               "(ASSISTANT_EMBEDDING_BACKEND).")
        self.model_name = model
        # ONNX Runtime when the export exists (make setup writes it), else torch
        self.backend = "onnx" if backend == "onnx" and onnx_available(model) else "torch"
        self.cache = cache
        self.batch_size = batch_size
        self.encoded = 0  # passages actually run through the model (not served from the cache)
        self._model = None
        self._onnx = None
        self._lock = threading.Lock()
        self._query_cache: dict[str, np.ndarray] = {}

    @property
    def fingerprint(self) -> str:
        """What the index records about the model: its name (folder name for local folders)."""
        path = Path(self.model_name)
        return path.name if path.exists() else self.model_name

    def _load(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                path = Path(self.model_name)
                if not path.exists() and ("/" not in self.model_name or self.model_name.startswith((".", "/"))):
                    raise StorageError(f"embedding model folder '{self.model_name}' not found. "
                                       "Run `make setup` to build it (or set ASSISTANT_EMBEDDING_MODEL).")
                log.info("loading embedding model %s", self.model_name)
                self._model = SentenceTransformer(str(path) if path.exists() else self.model_name, device="cpu")
        return self._model

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if self.backend == "onnx":
            with self._lock:
                if self._onnx is None:
                    self._onnx = OnnxEncoder(self.model_name)
            return self._onnx.encode(texts, prompt, self.batch_size)
        model = self._load()
        vectors = model.encode(texts, prompt=prompt, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        # several sessions ask at once: read the shared cache into a local dict, never index it twice
        found = {t: self._query_cache.get(t) for t in dict.fromkeys(texts)}
        missing = [t for t, v in found.items() if v is None]
        if missing:
            for text, vec in zip(missing, self._encode(missing, QUERY_PROMPT)):
                found[text] = vec
                if len(self._query_cache) > 2000:
                    self._query_cache = {}
                self._query_cache[text] = vec
        return np.stack([found[t] for t in texts])

    def encode_passages(self, texts: list[str], progress=None) -> np.ndarray:
        """Passage vectors, from the cache where possible; `progress(n_done)` is called per batch."""
        return self._encode_cached(texts, PASSAGE_PROMPT, self.fingerprint, progress)

    def encode_questions(self, texts: list[str], progress=None) -> np.ndarray:
        """Query vectors of the question index's questions, cached like passages (under their own key)."""
        return self._encode_cached(texts, QUERY_PROMPT, f"{self.fingerprint}|query", progress)

    def _encode_cached(self, texts: list[str], prompt: str, key: str, progress=None) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        known = self.cache.get_many(key, hashes) if self.cache else {}
        todo = list(dict.fromkeys(t for t, h in zip(texts, hashes) if h not in known))
        step = max(self.batch_size * 4, 64)
        for start in range(0, len(todo), step):
            batch = todo[start:start + step]
            vectors = self._encode(batch, prompt)
            new = {text_hash(t): v for t, v in zip(batch, vectors)}
            known.update(new)
            if self.cache:
                self.cache.put_many(key, new)
            self.encoded += len(batch)
            if progress:
                progress(len(batch))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([known[h] for h in hashes])


def chat_model(settings, *, streaming: bool = True):
    """The LLM of the optional generative mode: any OpenAI-compatible endpoint (vLLM, Ollama, a cloud).

    Imported here so the extractive mode never loads LangChain's OpenAI client. Never call
    `get_num_tokens()` on the result: it would try to download a tokenizer, and we run offline.
    """
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model,
                      api_key=settings.llm_api_key or "not-needed",  # local servers ignore it, the client insists
                      temperature=0, streaming=streaming, timeout=60, max_retries=1)
