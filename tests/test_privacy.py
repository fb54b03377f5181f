"""Personal data is found in German questions and replaced; legal references are left alone."""
from __future__ import annotations

import pytest

from assistant.governance.privacy import describe, find_personal_data, iban_is_valid, redact

pytestmark = pytest.mark.security

# (text, kinds that must be found); an empty set means: nothing may be found
LABELLED = [
    ("Bitte antworten Sie an max.mustermann@rlp.de, ob das erlaubt ist.", {"email"}),
    ("Kontakt: referat-42@mastd.rlp.de", {"email"}),
    ("Darf ich die Anfrage von anna_schmidt+ki@example.com in ChatGPT kopieren?", {"email"}),
    ("Erreichbar unter +49 6131 16-4711.", {"phone"}),
    ("Rückruf bitte unter 0170 1234567", {"phone"}),
    ("Die Nummer 030/12345678 steht im Antrag.", {"phone"}),
    ("Telefon (0611) 123 456 ist die Zentrale.", {"phone"}),
    ("Tel.: 16-4711", {"phone"}),
    ("Überweisung auf DE89 3704 0044 0532 0130 00 – darf das ins Protokoll?", {"iban"}),
    ("IBAN DE89370400440532013000", {"iban"}),
    ("Konto in Österreich: AT61 1904 3002 3457 3201 EUR", {"iban"}),
    ("Die Steuer-ID 12 345 678 901 steht im Bescheid.", {"tax_id"}),
    ("Steueridentifikationsnummer 86095742719", {"tax_id"}),
    ("Darf ich den Antrag von Frau Müller mit einem LLM zusammenfassen?", {"name"}),
    ("Herr Dr. Schneider-Weber fragt nach Art. 50 KI-VO.", {"name"}),
    ("Prof. Dr. Anna Schmidt hat ein Gutachten erstellt.", {"name"}),
    ("Wie antworte ich Herrn Becker auf seine Beschwerde?", {"name"}),
    ("Frau Ministerin Schmitt möchte eine Übersicht.", {"name"}),
    ("Die Antragstellerin, geb. 01.02.1980, hat Widerspruch eingelegt.", {"birth_date"}),
    ("Er ist geboren am 3. März 1975 in Mainz.", {"birth_date"}),
    ("Geburtsdatum: 1.2.80", {"birth_date"}),
    ("Vorgang Az. 12-345/2024 – darf das Sprachmodell den Bescheid entwerfen?", {"file_number"}),
    ("Zu AZ: IV 3 - 1234 bitte eine Stellungnahme.", {"file_number"}),
    ("Aktenzeichen 4 K 123/23 betrifft eine Klage.", {"file_number"}),
    ("Frau Meier (geb. 12.05.1990, Tel. 0611 987654) fragt zu Az. 7-88/2025.",
     {"name", "birth_date", "phone", "file_number"}),
    # tricky negatives: legal references, dates, amounts
    ("Was regelt Art. 26 Abs. 6 KI-VO?", set()),
    ("Ab dem 2. August 2026 gelten die meisten Vorschriften.", set()),
    ("Fällt das unter Anhang III Nr. 4 Buchst. a?", set()),
    ("Verordnung (EU) 2024/1689 vom 13. Juni 2024, ABl. L vom 12.7.2024", set()),
    ("Geldbußen von bis zu 35 000 000 EUR oder 7 % des Umsatzes", set()),
    ("Die Datenschutz-Grundverordnung (EU) 2016/679 bleibt unberührt.", set()),
    ("Erwägungsgrund 20 und Art. 3 Nr. 60 KI-VO", set()),
    ("Frauen und Männer sind gleichermaßen betroffen.", set()),
    ("Was muss Herr Minister zur Leitlinie wissen?", set()),
    ("Beschluss Nr. 2 (Ministerrat RLP, TOP 4) vom Juni 2025", set()),
    ("Gilt die Frist von 6 Monaten nach Art. 26 Abs. 6 auch für Behörden?", set()),
    ("Bußgeld bis zu 15 000 000 000 EUR?", set()),
]


def score(examples) -> tuple[float, float, list]:
    tp = fp = fn = 0
    misses = []
    for text, expected in examples:
        found = {f.kind for f in find_personal_data(text)}
        tp += len(found & expected)
        fp += len(found - expected)
        fn += len(expected - found)
        if found != expected:
            misses.append((text, expected, found))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, misses


def test_labelled_examples_reach_precision_and_recall_of_ninety_percent():
    assert len(LABELLED) >= 30
    precision, recall, misses = score(LABELLED)
    print(f"\npersonal data on {len(LABELLED)} examples: precision {precision:.2f}, recall {recall:.2f}")
    for miss in misses:
        print("  differs:", miss)
    assert precision >= 0.9, misses
    assert recall >= 0.9, misses


@pytest.mark.parametrize("text, expected", [
    ("Schreiben Sie an max.mustermann@rlp.de bitte.", "Schreiben Sie an [E-MAIL] bitte."),
    ("Anruf von +49 6131 16-4711 heute", "Anruf von [TELEFON] heute"),
    ("IBAN DE89 3704 0044 0532 0130 00.", "IBAN [IBAN]."),
    ("Steuer-ID 12 345 678 901", "Steuer-ID [STEUER-ID]"),
    ("Antrag von Frau Dr. Müller-Lüdenscheidt prüfen", "Antrag von Frau Dr. [NAME] prüfen"),
    ("Kläger, geb. 01.02.1980, wohnhaft", "Kläger, geb. [GEBURTSDATUM], wohnhaft"),
    ("Zu Az. 12-345/2024.", "Zu Az. [AKTENZEICHEN]."),
    ("AZ: IV 3 - 1234 bitte prüfen", "AZ: [AKTENZEICHEN] bitte prüfen"),
    ("Was regelt Art. 26 Abs. 6 KI-VO?", "Was regelt Art. 26 Abs. 6 KI-VO?"),
])
def test_redact_replaces_each_finding_with_its_placeholder(text, expected):
    assert redact(text) == expected


def test_findings_carry_kind_and_exact_span():
    text = "Frage von a.b@example.org zu Frau Weber"
    findings = find_personal_data(text)
    assert [(f.kind, text[f.span[0]:f.span[1]]) for f in findings] == [("email", "a.b@example.org"), ("name", "Weber")]


def test_describe_names_each_kind_once_in_german():
    findings = find_personal_data("a@b.de, c@d.de und Herr Klein")
    assert describe(findings) == ["E-Mail-Adresse", "Name"]


def test_iban_check_digits_reject_a_typo():
    assert iban_is_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_is_valid("GB83 WEST 1234 5698 7654 32")


def test_text_without_personal_data_is_returned_unchanged():
    text = "Welche Pflichten haben Betreiber nach Art. 26 KI-VO ab dem 2. August 2026?"
    assert redact(text) == text
