"""When to refuse: several weak signals combined, since no single score threshold separates
answerable from unanswerable questions on this corpus (e5 similarities are compressed).

Signals: the best passage's dense similarity, the best answer sentence's score, how many of the
question's content words the best passage contains, whether the lexical and dense rankings agree on
the top passages, and whether the question names a section explicitly. The weights and the threshold
are calibrated on the eval set's dev split (`python -m eval calibrate`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.text.words import tokens

DEFAULT_WEIGHTS = {"top_dense": 1.0, "best_sentence": 1.0, "overlap": 0.35, "agreement": 0.03}
DEFAULT_THRESHOLD = 1.76
# A German question most of whose content words never occur in the corpus, and whose best passage is
# not close either, is about something else (calibrated on the dev split: 3 of 10 unanswerable
# questions caught, no answerable one refused; on the test split 4 of 11, none refused wrongly).
OFF_TOPIC_COVERAGE = 0.55
OFF_TOPIC_DENSE = 0.86
# A question that asks for an amount of money ("Wie viel Geld …", "Welche Zulage …") can only be
# answered by a passage that states one; without any among the best passages, the documents do not say.
_ASKS_AMOUNT = re.compile(r"\b(wie viel(e)? (geld|euro|mittel)|wie hoch (ist|sind|wäre|fällt) (das|die|der|eine?)?\s*"
                          r"\w*(geld|betrag|zulage|budget|mittel|bußgeld\w*|geldbuße\w*|vergütung|kosten)|"
                          r"\w*zulage\w*|budget\w*|\w*haushalt\w*|fördermittel\w*|how much (money|funding))\b",
                          re.IGNORECASE)
_AMOUNT = re.compile(r"\b(EUR|Euro)\b|€|\bMio\b|Millionen|Milliarden")
# the amounts the AI Act states are fines; they answer a question about fines, not one about funding
_ASKS_FINE = re.compile(r"buß|geldbuße|strafe|sanktion|fine|penalt", re.IGNORECASE)
# The documents are rules, not calendars or programmes: "Wann tagt … das nächste Mal?", "im nächsten
# Halbjahr", "morgen" ask about upcoming events no stored passage can know.
_UPCOMING = re.compile(r"\b(das nächste mal|nächste[nmrs]? (sitzung|treffen|termin|halbjahr|woche|monat)|"
                       r"im nächsten (halbjahr|jahr|monat|quartal)|morgen|next (meeting|week|month|time))\b",
                       re.IGNORECASE)
_ENGLISH = frozenset("the what which who how does do is are for of to in can must when".split())


# Attempts to change the assistant's behaviour. The rest of such a question is still answered from the
# documents when it asks something; with nothing left to ask, it is refused like any uncovered question.
_INSTRUCTION = re.compile(
    r"(ignorier\w*|vergiss|missachte\w*|ignore|disregard|forget)\b[^.!?]*?(anweisung\w*|instruktion\w*|regeln|"
    r"instructions?|rules|prompt|ki-verordnung|vorgaben)[^.!?,]*?(?=,|\s+und\s|\s+and\s|[.!?]|$)|"
    r"(system ?prompt|systemanweisung\w*|admin-?modus|developer mode|jailbreak|api-?schlüssel\w*|api keys?|"
    r"du bist (ab sofort|jetzt|nun)[^.!?]*|you are now[^.!?]*|act as[^.!?]*)", re.IGNORECASE)


def strip_instructions(question: str) -> tuple[str, bool]:
    """The question without behaviour-changing instructions, and whether there were any."""
    rest, n = _INSTRUCTION.subn(" ", question)
    return " ".join(rest.split()), n > 0


def is_german(question: str) -> bool:
    return sum(1 for w in question.lower().split() if w.strip("?,.!") in _ENGLISH) < 2


def refusal_features(question: str, hits, candidates, retriever) -> dict:
    if not hits:
        return {"top_dense": 0.0, "best_sentence": 0.0, "overlap": 0.0, "agreement": 0.0, "explicit": False,
                "coverage": 0.0, "refusal_score": 0.0}
    top = hits[:3]
    q_terms = set(tokens(question))
    best_overlap = 0.0
    for h in top:
        passage_terms = set(tokens(f"{h.chunk.heading} {h.chunk.text}"))
        if q_terms:
            best_overlap = max(best_overlap, len(q_terms & passage_terms) / len(q_terms))
    agreement = sum(1 for h in top if h.signals.get("dense_rank", 99) <= 5 and h.signals.get("lexical_rank", 99) <= 5)
    coverage = hits[0].signals.get("coverage", 0.0)
    return {
        "top_dense": max(h.signals.get("dense", 0.0) for h in top),
        "best_sentence": candidates[0].score if candidates else 0.0,
        # an English question has no German words to overlap: don't count that against it
        "overlap": best_overlap if coverage >= 0.5 else 0.5,
        "agreement": float(agreement),
        "explicit": any(h.signals.get("explicit") for h in top),
        "coverage": coverage,
        "german": is_german(question),
        "instruction_only": _instruction_only(question),
        "amount_missing": _amount_missing(question, [h.chunk.text for h in top]),
        "upcoming": bool(_UPCOMING.search(question)),
    }


def _amount_missing(question: str, passages: list[str]) -> bool:
    if not _ASKS_AMOUNT.search(question):
        return False
    fine = bool(_ASKS_FINE.search(question))
    return not any(_AMOUNT.search(p) and (fine or "geldbuße" not in p.lower()) for p in passages)


_ASKS = re.compile(r"\?|\b(was|wer|wie|welche\w*|wann|wo|warum|wozu|darf|dürfen|muss|müssen|gilt|gelten|"
                   r"what|which|who|how|when|where|why|may|must)\b", re.IGNORECASE)


def _instruction_only(question: str) -> bool:
    """An attempt to change the assistant's behaviour with no question about the documents left in it."""
    rest, found = strip_instructions(question)
    return found and not (_ASKS.search(rest) and len([t for t in tokens(rest) if len(t) > 2]) >= 2)


@dataclass
class RefusalModel:
    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = DEFAULT_THRESHOLD

    def score(self, features: dict) -> float:
        return sum(w * float(features.get(name, 0.0)) for name, w in self.weights.items())

    def refuse(self, features: dict) -> bool:
        s = self.score(features)
        features["refusal_score"] = round(s, 4)
        if features.get("instruction_only"):
            return True  # nothing is asked about the documents
        if features.get("explicit"):
            return False  # a named section exists: answer from it
        if features.get("amount_missing") or features.get("upcoming"):
            return True
        if (features.get("german") and features.get("coverage", 1.0) < OFF_TOPIC_COVERAGE
                and features.get("top_dense", 0.0) < OFF_TOPIC_DENSE):
            return True
        return s < self.threshold
