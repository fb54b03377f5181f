"""The e5 encoder run by ONNX Runtime: the same tokenizer, truncation, mean pooling and normalisation as
sentence-transformers, about twice as fast per query on the CPU (`make bench` prints both).

The ONNX file is exported at set-up by `scripts/export_onnx.py`. The torch backend stays available
(`ASSISTANT_EMBEDDING_BACKEND=torch`) and is used when the export is missing.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ONNX_FILE = Path("onnx") / "model.onnx"
MAX_TOKENS = 512


def onnx_available(model_dir: str | Path) -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return (Path(model_dir) / ONNX_FILE).is_file()


class OnnxEncoder:
    def __init__(self, model_dir: str | Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_dir / ONNX_FILE), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], prompt: str, batch_size: int = 16) -> np.ndarray:
        """Normalised mean-pooled vectors of `prompt + text`, in the order given."""
        encodings = self.tokenizer.encode_batch([prompt + t for t in texts])
        out = np.zeros((len(texts), 384), dtype=np.float32)
        # batches of similar length waste little on padding (sentence-transformers sorts the same way)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[j, :n] = encodings[i].ids
                mask[j, :n] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out
