"""Staff chat: ask in German, get an answer whose every sentence cites its passage.

Widgets and session state only; texts and HTML come from `assistant.ui_text`, storage from
`assistant.governance.feedback`, the personal-data check from `assistant.governance.privacy`.
"""
from __future__ import annotations

import itertools
import time

import streamlit as st
from pydantic import ValidationError

from assistant import ui_text as ui
from assistant.answering.extractive import Answerer, Turn
from assistant.governance.answer_log import AnswerLog
from assistant.errors import AssistantError
from assistant.question.checks import clean_question
from assistant.governance.feedback import FeedbackStore, feedback_path
from assistant.governance.privacy import describe, find_personal_data
from assistant.records import Answer
from assistant.retrieval.ranking import Query, Retriever
from assistant.settings import Settings

WARM_UP = "Was ist ein KI-System?"
EXTRACTIVE, LLM = "extractive", "llm"

st.set_page_config(page_title="Leitlinien-Assistent", page_icon="§", layout="centered")


@st.cache_resource(show_spinner="Der Assistent wird vorbereitet: Dokumente und Suchmodell werden geladen …")
def load_answerer(fingerprint: str, _settings: Settings) -> Answerer:
    """Library, retriever (snapshot warmed) and answerer, once per process and settings; answering one
    warm-up question loads the model, so the first real question is fast (it is not logged). Old feedback
    and answer log entries are purged here."""
    from assistant.storage.library import open_library

    answerer = Answerer(Retriever(open_library(_settings)))
    answerer.retriever.snapshot()
    answerer.answer(WARM_UP)
    FeedbackStore(feedback_path(_settings.data_dir)).purge(_settings.retention_days)
    AnswerLog.from_settings(_settings, source="app").purge(_settings.retention_days)
    return answerer


@st.cache_resource(show_spinner=False)
def load_llm(fingerprint: str, _settings: Settings, _answerer: Answerer):
    from assistant.answering.llm import LLMAnswerer
    from assistant.storage.models import chat_model

    return LLMAnswerer(_answerer, chat_model(_settings))


def store() -> FeedbackStore:
    # opened per use: a cheap SQLite connection, and never a handle to a file that was replaced
    return FeedbackStore(feedback_path(settings.data_dir))


# --- state and callbacks ------------------------------------------------------------------------
state = st.session_state
state.setdefault("turns", [])  # dicts: question, answer, mode, kinds, feedback_id, commented
state.setdefault("conversation", 0)
state.setdefault("pending", None)  # a question held back from the LLM until the user decides


def new_conversation() -> None:
    state.turns, state.pending = [], None
    state.conversation += 1


def decide(action: str) -> None:
    state.decision = action


def ask_example(question: str) -> None:
    state.example = question


def save_rating(i: int, rating: int) -> None:
    turn = state.turns[i]
    if turn["feedback_id"] is None:  # one row per answer
        turn["rating"] = rating
        turn["feedback_id"] = store().record(turn["question"], turn["answer"], rating, mode=turn["mode"])


def save_comment(i: int, key: str) -> None:
    turn, comment = state.turns[i], (state[key] or "").strip()
    if comment and turn["feedback_id"] is not None:
        store().add_comment(turn["feedback_id"], comment)
        turn["commented"] = True


# --- rendering ------------------------------------------------------------------------------------
def html(snippet: str) -> None:
    st.markdown(snippet, unsafe_allow_html=True)  # snippets from ui_text: escaped text, our own tags


def show_question(turn: dict) -> None:
    with st.chat_message("user"):
        st.text(turn["question"])
        if turn["kinds"]:
            st.warning(ui.personal_data_note(turn["kinds"]), icon=":material/warning:")


def show_answer(a: Answer) -> None:
    if a.refused:
        st.warning(f"**Keine belegbare Antwort gefunden.** {a.text}", icon=":material/search_off:")
        if a.related:
            st.markdown("**Möglicherweise verwandt** – nicht als Antwort geprüft:")
            for h in a.related:
                with st.expander(ui.related_label(h)):
                    html(ui.related_html(h))
    else:
        html(ui.answer_html(a.text))
        if a.citations:
            st.markdown("**Quellen** – zum Aufklappen anklicken oder mit der Tastatur auswählen:")
        for c in a.citations:
            with st.expander(ui.source_label(c)):
                html(ui.source_html(c, ui.find_hit(a, c.chunk_id)))
                if url := ui.safe_url(c.url):
                    st.link_button("Amtliche Fassung öffnen", url)
    for note in a.notes:
        html(ui.small_html(f"Hinweis: {note}"))


def show_feedback(i: int, turn: dict) -> None:
    key = f"rating-{state.conversation}-{i}"
    done = turn["feedback_id"] is not None
    # two labelled buttons rather than st.feedback: screen readers announce German labels, not "Thumbs up"
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(ui.rating_caption(turn.get("rating") if done else None), width="content")
        st.button("Hilfreich", key=f"{key}-up", icon=":material/thumb_up:", on_click=save_rating, args=(i, 1),
                  disabled=done, type="tertiary")
        st.button("Nicht hilfreich", key=f"{key}-down", icon=":material/thumb_down:", on_click=save_rating,
                  args=(i, -1), disabled=done, type="tertiary")
    if done and not turn["commented"]:
        with st.form(f"comment-{state.conversation}-{i}", border=False, enter_to_submit=True):
            st.text_input("Kommentar (freiwillig, bitte ohne personenbezogene Daten)", key=f"{key}-comment")
            st.form_submit_button("Kommentar senden", on_click=save_comment, args=(i, f"{key}-comment"))
    elif turn["commented"]:
        st.caption("Ihr Kommentar ist gespeichert.")


def show_turn(i: int, turn: dict) -> None:
    show_question(turn)
    with st.chat_message("assistant"):
        show_answer(turn["answer"])
        show_feedback(i, turn)


def compute(question: str, mode: str, filters: dict) -> Answer:
    history = [Turn(t["question"], t["answer"]) for t in state.turns]
    if mode != LLM:
        with st.spinner("Suche in den Dokumenten …"):
            return answerer.answer(question, history, **filters)
    placeholder, text, final = st.empty(), "", None
    with placeholder, st.spinner("Das Sprachmodell formuliert eine Antwort …"):
        stream = load_llm(fingerprint, settings, answerer).stream(question, history, **filters)
        first = next(stream, None)
    for piece in itertools.chain([first], stream):  # lazily: each checked statement shows as it arrives
        if isinstance(piece, Answer):
            final = piece
        elif piece:
            text += piece
            placeholder.markdown(ui.provisional_html(text), unsafe_allow_html=True)
    placeholder.empty()
    return final


def answer_now(question: str, mode: str, kinds: list[str], filters: dict) -> None:
    turn = {"question": question, "mode": mode, "kinds": kinds, "feedback_id": None, "commented": False}
    show_question(turn)
    with st.chat_message("assistant"):
        started = time.perf_counter()
        try:
            turn["answer"] = compute(question, mode, filters)
        except AssistantError as exc:
            st.error(f"Die Frage konnte nicht beantwortet werden: {exc}")
            return
        AnswerLog.from_settings(settings, source="app").record(question, turn["answer"], requested_mode=mode,
                                                               latency_ms=1000 * (time.perf_counter() - started))
        state.turns.append(turn)
        show_answer(turn["answer"])
        show_feedback(len(state.turns) - 1, turn)


# --- page -----------------------------------------------------------------------------------------
try:
    settings = Settings()
except ValidationError as exc:
    st.error(f"Der Assistent ist falsch eingerichtet (Einstellungen): {exc}")
    st.stop()
fingerprint = settings.model_dump_json()
try:
    answerer = load_answerer(fingerprint, settings)
except AssistantError as exc:
    st.error(f"Der Assistent kann gerade nicht starten: {exc}")
    st.stop()
in_force = list(answerer.retriever.selected_versions(Query("")).values())

st.title("Leitlinien-Assistent")
st.caption("Fragen zur KI-Verordnung der EU, zum Ministerratsbeschluss „Ökosystem KI“ und zu den Leitlinien "
           "für die Nutzung von KI-Sprachmodellen in der Landesverwaltung")
st.info(ui.TRANSPARENCY)
if not any(v.kind == "guideline" for v in in_force):
    st.warning(ui.NO_GUIDELINE, icon=":material/description:")
with st.expander(f"Hinterlegte Dokumente ({len(in_force)}): {ui.in_force_summary(in_force)}"):
    if not in_force:
        st.write("Es sind noch keine Dokumente hinterlegt. Bitte wenden Sie sich an die Administration.")
    for v in in_force:
        html(ui.document_html(v))
        if url := ui.safe_url(v.url):
            st.link_button("Amtliche Quelle öffnen", url)
with st.expander("Datenschutzhinweis"):
    st.markdown(ui.privacy_notice(settings.retention_days, ui.host_of(settings.llm_base_url)
                                  if settings.llm_enabled else ""))

with st.sidebar:
    st.button("Neue Unterhaltung", key="new-conversation", on_click=new_conversation, icon=":material/add_comment:", width="stretch")
    st.subheader("Suche eingrenzen")
    kinds = list(dict.fromkeys(v.kind for v in sorted(in_force, key=lambda v: v.kind != "regulation")))
    kind = st.radio("Dokumentart", ["alle", *kinds], format_func=ui.kind_label, key="kind")
    offered = [v for v in in_force if kind == "alle" or v.kind == kind]
    st.caption("Dokumente")
    chosen = [v.doc_id for v in offered if st.checkbox(v.short or v.title, value=True, key=f"doc-{v.doc_id}",
                                                      help=v.title)]
    # MASTD keeps old versions for audit; staff can ask against an earlier one explicitly
    registered = answerer.retriever.snapshot().versions.values()
    pinned = []
    for v in offered:
        others = [o.version for o in registered if o.doc_id == v.doc_id and o.state != "staged" and o.version != v.version]
        if others:
            choice = st.selectbox(f"Fassung: {v.short or v.title}", [v.version, *sorted(others, reverse=True)],
                                  format_func=lambda x, cur=v.version: f"{x} (in Kraft)" if x == cur else x,
                                  key=f"version-{v.doc_id}")
            if choice != v.version:
                pinned.append((v.doc_id, choice))
    st.subheader("Antwortmodus")
    modes = [EXTRACTIVE, LLM] if settings.llm_enabled else [EXTRACTIVE]
    mode = st.radio("Antwortmodus", modes, format_func=ui.MODE_LABELS.get, label_visibility="collapsed", key="mode",
                    captions=[ui.MODE_CAPTIONS[m] for m in modes])
    if not settings.llm_enabled:
        st.caption("Ein Sprachmodell ist nicht eingerichtet.")
    st.divider()
    st.caption("Bitte keine personenbezogenen Daten eingeben. Fragen mit erkennbaren personenbezogenen Daten "
               "werden markiert und nicht ohne Ihre Bestätigung an ein Sprachmodell gesendet.")

filters: dict = {}
if kind != "alle":
    filters["kinds"] = (kind,)
if len(chosen) < len(offered):
    filters["doc_ids"] = tuple(chosen)
if pinned:
    filters["versions"] = tuple(pinned)

question = st.chat_input("Ihre Frage, z. B.: Welche Pflichten haben Betreiber von Hochrisiko-KI-Systemen?")
question = question or state.pop("example", None)

for i, turn in enumerate(state.turns):
    show_turn(i, turn)

job = None
decision = state.pop("decision", None)
if state.pending and (decision or question):
    held, state.pending = state.pending, None
    if decision == "confirm" and not question:
        store().record_confirmation(held["question"], held["kinds"], mode=LLM)
        job = (held["question"], LLM, held["kinds"])
    elif decision == "extractive" and not question:
        job = (held["question"], EXTRACTIVE, held["kinds"])

if question is not None and clean_question(question):
    question = clean_question(question)
    findings = describe(find_personal_data(question))
    if len(question) > settings.max_question_chars:
        st.error(ui.too_long(len(question), settings.max_question_chars), icon=":material/block:")
    elif mode == LLM and findings:
        state.pending = {"question": question, "kinds": findings}
    else:
        job = (question, mode, findings)

if state.pending:
    show_question(state.pending)
    with st.chat_message("assistant"):
        st.error(ui.LLM_BLOCKED.format(kinds=", ".join(state.pending["kinds"]), host=ui.host_of(settings.llm_base_url)))
        st.button("Ohne Sprachmodell beantworten (Auszug)", on_click=decide, args=("extractive",), type="primary")
        st.button("Trotzdem an das Sprachmodell senden", on_click=decide, args=("confirm",))
        st.button("Frage verwerfen", on_click=decide, args=("discard",))

if job and not chosen:
    st.warning("Bitte wählen Sie links mindestens ein Dokument aus, in dem gesucht werden soll.")
elif job:
    answer_now(*job, filters)

if not state.turns and not state.pending and not job:
    st.markdown("**Beispielfragen** – zum Ausprobieren anklicken:")
    for n, example in enumerate(ui.EXAMPLES):
        st.button(example, key=f"example-{n}", on_click=ask_example, args=(example,))
