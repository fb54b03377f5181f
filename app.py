"""Streamlit entry of the Leitlinien-Assistent: the three pages, nothing else (`streamlit run app.py`)."""
import streamlit as st

st.navigation([
    st.Page("pages/fragen.py", title="Fragen", icon=":material/chat:", default=True),
    st.Page("pages/dokumente.py", title="Dokumente", icon=":material/description:", url_path="dokumente"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:", url_path="evaluation"),
]).run()
