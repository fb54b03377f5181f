"""The one reading of a question: `analyse(question, history) -> QuestionAnalysis` (pure).

Every pattern that looks at the wording of a question lives here: language, words, named sections,
follow-up form, the date or version asked about, and the kind of question (when, definition, amount,
upcoming event, instruction only, about the state's guideline). Retrieval, answer composition, the
refusal decision and the version answers read the frozen record and never the raw string.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from assistant.labels import parse_references
from assistant.question.checks import check_question
from assistant.question.dates import asked_date, asks_for_changes, asks_previous_version
from assistant.text.words import content_words, tokens

_ENGLISH = frozenset("the what which who how does do is are for of to in can must when a by from with on at this that "
                     "these those may should would could it its be been has have had our we you my your their they "
                     "there not any all each into about than if".split())
# words that are German and never English; words both languages use ("an", "in", "was", "will") count for neither
_GERMAN = frozenset("der die das und ist nicht ich wir sie ein eine einen einem einer mit für auf wie wer darf dürfen "
                    "muss müssen kann können zu von im den dem des bei nach oder auch sind gilt welche welcher "
                    "unser unsere unsere ob wenn dass".split())
_FOLLOW_UP = re.compile(r"^(und|aber|auch|was ist mit|wie ist es mit|gilt (das|dies)|and|what about)\b|"
                        r"\b(das|dies|diese[rnms]?|sie|es|dafür|dabei|davon|darauf|dazu|hierfür|this|that|they|it)\b",
                        re.I)
# "Ab wann gilt …?", "Bis wann müssen …?": the answer is a date
_WHEN = re.compile(r"\b(ab wann|seit wann|bis wann|wann|bis zu welchem|ab welchem|stichtag|from when|"
                   r"by when|when|which date|deadline)\b", re.IGNORECASE)
_DEFINITION = re.compile(
    r"\b(was (genau )?(ist|sind|versteht|bedeutet|heißt|meint)|versteht man|verstanden|gilt als|zählt als|als .* gilt|"
    r"definition|definiert|begriff|bezeichnet|what (is|are|counts)|defin\w*|meaning)\b", re.IGNORECASE)
# "Was steht in Art. 50 Abs. 4?" asks for the section itself, not for a topic it narrows
_ABOUT_SECTION = re.compile(r"\b(was (steht|regelt|sagt|besagt|bestimmt|enthält|beinhaltet)|inhalt|wortlaut|"
                            r"what does|says?)\b|^\W*(art(ikel|\.)?|anhang|erwägungsgrund|ziffer|annex|article)\b",
                            re.IGNORECASE)
# A question that asks for an amount of money ("Wie viel Geld …", "Welche Zulage …")
_ASKS_AMOUNT = re.compile(r"\b(wie viel(e)? (geld|euro|mittel)|wie hoch (ist|sind|wäre|fällt) (das|die|der|eine?)?\s*"
                          r"\w*(geld|betrag|zulage|budget|mittel|bußgeld\w*|geldbuße\w*|vergütung|kosten)|"
                          r"\w*zulage\w*|budget\w*|\w*haushalt\w*|fördermittel\w*|how much (money|funding))\b",
                          re.IGNORECASE)
_ASKS_FINE = re.compile(r"buß|geldbuße|strafe|sanktion|fine|penalt", re.IGNORECASE)
# The documents are rules, not calendars or programmes
_UPCOMING = re.compile(r"\b(das nächste mal|nächste[nmrs]? (sitzung|treffen|termin|halbjahr|woche|monat)|"
                       r"im nächsten (halbjahr|jahr|monat|quartal)|morgen|next (meeting|week|month|time))\b",
                       re.IGNORECASE)
# Attempts to change the assistant's behaviour. The rest of such a question is still answered from the
# documents when it asks something; with nothing left to ask, it is refused like any uncovered question.
_INSTRUCTION = re.compile(
    r"(ignorier\w*|vergiss|missachte\w*|ignore|disregard|forget)\b[^.!?]*?(anweisung\w*|instruktion\w*|regeln|"
    r"instructions?|rules|prompt|ki-verordnung|vorgaben)[^.!?,]*?(?=,|\s+und\s|\s+and\s|[.!?]|$)|"
    r"(system ?prompt|systemanweisung\w*|admin-?modus|developer mode|jailbreak|api-?schlüssel\w*|api keys?|"
    r"du bist (ab sofort|jetzt|nun)[^.!?]*|you are now[^.!?]*|act as[^.!?]*)", re.IGNORECASE)
_ASKS = re.compile(r"\?|\b(was|wer|wie|welche\w*|wann|wo|warum|wozu|darf|dürfen|muss|müssen|gilt|gelten|"
                   r"what|which|who|how|when|where|why|may|must)\b", re.IGNORECASE)
# the state's own guideline: its content, or facts about it (who adopted it, how it is updated)
_GUIDELINE = re.compile(r"\b(leitlinie\w*|llm-leitlinie\w*|richtlinie\w* des landes|anlage 1)\b", re.I)
_GUIDELINE_CONTENT = re.compile(r"\b(was (sagen|sagt|regeln|regelt|steht|bestimm\w*)|laut|gemäß|zufolge|"
                                r"erlaub\w*|verbiet\w*|dürfen|darf|vorgaben|inhalt\w*)\b", re.I)
_GUIDELINE_META = re.compile(r"\b(wer|beschlossen|beschließt|anpass\w*|fortgeschrieben|fortschreib\w*|verteil\w*|"
                             r"aktualisier\w*|verabschiedet)\b", re.I)
_PART_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class QuestionAnalysis:
    """What the later stages need to know about one question, read once."""

    text: str  # the checked question (control characters dropped, whitespace kept)
    language: str  # "de" or "en"
    tokens: tuple[str, ...]  # stemmed content words, as BM25 and sentence scoring compare them
    content_words: tuple[str, ...]  # folded words without stopwords
    references: tuple[str, ...]  # section keys named in the question ("art-50/abs-4")
    about_section: bool  # asks what a named section says, rather than naming it as a topic
    previous: str  # the last earlier question, "" in a new conversation
    follow_up: bool  # leans on the previous question by its form ("Und gilt das auch für Behörden?")
    resolved_text: str  # the previous question and this one, for a follow-up; else the question
    resolved_tokens: tuple[str, ...]
    asked_date: dt.date | None  # "Was galt am 1. Oktober 2025?"
    asks_previous_version: bool  # "vor der Änderung", "in der alten Fassung"
    asks_changes: bool  # "Was hat sich in der neuen Fassung geändert?"
    asks_when: bool  # the answer is a date
    asks_when_in_context: bool  # the same, read from the resolved text
    asks_definition: bool
    asks_amount: bool  # an amount of money
    asks_fine: bool  # … and that amount is a fine
    asks_upcoming: bool  # an upcoming event ("Wann tagt … das nächste Mal?")
    instruction_only: bool  # an attempt to change the assistant's behaviour and nothing else
    names_guideline: bool  # the state's LLM guideline ("Leitlinie", "Anlage 1")
    asks_guideline_content: bool  # what the guideline says, not who adopted it

    @property
    def german(self) -> bool:
        return self.language == "de"


def analyse(question: str, history: tuple[str, ...] | list[str] = (), *, max_chars: int = 4000) -> QuestionAnalysis:
    """Check the question (raises InputError when empty or too long) and read it once."""
    text = check_question(question, max_chars)
    previous = next((h for h in reversed(history) if h), "")
    follow_up = bool(previous) and is_follow_up(text)
    resolved = f"{previous} {text}" if follow_up else text
    references = tuple(parse_references(text))
    names_guideline = bool(_GUIDELINE.search(text))
    return QuestionAnalysis(
        text=text, language="de" if is_german(text) else "en", tokens=tuple(tokens(text)),
        content_words=tuple(content_words(text)), references=references,
        about_section=any("/" in ref for ref in references) or bool(_ABOUT_SECTION.search(text)),
        previous=previous, follow_up=follow_up, resolved_text=resolved,
        resolved_tokens=tuple(tokens(resolved)), asked_date=asked_date(text),
        asks_previous_version=asks_previous_version(text), asks_changes=asks_for_changes(text),
        asks_when=asks_when(text), asks_when_in_context=asks_when(resolved),
        asks_definition=bool(_DEFINITION.search(text)), asks_amount=bool(_ASKS_AMOUNT.search(text)),
        asks_fine=bool(_ASKS_FINE.search(text)), asks_upcoming=bool(_UPCOMING.search(text)),
        instruction_only=instruction_only(text), names_guideline=names_guideline,
        asks_guideline_content=bool(_GUIDELINE_CONTENT.search(text)) and not _GUIDELINE_META.search(text))


def is_german(text: str) -> bool:
    """German unless at least two English function words outnumber the German ones."""
    words = [w.strip("?,.!;:()\"'") for w in text.lower().split()]
    english = sum(1 for w in words if w in _ENGLISH)
    return english < 2 or english <= sum(1 for w in words if w in _GERMAN)


def is_follow_up(text: str) -> bool:
    """A question that leans on the previous turn ("Und gilt das auch für Behörden?")."""
    return bool(_FOLLOW_UP.search(text)) or len(text.split()) <= 3


def asks_when(text: str) -> bool:
    return bool(_WHEN.search(text))


def strip_instructions(text: str) -> tuple[str, bool]:
    """The question without behaviour-changing instructions, and whether there were any."""
    rest, n = _INSTRUCTION.subn(" ", text)
    return " ".join(rest.split()), n > 0


def instruction_only(text: str) -> bool:
    """An attempt to change the assistant's behaviour with no question about the documents left in it."""
    rest, found = strip_instructions(text)
    return found and not (_ASKS.search(rest) and len([t for t in tokens(rest) if len(t) > 2]) >= 2)


def question_parts(text: str) -> list[str]:
    """The sentences of a query text that has at least two of three words or more, else none
    ("Wir möchten Bewerbungen vorsortieren. Ist das ein Hochrisiko-System?")."""
    parts = [p for p in _PART_END.split(text.strip()) if len(p.split()) >= 3]
    return parts if len(parts) >= 2 else []
