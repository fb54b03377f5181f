"""The ONNX Runtime encoder gives the same vectors as sentence-transformers with torch."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import MODEL_DIR

from assistant.errors import StorageError
from assistant.storage.models import PASSAGE_PROMPT, QUERY_PROMPT, Embedder
from assistant.storage.onnx_encoder import OnnxEncoder, onnx_available

TEXTS = ["Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?",
         "Was ist ein KI-System?", "Ü", "What does the AI Act say about deepfakes?",
         "(6) Betreiber von Hochrisiko-KI-Systemen bewahren die von ihrem Hochrisiko-KI-System automatisch erzeugten "
         "Protokolle auf, soweit diese Protokolle ihrer Kontrolle unterliegen, für einen Zeitraum von mindestens "
         "sechs Monaten. " * 12]  # longer than the model reads: truncated the same way


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder(str(MODEL_DIR), backend="torch")


@pytest.mark.parametrize("prompt", [QUERY_PROMPT, PASSAGE_PROMPT])
def test_onnx_vectors_match_torch_vectors(torch_embedder, prompt):
    assert onnx_available(MODEL_DIR), "make setup exports the ONNX file"
    reference = torch_embedder._encode(TEXTS, prompt)
    vectors = OnnxEncoder(MODEL_DIR).encode(TEXTS, prompt, batch_size=2)
    cosines = (reference * vectors).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_onnx_is_the_default_backend_and_torch_the_fallback_setting():
    assert Embedder(str(MODEL_DIR)).backend == "onnx"
    assert Embedder(str(MODEL_DIR), backend="torch").backend == "torch"
    assert Embedder("no/such/model-folder").backend == "torch"  # no export there: torch
    with pytest.raises(StorageError, match="ASSISTANT_EMBEDDING_BACKEND"):
        Embedder(str(MODEL_DIR), backend="tensorflow")
