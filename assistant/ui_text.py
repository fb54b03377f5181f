"""German texts and HTML snippets of the staff chat page (pure functions, no Streamlit).

Every piece of document or user text that ends up in HTML goes through `html.escape` first; the only
markup added is our own (<mark>, <strong>, <br>, <div>, <p>, <small>). Snippets are single-line
`<div>` blocks, so Markdown never interprets the text inside them.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlparse

from assistant.records import Answer, Citation, DocumentVersion, Hit
from assistant.text.sentences import split_sentences

KIND_LABELS = {"regulation": "Verordnung", "cabinet-decision": "Ministerratsbeschluss", "guideline": "Leitlinie"}
MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember"]
MODE_LABELS = {"extractive": "Auszug", "llm": "Sprachmodell"}
MODE_CAPTIONS = {"extractive": "wörtliche Textstellen aus den Dokumenten; alles bleibt auf diesem Server",
                 "llm": "ein Sprachmodell formuliert die Antwort; jede Aussage wird an den Textstellen geprüft"}
EXAMPLES = ("Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?",
            "Was ist ein KI-System?",
            "Was hat der Ministerrat zum Ökosystem KI beschlossen?")

TRANSPARENCY = ("**Hinweis:** Sie nutzen einen KI-gestützten Assistenten (Transparenzhinweis nach Art. 50 KI-VO). "
                "Er antwortet nur aus den unten aufgeführten Dokumenten und nennt zu jeder Aussage die Fundstelle. "
                "Er kann sich irren – prüfen Sie wichtige Aussagen an der Fundstelle. Eine Rechtsberatung "
                "ersetzt er nicht.")
NO_GUIDELINE = ("Die Leitlinien des Landes zur Nutzung von LLMs (Anlage 1 zum Ministerratsbeschluss) sind noch "
                "nicht hinterlegt. Fragen dazu kann der Assistent noch nicht beantworten.")
AI_ACT_ORIGINAL = "Enthalten ist die Ursprungsfassung vom 13. Juni 2024; spätere Änderungen sind nicht berücksichtigt."
LLM_BLOCKED = ("**Diese Frage wurde nicht an das Sprachmodell gesendet.** Sie enthält möglicherweise "
               "personenbezogene Daten ({kinds}), und das Sprachmodell läuft bei einem externen Dienst ({host}). "
               "Entfernen Sie die Angaben und fragen Sie erneut, lassen Sie die Frage ohne Sprachmodell "
               "beantworten, oder senden Sie sie ausdrücklich trotzdem (Ihre Bestätigung wird ohne die "
               "personenbezogenen Daten protokolliert).")
_MARKERS = re.compile(r"\[(\d+)\]")
PROVISIONAL = "Vorläufige Antwort – wird noch an den Textstellen geprüft …"


def german_date(iso: str, approx: bool = False) -> str:
    """"2024-08-01" -> "1. August 2024"; an approximate date names only the month: "Juni 2025 (ungefähr)"."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso or "")
    if not m:
        return iso or "unbekannt"
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if approx:
        return f"{MONTHS[month - 1]} {year} (ungefähr)"
    return f"{day}. {MONTHS[month - 1]} {year}"


def kind_label(kind: str) -> str:
    return {"alle": "alle"}.get(kind) or KIND_LABELS.get(kind, kind)


def source_label(c: Citation) -> str:
    """Expander label of a source: "[1] Art. 26 Abs. 6 KI-VO · Fassung 2024-06-13 · S. 4"."""
    parts = [f"[{c.n}] {c.section}", f"Fassung {c.version}"]
    if c.page:
        parts.append(f"S. {c.page}")
    return _label_safe(" · ".join(parts))


def related_label(h: Hit) -> str:
    page = f" · S. {h.chunk.page}" if h.chunk.page else ""
    return _label_safe(f"{h.chunk.label} · Fassung {h.version}{page}")


def _label_safe(text: str) -> str:
    # widget labels understand a little Markdown; a label must not turn into emphasis or a link
    return re.sub(r"([\\*_~`<>])", r"\\\1", text)


def escape(text: str) -> str:
    """HTML-escaped text with line breaks kept; `$` escaped too, so no formula is ever typeset."""
    return html.escape(text or "").replace("$", "&#36;").replace("\n", "<br>")


def highlight_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where the quoted sentences stand in `text` (quotes are verbatim sentences of the passage)."""
    if not quote:
        return []
    spans, pos = [], 0
    for sentence in split_sentences(text):
        if sentence in quote:
            start = text.find(sentence, pos)
            if start >= 0:
                spans.append((start, start + len(sentence)))
                pos = start + len(sentence)
    if not spans and quote.strip() in text:
        start = text.index(quote.strip())
        spans.append((start, start + len(quote.strip())))
    return spans


def marked_html(text: str, quote: str = "") -> str:
    """The passage, escaped, with the quoted sentences wrapped in <mark>."""
    out, pos = [], 0
    for start, end in highlight_spans(text, quote):
        out.append(escape(text[pos:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def answer_html(text: str) -> str:
    """Answer text, escaped, paragraphs kept, the source markers [1] [2] in bold."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "".join(f"<p>{escape(p.strip())}</p>" for p in paragraphs)
    return "<div>" + _MARKERS.sub(r"<strong>[\1]</strong>", body) + "</div>"


def provisional_html(text: str) -> str:
    return (f"<div style=\"border: 1px dashed #999; padding: 0.4em 0.8em; opacity: 0.8\"><small><em>"
            f"{escape(PROVISIONAL)}</em></small><br>{escape(text)}</div>")


def question_html(text: str) -> str:
    return f"<div>{escape(text)}</div>"


def small_html(text: str) -> str:
    return f"<div><small>{escape(text)}</small></div>"


def find_hit(answer: Answer, chunk_id: str) -> Hit | None:
    return next((h for h in answer.retrieved if h.chunk.chunk_id == chunk_id), None)


def source_html(c: Citation, hit: Hit | None) -> str:
    """A cited passage in context: document, heading, version, valid-from and page, then the whole
    chunk with the quoted sentences highlighted (only the quote when the chunk is unknown)."""
    facts = [f"Fassung {c.version}", f"gültig ab {german_date(c.valid_from)}"]
    if c.page:
        facts.append(f"Seite {c.page}")
    lines = [f"<strong>{escape(c.title)}</strong>"]
    if hit is not None and hit.chunk.heading:
        lines.append(escape(hit.chunk.heading))
    lines.append(f"<small>{escape(' · '.join(facts))}</small>")
    head = "<br>".join(lines)
    if hit is None:
        body = f"<mark>{escape(c.quote)}</mark>"
    else:
        context = f"<small><em>{escape(hit.chunk.context)}</em></small><br>" if hit.chunk.context else ""
        body = context + marked_html(hit.chunk.text, c.quote)
    return (f"<div><p>{head}</p><div style=\"border-left: 3px solid #999; padding-left: 0.8em\">{body}</div>"
            f"<p><small>Markiert: die Sätze, auf die sich die Antwort stützt.</small></p></div>")


def related_html(h: Hit) -> str:
    return (f"<div><p><strong>{escape(h.title)}</strong><br><small>{escape(h.chunk.heading)}</small></p>"
            f"<div style=\"border-left: 3px solid #999; padding-left: 0.8em\">{escape(h.chunk.text)}</div></div>")


def document_html(v: DocumentVersion) -> str:
    """One entry of the document list: title, version in force, valid-from, issuer, note, licence."""
    facts = [f"{kind_label(v.kind)}", f"Fassung {v.version}",
             f"gültig ab {german_date(v.valid_from, v.valid_from_approx)}"]
    lines = [f"<strong>{escape(v.title)}</strong>", escape(" · ".join(facts))]
    if v.issuer:
        lines.append(f"<small>Herausgeber: {escape(v.issuer)}</small>")
    notes = [v.note] if v.note else []
    if v.doc_id == "eu-ai-act" and "Änderung" not in v.note:
        notes.append(AI_ACT_ORIGINAL)
    lines.extend(f"<small>{escape(n)}</small>" for n in notes)
    if v.licence:
        lines.append(f"<small>Quelle und Lizenz: {escape(v.licence)}</small>")
    return f"<div><p>{'<br>'.join(lines)}</p></div>"


def in_force_summary(versions: list[DocumentVersion]) -> str:
    """"KI-VO (Fassung 2024-06-13), Ministerrat RLP, TOP 4 (Fassung 2025-06)"."""
    return ", ".join(f"{v.short or v.title} (Fassung {v.version})" for v in versions)


def privacy_notice(retention_days: int, llm_host: str = "") -> str:
    """The short data-protection notice (Markdown, our own text only)."""
    llm = (f"\n- **Modus Sprachmodell:** Ihre Frage und die gefundenen Textstellen werden an den Dienst "
           f"{llm_host} gesendet. Enthält die Frage erkennbar personenbezogene Daten, geschieht das nur nach "
           "Ihrer ausdrücklichen Bestätigung; die Bestätigung wird ohne diese Daten protokolliert."
           if llm_host else "")
    return ("- **Bitte geben Sie keine personenbezogenen Daten ein** (Namen, Kontaktdaten, Geburtsdaten, "
            "Aktenzeichen von Einzelfällen).\n"
            "- **Ihre Unterhaltung wird nicht gespeichert.** Sie verschwindet mit „Neue Unterhaltung“ oder "
            "beim Schließen der Seite.\n"
            "- **Gespeichert wird nur Ihre Rückmeldung** („Hilfreich“ oder „Nicht hilfreich“, Kommentar) zusammen mit der Frage, der Antwort "
            "und ihren Quellen – Frage und Kommentar geschwärzt: E-Mail-Adressen, Telefonnummern, Namen und "
            "ähnliche Angaben werden vorher ersetzt.\n"
            f"- **Rückmeldungen werden nach {retention_days} Tagen gelöscht.**"
            + llm)


def personal_data_note(kinds: list[str]) -> str:
    return (f"Ihre Frage enthält möglicherweise personenbezogene Daten ({', '.join(kinds)}). "
            "Bitte geben Sie keine personenbezogenen Daten ein. Gespeichert wird – nur bei einer "
            "Rückmeldung – eine geschwärzte Fassung.")


def rating_caption(rating: int | None) -> str:
    if rating is None:
        return "War diese Antwort hilfreich?"
    return f"Danke! Gespeichert: {'hilfreich' if rating > 0 else 'nicht hilfreich'}."


def too_long(length: int, limit: int) -> str:
    return (f"Ihre Frage ist mit {length:,} Zeichen zu lang; erlaubt sind höchstens {limit:,} Zeichen. "
            "Bitte kürzen Sie sie und fragen Sie erneut.").replace(",", ".")


def safe_url(url: str) -> str | None:
    """Only http(s) addresses become links."""
    parsed = urlparse(url or "")
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


def host_of(url: str) -> str:
    return urlparse(url or "").netloc or url
