"""The staff chat page, driven through the real Streamlit app (AppTest) over the real corpus index;
plus the pure text and HTML helpers of `assistant.ui_text`."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from assistant import ui_text as ui
from assistant.governance.feedback import FeedbackStore, feedback_path
from assistant.records import Chunk, Citation, DocumentVersion, Hit
from conftest import ROOT

PROTOCOLS = "Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die Protokolle aufbewahren?"
ART_26_6 = "Art. 26 Abs. 6 KI-VO"
CANTEEN = "Was gibt es heute in der Kantine?"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def data_dir(corpus_library, monkeypatch):
    """Point the app at the session's corpus index, with an empty feedback store."""
    data = corpus_library.settings.data_dir
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", corpus_library.settings.embedding_model)
    for suffix in ("", "-wal", "-shm"):
        feedback_path(data).with_name(f"feedback.sqlite{suffix}").unlink(missing_ok=True)
    return data


def start() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "fragen.py"), default_timeout=120)
    at.run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def source_labels(at: AppTest) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith("[")]


def html_bodies(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.proto.allow_html]


def test_question_is_answered_with_art_26_6_citation_and_six_months(data_dir):
    at = ask(start(), PROTOCOLS)
    assert any(ART_26_6 in label and "Fassung 2024-06-13" in label for label in source_labels(at)), source_labels(at)
    assert any("sechs Monate" in body and "<strong>[1]</strong>" in body for body in html_bodies(at))


def test_source_shows_whole_passage_with_quoted_sentence_marked(data_dir):
    at = ask(start(), PROTOCOLS)
    source = next(e for e in at.expander if e.label.startswith("[") and ART_26_6 in e.label)
    body = " ".join(m.value for m in source.markdown)
    assert "<mark>(6) Betreiber von Hochrisiko-KI-Systemen bewahren" in body
    assert "mindestens sechs Monaten auf" in body
    assert "Betreiber, die Finanzinstitute sind" in body  # the rest of the passage, unmarked
    assert "Verordnung (EU) 2024/1689" in body and "gültig ab 1. August 2024" in body
    assert any("eur-lex.europa.eu" in b.proto.url for b in source.get("link_button"))


def test_off_topic_question_is_refused_without_sources(data_dir):
    at = ask(start(), CANTEEN)
    assert any("keine Aussage" in w.value for w in at.warning)
    assert source_labels(at) == []
    assert not any("<strong>[1]</strong>" in body for body in html_bodies(at))


def test_thumbs_up_stores_one_redacted_row_with_the_cited_chunk(data_dir):
    at = ask(start(), PROTOCOLS)
    at.button(key="rating-0-0-up").click().run()
    [row] = FeedbackStore(feedback_path(data_dir)).list()
    assert (row["question"], row["rating"], row["mode"]) == (PROTOCOLS, 1, "extractive")
    assert any(ART_26_6 in label for label in source_labels(at))
    assert len(row["chunk_ids"]) >= 1 and row["versions"][0] == "eu-ai-act@2024-06-13"
    assert at.button(key="rating-0-0-up").disabled and at.button(key="rating-0-0-down").disabled
    assert any("Gespeichert: hilfreich" in c.value for c in at.caption)
    at.text_input[0].set_value("Hilfreich, danke – Rückfragen an x.y@rlp.de")
    next(b for b in at.button if b.label == "Kommentar senden").click().run()
    [row] = FeedbackStore(feedback_path(data_dir)).list()
    assert row["comment"] == "Hilfreich, danke – Rückfragen an [E-MAIL]"


def test_email_in_question_shows_personal_data_note_and_is_stored_redacted(data_dir):
    at = ask(start(), "Darf ich die Anfrage von max.mustermann@example.de mit einem KI-System beantworten?")
    assert any("personenbezogene Daten (E-Mail-Adresse)" in w.value for w in at.warning)
    at.button(key="rating-0-0-down").click().run()
    [row] = FeedbackStore(feedback_path(data_dir)).list()
    assert "[E-MAIL]" in row["question"] and "max.mustermann" not in row["question"]
    assert row["rating"] == -1


def test_script_in_question_is_shown_as_text_never_as_html(data_dir):
    at = ask(start(), f"Was regelt {SCRIPT} die KI-Verordnung?")
    assert any(SCRIPT in t.value for t in at.text)  # st.text: shown literally
    assert not any("<script" in body.lower() for body in html_bodies(at))


def test_new_conversation_clears_the_history(data_dir):
    at = ask(start(), PROTOCOLS)
    assert len(at.chat_message) == 2
    at.button(key="new-conversation").click().run()
    assert len(at.chat_message) == 0 and source_labels(at) == []


def test_follow_up_question_uses_the_earlier_turn(data_dir):
    at = ask(start(), "Welche Pflichten haben Betreiber von Hochrisiko-KI-Systemen?")
    at = ask(at, "Wie lange müssen sie die Protokolle aufbewahren?")
    assert len(at.chat_message) == 4
    second = at.chat_message[3]
    assert any(ART_26_6 in e.label for e in second.expander), [e.label for e in second.expander]


def test_document_list_shows_versions_licence_and_missing_guideline_note(data_dir):
    at = start()
    docs = next(e for e in at.expander if e.label.startswith("Hinterlegte Dokumente"))
    body = " ".join(m.value for m in docs.markdown)
    assert "Verordnung (EU) 2024/1689" in body and "Fassung 2024-06-13" in body
    assert "Beschluss 2011/833/EU" in body and "ohne spätere Änderungen" in body
    assert "gültig ab Juni 2025 (ungefähr)" in body  # the cabinet decision's approximate date
    assert any("Leitlinien" in w.value and "noch nicht hinterlegt" in w.value for w in at.warning)
    assert any("Art. 50 KI-VO" in i.value and "kann sich irren" in i.value for i in at.info)
    notice = next(e for e in at.expander if e.label == "Datenschutzhinweis")
    assert "180 Tagen gelöscht" in notice.markdown[0].value


def test_too_long_question_is_refused_and_nothing_else_happens(data_dir):
    at = ask(start(), "Was ist ein KI-System? " * 200)
    assert any("zu lang" in e.value and "4.000" in e.value for e in at.error)
    assert len(at.chat_message) == 0


def test_whitespace_question_is_ignored(data_dir):
    at = ask(start(), "   ")
    assert len(at.chat_message) == 0 and not at.error


def test_document_filter_limits_the_search_to_the_chosen_document(data_dir):
    at = start()
    at.sidebar.checkbox(key="doc-eu-ai-act").uncheck().run()
    at = ask(at, "Welche Aufgaben hat das Ministerium im Ökosystem KI?")
    labels = [e.label for e in at.chat_message[1].expander]
    assert labels and all("Ministerrat RLP, TOP 4" in label for label in labels), labels


def test_example_question_button_asks_it(data_dir):
    at = start()
    next(b for b in at.button if b.label == ui.EXAMPLES[0]).click().run()
    assert any(ART_26_6 in label for label in source_labels(at))


# --- pure helpers ---------------------------------------------------------------------------------
CHUNK = Chunk(chunk_id="c1", doc_id="d", section_key="art-1/abs-1", label="Art. 1 Abs. 1 X", heading="Artikel 1",
              text=f"Erster Satz mit {SCRIPT} darin. Zweiter Satz wird zitiert.\nDritte Zeile.", page=4, index=0,
              order=0, kind="article")
HIT = Hit(chunk=CHUNK, version="v1", valid_from="2024-08-01", title="Titel <b>fett</b>", score=1.0, rank=1)
CITATION = Citation(n=1, doc_id="d", title="Titel <b>fett</b>", section="Art. 1 Abs. 1 X", section_key="art-1/abs-1",
                    chunk_id="c1", version="v1", valid_from="2024-08-01", page=4, url="javascript:alert(1)",
                    quote="Zweiter Satz wird zitiert.")


def test_source_html_escapes_passage_and_title_and_marks_only_the_quote():
    out = ui.source_html(CITATION, HIT)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "<script" not in out
    assert "Titel &lt;b&gt;fett&lt;/b&gt;" in out
    assert "<mark>Zweiter Satz wird zitiert.</mark><br>Dritte Zeile." in out
    assert out.count("<mark>") == 1 and "Seite 4" in out and "gültig ab 1. August 2024" in out


def test_highlight_covers_each_quoted_sentence_of_a_multi_sentence_quote():
    text = "A eins zwei drei. B vier fünf sechs. C sieben acht neun."
    spans = ui.highlight_spans(text, "A eins zwei drei. C sieben acht neun.")
    assert [text[s:e] for s, e in spans] == ["A eins zwei drei.", "C sieben acht neun."]


def test_answer_html_bolds_markers_and_escapes_text():
    assert ui.answer_html("Satz <i>x</i> [1]\n\nNoch einer $5 [2]") == (
        "<div><p>Satz &lt;i&gt;x&lt;/i&gt; <strong>[1]</strong></p><p>Noch einer &#36;5 <strong>[2]</strong></p></div>")


def test_provisional_text_is_labelled_and_escaped():
    out = ui.provisional_html(f"Vorab {SCRIPT} [1]")
    assert ui.PROVISIONAL in out and "&lt;script&gt;" in out and "<script" not in out


def test_source_label_names_section_version_and_page():
    assert ui.source_label(CITATION) == "[1] Art. 1 Abs. 1 X · Fassung v1 · S. 4"


def test_only_http_links_are_offered():
    assert ui.safe_url("javascript:alert(1)") is None
    assert ui.safe_url("https://eur-lex.europa.eu/x") == "https://eur-lex.europa.eu/x"


@pytest.mark.parametrize("iso, approx, expected", [("2024-08-01", False, "1. August 2024"),
                                                   ("2025-06-01", True, "Juni 2025 (ungefähr)"),
                                                   ("", False, "unbekannt")])
def test_german_date(iso, approx, expected):
    assert ui.german_date(iso, approx) == expected


def test_document_html_adds_the_original_text_note_for_the_ai_act():
    v = DocumentVersion(doc_id="eu-ai-act", version="2024-06-13", valid_from="2024-08-01", title="VO", short="KI-VO",
                        kind="regulation", licence="© Europäische Union")
    out = ui.document_html(v)
    assert ui.AI_ACT_ORIGINAL in out and "Quelle und Lizenz: © Europäische Union" in out


def test_too_long_message_uses_german_thousands():
    assert "4.800 Zeichen zu lang" in ui.too_long(4800, 4000) and "höchstens 4.000" in ui.too_long(4800, 4000)


# --- LLM mode, against the scripted OpenAI-compatible server of test_generate -------------------
@pytest.fixture
def llm(data_dir, llm_server, monkeypatch):
    llm_server.replies.clear()
    llm_server.requests.clear()
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", llm_server.url)
    monkeypatch.setenv("ASSISTANT_LLM_MODEL", "test-model")
    return llm_server


def start_llm_mode() -> AppTest:
    at = start()
    at.sidebar.radio(key="mode").set_value("llm").run()
    return at


def test_llm_mode_shows_the_checked_answer_with_its_source(llm):
    from test_generate import citing

    llm.replies.append(citing("Betreiber bewahren die Protokolle mindestens sechs Monate auf [{a}].", a=ART_26_6))
    at = ask(start_llm_mode(), PROTOCOLS)
    assert len(llm.requests) == 1
    assert any("sechs Monate auf <strong>[1]</strong>" in body for body in html_bodies(at))
    assert any(ART_26_6 in label for label in source_labels(at))
    assert not any(ui.PROVISIONAL in body for body in html_bodies(at))


def test_personal_data_is_not_sent_to_the_llm_until_the_user_confirms(llm, data_dir):
    from test_generate import citing

    llm.replies.append(citing("Die Protokolle sind mindestens sechs Monate aufzubewahren [{a}].", a=ART_26_6))
    at = ask(start_llm_mode(), f"{PROTOCOLS} Rückfragen bitte an max.mustermann@example.de")
    assert llm.requests == []
    assert any("nicht an das Sprachmodell gesendet" in e.value for e in at.error)
    assert source_labels(at) == []
    next(b for b in at.button if b.label == "Trotzdem an das Sprachmodell senden").click().run()
    assert len(llm.requests) == 1
    assert any(ART_26_6 in label for label in source_labels(at))
    [entry] = FeedbackStore(feedback_path(data_dir)).audit()
    assert "[E-MAIL]" in entry["detail"]["question"] and "mustermann" not in entry["detail"]["question"]
    assert entry["detail"]["kinds"] == ["E-Mail-Adresse"]


def test_held_question_can_be_answered_without_the_llm(llm, data_dir):
    at = ask(start_llm_mode(), f"{PROTOCOLS} Rückfragen bitte an max.mustermann@example.de")
    next(b for b in at.button if b.label.startswith("Ohne Sprachmodell")).click().run()
    assert llm.requests == []
    assert any(ART_26_6 in label for label in source_labels(at))
    assert FeedbackStore(feedback_path(data_dir)).audit() == []
