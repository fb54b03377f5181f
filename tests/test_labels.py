"""Citation labels and the reference parser (assistant/labels.py): pure functions, literal inputs."""
from __future__ import annotations

import pytest

from assistant.labels import key_matches, parse_references, reference_text, section_label

ROUND_TRIP_KEYS = [
    "art-50/abs-4",
    "art-5/abs-1/buchst-c",
    "art-3/nr-60",
    "erwg-20",
    "anh-III/nr-4",
    "anh-III/nr-4/buchst-a",
    "ziff-3.2",
    "beschluss-2",
]


@pytest.mark.parametrize("key", ROUND_TRIP_KEYS)
def test_reference_text_parses_back_to_its_key(key):
    assert parse_references(reference_text(key)) == [key]


@pytest.mark.parametrize("key, text", [
    ("art-50/abs-4", "Art. 50 Abs. 4"),
    ("art-5/abs-1/buchst-c", "Art. 5 Abs. 1 Buchst. c"),
    ("art-3/nr-60", "Art. 3 Nr. 60"),
    ("erwg-20", "Erwägungsgrund 20"),
    ("anh-III/nr-4/buchst-a", "Anhang III Nr. 4 Buchst. a"),
    ("ziff-3.2", "Ziff. 3.2"),
    ("beschluss-2", "Beschluss Nr. 2"),
    ("erlaeuterungen", "Erläuterungen"),
])
def test_reference_text_is_the_citation_form(key, text):
    assert reference_text(key) == text


def test_reference_text_drops_the_restart_suffix():
    assert reference_text("anh-VIII/nr-1~2") == "Anhang VIII Nr. 1"


@pytest.mark.parametrize("key, short, kind, label", [
    ("art-50/abs-4", "KI-VO", "regulation", "Art. 50 Abs. 4 KI-VO"),
    ("erwg-20", "KI-VO", "regulation", "Erwägungsgrund 20 KI-VO"),
    ("anh-III/nr-4", "KI-VO", "regulation", "Anhang III Nr. 4 KI-VO"),
    ("beschluss-2", "Ministerrat RLP, TOP 4", "cabinet-decision", "Beschluss Nr. 2 (Ministerrat RLP, TOP 4)"),
    ("erlaeuterungen", "Ministerrat RLP, TOP 4", "cabinet-decision", "Erläuterungen (Ministerrat RLP, TOP 4)"),
    ("ziff-3.2", "LL-KI (fiktiv)", "guideline", "Ziff. 3.2 LL-KI (fiktiv)"),
])
def test_section_label_per_document_kind(key, short, kind, label):
    assert section_label(key, short, kind) == label


@pytest.mark.parametrize("question, keys", [
    ("Was regelt Artikel 50 Absatz 4?", ["art-50/abs-4"]),
    ("Was steht in Art. 50 (4)?", ["art-50/abs-4"]),
    ("What does Article 26(6) require?", ["art-26/abs-6"]),
    ("Was sagt Erwägungsgrund 20?", ["erwg-20"]),
    ("Welche Systeme nennt Anhang III?", ["anh-III"]),
    ("Was gilt nach Ziffer 3.2?", ["ziff-3.2"]),
    ("Art. 5 Abs. 1 lit. c", ["art-5/abs-1/buchst-c"]),
    ("Artikel 5 Absatz 1 Buchstabe c", ["art-5/abs-1/buchst-c"]),
    ("Art. 5 (1) (c)", ["art-5/abs-1/buchst-c"]),
    ("Erwägungsgrund (20)", ["erwg-20"]),
    ("Annex III point 4", ["anh-III/nr-4"]),
    ("Recital 20", ["erwg-20"]),
    ("Was bedeutet Beschluss 3?", ["beschluss-3"]),
])
def test_parse_references_understands_citation_variants(question, keys):
    assert parse_references(question) == keys


def test_parse_references_lists_each_key_once_in_order_of_appearance():
    question = "Wie verhalten sich Erwägungsgrund 20, Artikel 4 und Art. 4 zueinander?"
    assert parse_references(question) == ["erwg-20", "art-4"]


def test_question_without_reference_yields_no_keys():
    assert parse_references("Darf ich private Konten für dienstliche Aufgaben nutzen?") == []


def test_bare_letter_after_paragraph_in_parentheses_is_a_buchstabe():
    assert parse_references("Art. 5 (1) c") == ["art-5/abs-1/buchst-c"]


def test_key_matches_the_section_itself_and_its_parts():
    assert key_matches("art-50", "art-50")
    assert key_matches("art-50", "art-50/abs-4")
    assert key_matches("art-5/abs-1", "art-5/abs-1/buchst-c")


def test_key_matches_no_other_number_with_the_same_prefix():
    assert not key_matches("art-5", "art-50/abs-4")
    assert not key_matches("art-50/abs-4", "art-5")
    assert not key_matches("erwg-2", "erwg-20")


def test_key_matches_no_sibling_section():
    assert not key_matches("art-50/abs-4", "art-50/abs-3")


def test_key_matches_ignores_the_restart_suffix():
    assert key_matches("anh-VIII/nr-1", "anh-VIII/nr-1~2")
