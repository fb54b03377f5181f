"""Everyday administrative and English words -> the terms the documents use.

Staff ask "Müssen wir unsere Leute schulen?" where the AI Act says "KI-Kompetenz des Personals", or
"Bußgeld" where it says "Geldbuße". Neither BM25 nor the small embedding model bridges all of these,
so a question is expanded with the legal terms before retrieval. Each entry: a pattern on the
lower-cased question and the words added for the lexical search.
"""
from __future__ import annotations

import re

_ENTRIES: list[tuple[str, str]] = [
    # who is who
    (r"\b(behörde|verwaltung|ministerium|dienststelle|landesamt|amt|kommune|wir als)\b", "betreiber behörden"),
    (r"\b(mitarbeitende\w*|beschäftigte\w*|bedienstete\w*|kolleg\w*|belegschaft|staff|employees)\b", "personal beschäftigte"),
    (r"\b(hersteller|entwickler|provider\w*|vendor)\b", "anbieter"),
    (r"\b(anwender|nutzer|deployer\w*|user)\b", "betreiber"),
    (r"\b(polizei|police|ermittlungsbehörde\w*)\b", "strafverfolgungsbehörden strafverfolgung"),
    (r"\b(richter\w*|gericht\w*|justiz|judge\w*|court\w*)\b", "justizbehörde rechtspflege"),
    # models and systems
    (r"\b(chatgpt|gpt|copilot|llama|claude|gemini|mistral|sprachmodell\w*|llms?|basismodell\w*|grundmodell\w*|"
     r"foundation model\w*|general[- ]purpose)\b", "ki-modell allgemeinem verwendungszweck"),
    (r"\b(chatbot\w*|dialogsystem\w*|sprachassistent\w*|virtuelle\w* assistent\w*)\b",
     "direkte interaktion natürlichen personen"),
    (r"\b(open[- ]source|quelloffen\w*)\b", "freien quelloffenen lizenz"),
    # duties
    (r"\b(schul\w*|fortbild\w*|weiterbild\w*|qualifi\w*|training|literacy|kompetenz\w*)\b", "ki-kompetenz personal"),
    (r"\b(kennzeichn\w*|markier\w*|label\w*|offenleg\w*|disclos\w*|hinweis\w*|erfahren|wissen)\b",
     "offenlegen kennzeichnung transparenzpflichten"),
    (r"\b(pressemitteilung\w*|veröffentlich\w*|publish\w*|bürgerinformation\w*)\b",
     "veröffentlicht information öffentlichkeit text"),
    (r"\b(registrier\w*|eintrag\w*|datenbank|database|register)\b", "registrierung eu-datenbank"),
    (r"\b(protokoll\w*|logs?|logging|aufzeichnung\w*)\b", "protokolle automatisch erzeugten"),
    (r"\b(aufsicht|kontroll\w*|überwach\w*|oversight)\b", "menschliche aufsicht"),
    (r"\b(ignorier\w*|übersteuer\w*|überstimm\w*|abweich\w*|override)\b",
     "außer acht lassen außer kraft setzen rückgängig machen"),
    (r"\b(folgenabschätzung|grundrechte\w*|fundamental rights)\b", "grundrechte-folgenabschätzung"),
    (r"\b(betriebsanleitung\w*|anleitung\w*|handbuch|instructions)\b", "betriebsanleitungen"),
    (r"\b(vorfall|vorfälle|störung\w*|zwischenfall\w*|incident\w*)\b", "schwerwiegender vorfall meldung"),
    (r"\b(reallabor\w*|sandbox\w*|testumgebung\w*|erprob\w*)\b", "ki-reallabor"),
    # prohibited and high-risk uses
    (r"\b(verbot\w*|unzulässig\w*|prohibit\w*|untersagt|banned)\b", "verbotene praktiken verboten"),
    (r"\b(hochrisiko\w*|high[- ]risk)\b", "hochrisiko-ki-system"),
    (r"\b(gesichtserkennung|face recognition|facial recognition|gesichter)\b", "biometrische fernidentifizierung"),
    (r"\b(echtzeit|real[- ]time)\b", "echtzeit-fernidentifizierung"),
    (r"\b(stimmung\w*|emotion\w*|gefühl\w*|gemütszust\w*)\b", "emotionserkennung"),
    (r"(bewerbung\w*|bewerber\w*|stellenausschreibung\w*|stellenbesetzung\w*|personalauswahl|recruit\w*)",
     "einstellung auswahl beschäftigung"),
    (r"\b(beförder\w*|kündig\w*|leistungsbeurteilung\w*|arbeitnehmer\w*)\b", "beschäftigung arbeitsverhältnis"),
    (r"(schule\b|schulen\b|schüler\w*|\w*schulprüfung\w*|abschlussprüfung\w*|klausur\w*|hochschul\w*|studier\w*|exam\w*)", "allgemeine berufliche bildung prüfungen"),
    (r"\b(sozialleistung\w*|sozialamt|jobcenter|bürgergeld|beihilfe\w*|benefits?)\b",
     "öffentliche unterstützungsleistungen dienste"),
    (r"\b(kredit\w*|bonität\w*|schufa)\b", "kreditwürdigkeit"),
    (r"\b(asyl\w*|migration\w*|grenz\w*|visa|visum)\b", "migration asyl grenzkontrolle"),
    (r"\b(wasser\w*|strom\w*|energie\w*|verkehr\w*|gasversorgung)\b", "kritische infrastruktur"),
    (r"\b(wahl\w*|election\w*)\b", "wahlen abstimmungsverhalten"),
    (r"\b(punktesystem\w*|social scoring|sozialverhalten|scoring)\b", "bewertung einstufung sozialverhalten"),
    (r"\b(manipul\w*|beeinfluss\w*|unterschwellig\w*)\b", "manipulative täuschende techniken"),
    (r"\b(ältere\w*|senior\w*|behindert\w*|kinder\w*|hilflos\w*|schutzbedürftig\w*|vulnerab\w*)\b",
     "schwäche schutzbedürftigkeit alters behinderung"),
    (r"\b(deepfake\w*|gefälscht\w*|fake)\b", "deepfake"),
    (r"\b(bescheid\w*|verwaltungsakt\w*|entscheid\w*)", "entscheidung betroffene person"),
    (r"(erklär\w*|erläuter\w*|begründ\w*|nachvollzieh\w*|explanation)", "recht auf erläuterung"),
    # money and time
    (r"\b(bußgeld\w*|strafe\w*|sanktion\w*|fines?|penalt\w*)\b", "geldbußen sanktionen"),
    (r"\b(ab wann|seit wann|bis wann|wann gilt|wann gelten|in kraft|from when|apply from|applies)\b",
     "gilt ab geltungsbeginn inkrafttreten"),
    (r"\b(kostenlos\w*|gratis|unentgeltlich\w*|free of charge)\b", "entgeltlich unentgeltlich"),
    (r"\b(falsche\w*|irreführend\w*|misleading|incorrect)\b", "falscher unvollständiger irreführender informationen"),
    (r"\b(genehmigung\w*|erlaubnis|authori[sz]ation|permit\w*)\b", "genehmigung"),
    (r"\b(dringend\w*|eilfall|urgent\w*)\b", "dringlichkeit"),
    (r"\b(technische\w* dokumentation|documentation)\b", "technische dokumentation"),
    (r"\b(zuständig\w*|aufsichtsbehörde\w*|authorit\w*)\b", "zuständigen nationalen behörden marktüberwachungsbehörde"),
]
_COMPILED = [(re.compile(p, re.IGNORECASE), words) for p, words in _ENTRIES]


def expand(question: str) -> str:
    """The legal terms for the everyday words in `question` (empty when none apply)."""
    added: list[str] = []
    for pattern, words in _COMPILED:
        if pattern.search(question) and words not in added:
            added.append(words)
    return " ".join(added)
