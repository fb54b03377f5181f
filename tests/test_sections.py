"""Sections of the real corpus files: the AI Act (Markdown) and the cabinet decision (text with PDF artefacts).

Pure functions on the files in corpus/; no index, no model.
"""
from __future__ import annotations

import re

import pytest

from conftest import ROOT
from assistant.records import Line
from ingest.chunks import chunk_sections
from ingest.clean import join_broken_lines, repair_text
from ingest.load import load_lines
from ingest.manifest import read_manifest
from ingest.pipeline import read_document
from ingest.sections import split_sections

CORPUS = ROOT / "corpus"


def _manifest_entry(doc_id: str):
    return next(d for d in read_manifest(CORPUS / "manifest.toml") if d.doc_id == doc_id)


@pytest.fixture(scope="module")
def ai_act():
    doc = _manifest_entry("eu-ai-act")
    sections = split_sections(doc, load_lines(CORPUS / doc.file), markdown=True)
    return {s.key: s for s in sections}, sections


@pytest.fixture(scope="module")
def decision():
    doc = _manifest_entry("ministerrat-rlp-2025-06-top4")
    sections = read_document(CORPUS / doc.file, doc)
    return {s.key: s for s in sections}, sections


# --- AI Act: articles ------------------------------------------------------------------------

ART_4 = ("Die Anbieter und Betreiber von KI-Systemen ergreifen Maßnahmen, um nach besten Kräften sicherzustellen, "
         "dass ihr Personal und andere Personen, die in ihrem Auftrag mit dem Betrieb und der Nutzung von "
         "KI-Systemen befasst sind, über ein ausreichendes Maß an KI-Kompetenz verfügen, wobei ihre technischen "
         "Kenntnisse, ihre Erfahrung, ihre Ausbildung und Schulung und der Kontext, in dem die KI-Systeme "
         "eingesetzt werden sollen, sowie die Personen oder Personengruppen, bei denen die KI-Systeme eingesetzt "
         "werden sollen, zu berücksichtigen sind.")


def test_article_without_absaetze_is_one_whole_section(ai_act):
    by_key, sections = ai_act
    art4 = by_key["art-4"]
    assert (art4.label, art4.heading, art4.kind, art4.text) == ("Art. 4 KI-VO", "Artikel 4 – KI-Kompetenz",
                                                               "article", ART_4)
    assert [s.key for s in sections if s.key.startswith("art-4/")] == []


def test_absatz_is_a_section_starting_with_its_number(ai_act):
    s = ai_act[0]["art-26/abs-6"]
    assert s.label == "Art. 26 Abs. 6 KI-VO"
    assert s.heading == "Artikel 26 – Pflichten der Betreiber von Hochrisiko-KI-Systemen, Absatz 6"
    assert s.text.startswith("(6) Betreiber von Hochrisiko-KI-Systemen bewahren die von ihrem "
                             "Hochrisiko-KI-System automatisch erzeugten Protokolle")


def test_deepfake_disclosure_is_art_50_abs_4(ai_act):
    s = ai_act[0]["art-50/abs-4"]
    assert s.label == "Art. 50 Abs. 4 KI-VO"
    assert s.text.startswith("(4) Betreiber eines KI-Systems, das Bild-, Ton- oder Videoinhalte erzeugt oder "
                             "manipuliert, die ein Deepfake sind, müssen offenlegen")


def test_article_50_has_absaetze_1_to_7(ai_act):
    keys = [s.key for s in ai_act[1] if s.key.split("/")[0] == "art-50"]
    assert keys == [f"art-50/abs-{n}" for n in range(1, 8)]


def test_each_definition_of_article_3_is_a_section(ai_act):
    by_key, sections = ai_act
    assert [s.key for s in sections if s.key.startswith("art-3/")] == [f"art-3/nr-{n}" for n in range(1, 69)]
    assert by_key["art-3"].text == "Für die Zwecke dieser Verordnung bezeichnet der Ausdruck"


def test_definition_60_is_deepfake_with_the_lead_in_as_context(ai_act):
    s = ai_act[0]["art-3/nr-60"]
    assert s.label == "Art. 3 Nr. 60 KI-VO"
    assert s.heading == "Artikel 3 – Begriffsbestimmungen, Nummer 60"
    assert s.text.startswith("60. „Deepfake“ einen durch KI erzeugten oder manipulierten Bild-, Ton- oder "
                             "Videoinhalt")
    assert s.context == "Für die Zwecke dieser Verordnung bezeichnet der Ausdruck"


def test_buchstabe_of_a_long_absatz_is_a_section(ai_act):
    s = ai_act[0]["art-5/abs-1/buchst-c"]
    assert s.label == "Art. 5 Abs. 1 Buchst. c KI-VO"
    assert s.heading == "Artikel 5 – Verbotene Praktiken im KI-Bereich, Absatz 1, Buchstabe c"
    assert s.text.startswith("c) das Inverkehrbringen, die Inbetriebnahme oder die Verwendung von KI-Systemen zur "
                             "Bewertung oder Einstufung von natürlichen Personen")
    assert s.context == "(1) Folgende Praktiken im KI-Bereich sind verboten:"


def test_roman_subpoints_stay_inside_their_buchstabe(ai_act):
    by_key, _ = ai_act
    buchst_c = by_key["art-5/abs-1/buchst-c"].text
    assert "i) Schlechterstellung oder Benachteiligung bestimmter natürlicher Personen" in buchst_c
    assert [k for k in by_key if k.startswith("art-5/abs-1/")] == [f"art-5/abs-1/buchst-{c}" for c in "abcdefgh"]


def test_section_keys_are_unique(ai_act):
    keys = [s.key for s in ai_act[1]]
    assert len(keys) == len(set(keys))


def test_article_sections_carry_the_article_anchor(ai_act):
    anchors = {s.anchor for s in ai_act[1] if s.key.split("/")[0] == "art-50"}
    assert anchors == {"#art_50"}


def test_markdown_sections_have_no_page(ai_act):
    assert {s.page for s in ai_act[1]} == {None}


def test_last_article_ends_before_the_schlussformel(ai_act):
    assert ai_act[0]["art-113"].text.endswith(
        "Diese Verordnung ist in allen ihren Teilen verbindlich und gilt unmittelbar in jedem Mitgliedstaat.")


@pytest.mark.parametrize("closing_text", ["Geschehen zu Brüssel am 13. Juni 2024.", "R. METSOLA", "M. MICHEL"])
def test_schlussformel_produces_no_section(ai_act, closing_text):
    assert [s.key for s in ai_act[1] if closing_text in s.text] == []


@pytest.mark.parametrize("footnote", ["ABl. C 517 vom 22.12.2021, S. 56.",
                                      "Standpunkt des Europäischen Parlaments vom 13. März 2024"])
def test_footnote_block_produces_no_section(ai_act, footnote):
    assert [s.key for s in ai_act[1] if footnote in s.text] == []


def test_last_section_is_the_last_item_of_annex_xiii(ai_act):
    last = ai_act[1][-1]
    assert last.key == "anh-XIII"
    assert last.text.endswith("g) die Zahl der registrierten Endnutzer.")


# --- AI Act: recitals and annexes --------------------------------------------------------------

def test_all_180_recitals_are_sections_in_order(ai_act):
    assert [s.key for s in ai_act[1] if s.kind == "recital"] == [f"erwg-{n}" for n in range(1, 181)]


def test_recital_20_is_about_ki_kompetenz(ai_act):
    s = ai_act[0]["erwg-20"]
    assert (s.label, s.heading, s.kind, s.anchor) == ("Erwägungsgrund 20 KI-VO", "Erwägungsgrund 20", "recital",
                                                      "#rct_20")
    assert s.text.startswith("Um den größtmöglichen Nutzen aus KI-Systemen zu ziehen und gleichzeitig die "
                             "Grundrechte, Gesundheit und Sicherheit zu wahren")
    assert "sollte die KI-Kompetenz Anbieter, Betreiber und betroffene Personen mit den notwendigen Konzepten " \
           "ausstatten" in s.text


def test_annex_iii_items_1_to_8_are_sections(ai_act):
    items = [s.key for s in ai_act[1] if re.fullmatch(r"anh-III/nr-\d+", s.key)]
    assert items == [f"anh-III/nr-{n}" for n in range(1, 9)]


def test_annex_iii_item_4_is_employment_with_each_use_case_citable(ai_act):
    s = ai_act[0]["anh-III/nr-4"]
    assert (s.label, s.heading, s.kind, s.anchor) == (
        "Anhang III Nr. 4 KI-VO", "Anhang III Nummer 4 – Beschäftigung", "annex", "#anx_III")
    assert s.text == "4. Beschäftigung, Personalmanagement und Zugang zur Selbstständigkeit"
    a = ai_act[0]["anh-III/nr-4/buchst-a"]
    assert a.label == "Anhang III Nr. 4 Buchst. a KI-VO"
    assert a.text.startswith("a) KI-Systeme, die bestimmungsgemäß für die Einstellung oder Auswahl natürlicher "
                             "Personen verwendet werden sollen")
    assert a.context == "4. Beschäftigung, Personalmanagement und Zugang zur Selbstständigkeit"


def test_chunks_fit_the_limit_and_are_verbatim_parts_of_their_section(ai_act):
    by_key, sections = ai_act
    chunks = chunk_sections(sections, max_chars=1400)
    assert max(len(c.text) for c in chunks) <= 1400
    assert [c.chunk_id for c in chunks if c.text not in by_key[c.section_key].text] == []
    assert {c.section_key for c in chunks} == set(by_key)


# --- cabinet decision (text file, cleaned up by read_document) -----------------------------------

def test_decision_has_four_points_and_the_explanations(decision):
    assert [s.key for s in decision[1]] == ["beschluss-1", "beschluss-2", "beschluss-3", "beschluss-4",
                                            "erlaeuterungen"]


def test_decision_labels_name_point_and_source(decision):
    by_key = decision[0]
    assert by_key["beschluss-2"].label == "Beschluss Nr. 2 (Ministerrat RLP, TOP 4)"
    assert by_key["erlaeuterungen"].label == "Erläuterungen (Ministerrat RLP, TOP 4)"


def test_decision_point_text_and_heading(decision):
    s = decision[0]["beschluss-2"]
    assert s.text.startswith("2. Der Ministerrat erteilt dem Ministerium für Arbeit, Soziales, Transformation und "
                             "Digitalisierung (MASTD) die Federführung")
    assert s.heading.startswith("TOP 4: Verabschiedung des „Ökosystems Künstliche Intelligenz“")
    assert s.heading.endswith(" – Beschluss Nr. 2")


def test_decision_repairs_split_place_name(decision):
    sections = decision[1]
    assert [s.key for s in sections if "Rheinland- Pfalz" in s.text + s.heading] == []
    assert "in der Landesverwaltung Rheinland-Pfalz“ sind ein lebendes Konstrukt" in \
        decision[0]["erlaeuterungen"].text
    assert "Landesverwaltung Rheinland-Pfalz“" in sections[0].heading


def test_decision_repairs_spaced_hyphen(decision):
    text = decision[0]["erlaeuterungen"].text
    assert "Aufklärung über KI-Anwendungen im Allgemeinen" in text
    assert "KI - Anwendungen" not in text


def test_decision_keeps_suspended_hyphen_before_und(decision):
    assert "legen ein Organisations- und Zusammenarbeitsmodell für die Landesregierung" in \
        decision[0]["erlaeuterungen"].text


def test_decision_joins_sentence_split_by_page_break(decision):
    assert "das Potential besitzt, Prozesse zu beschleunigen, die Effizienz zu steigern und bürgerfreundlichere" in \
        decision[0]["erlaeuterungen"].text


# --- clean-up functions (literal inputs) ---------------------------------------------------------

@pytest.mark.parametrize("raw, repaired", [
    ("Landesverwaltung Rheinland- Pfalz", "Landesverwaltung Rheinland-Pfalz"),
    ("über KI - Anwendungen", "über KI-Anwendungen"),
    ("ein Organisations - und Zusammenarbeitsmodell", "ein Organisations- und Zusammenarbeitsmodell"),
    ("Sicherheits- oder Datenschutzvorfälle", "Sicherheits- oder Datenschutzvorfälle"),
    ("Bild-, Ton- oder Videoinhalte", "Bild-, Ton- oder Videoinhalte"),
    ("Art. 5 – Verbotene Praktiken", "Art. 5 – Verbotene Praktiken"),
])
def test_repair_text(raw, repaired):
    assert repair_text(raw) == repaired


def test_line_end_hyphenation_is_joined_into_one_word():
    lines = [Line("nach Maßgabe der einschlägigen Verwaltungs-", 4), Line("vorschrift sowie der Weisungen", 4)]
    joined = "nach Maßgabe der einschlägigen Verwaltungsvorschrift sowie der Weisungen"
    assert join_broken_lines(lines) == [Line(joined, 4)]


def test_suspended_hyphen_before_conjunction_is_not_joined_into_a_word():
    lines = [Line("Aufklärung von Sicherheits-", 6), Line("oder Datenschutzvorfällen", 6)]
    assert join_broken_lines(lines) == lines


def test_sentence_continued_after_page_break_is_joined_with_the_first_page_number():
    lines = [Line("eine Freigabe nach dieser Fällt der", 4), Line("", 4), Line("Anwendungsfall in die Kategorie", 5)]
    assert join_broken_lines(lines) == [Line("eine Freigabe nach dieser Fällt der Anwendungsfall in die Kategorie", 4)]


def test_list_item_after_open_line_is_not_joined():
    lines = [Line("wenn und insoweit dies für eines der folgenden Ziele erforderlich ist", 1),
             Line("i) gezielte Suche nach bestimmten Opfern", 1)]
    assert join_broken_lines(lines) == lines


def test_heading_is_not_joined_with_the_following_text():
    lines = [Line("4.3 Keine automatisierten Entscheidungen", 4), Line("", 4), Line("Entscheidungen mit", 4)]
    assert join_broken_lines(lines) == [lines[0], Line("", 4), lines[2]]
