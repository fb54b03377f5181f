"""Staff chat: ask in German, get an answer whose every sentence cites its passage."""
from __future__ import annotations

import streamlit as st

from assistant.answer import Answerer, Turn
from assistant.library import open_library
from assistant.retrieve import Query, Retriever
from assistant.settings import Settings

st.set_page_config(page_title="Leitlinien-Assistent", page_icon="§", layout="centered")


@st.cache_resource(show_spinner="Dokumente und Sprachmodell werden geladen …")
def load_answerer() -> Answerer:
    settings = Settings()
    retriever = Retriever(open_library(settings))
    retriever.snapshot()
    return Answerer(retriever)


st.title("Leitlinien-Assistent")
st.info("KI-gestützter Assistent: Er antwortet ausschließlich aus den hinterlegten Dokumenten und kann sich irren. "
        "Prüfen Sie jede Aussage an der angegebenen Fundstelle.")

answerer = load_answerer()
in_force = answerer.retriever.selected_versions(Query(""))
with st.expander("Hinterlegte Dokumente"):
    if not in_force:
        st.write("Noch keine Dokumente hinterlegt: `python -m ingest run`.")
    for v in in_force.values():
        st.text(f"{v.title} – Fassung {v.version}, gültig ab {v.valid_from}")
    if not any(v.kind == "guideline" for v in in_force.values()):
        st.warning("Die Leitlinien zur Nutzung von LLMs sind noch nicht hinterlegt.")

if "turns" not in st.session_state:
    st.session_state.turns = []
if st.button("Neue Unterhaltung"):
    st.session_state.turns = []


def show(turn: Turn) -> None:
    with st.chat_message("user"):
        st.text(turn.question)
    with st.chat_message("assistant"):
        a = turn.answer
        if a.refused:
            st.warning(a.text)
        else:
            st.text(a.text)
        for c in a.citations:
            page = f", S. {c.page}" if c.page else ""
            with st.expander(f"[{c.n}] {c.section}{page} – Fassung {c.version}"):
                st.caption(c.title)
                st.text(c.quote)
                if c.url:
                    st.link_button("Amtliche Fassung öffnen", c.url)
        for note in a.notes:
            st.caption(note)


for turn in st.session_state.turns:
    show(turn)

question = st.chat_input("Ihre Frage zu KI-Verordnung, Ministerratsbeschluss oder Leitlinien")
if question:
    with st.spinner("Suche in den Dokumenten …"):
        answer = answerer.answer(question, st.session_state.turns)
    turn = Turn(question, answer)
    st.session_state.turns.append(turn)
    show(turn)
