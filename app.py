"""Streamlit entry of the Leitlinien-Assistent: the three pages, nothing else (`streamlit run app.py`)."""
import streamlit as st

st.navigation([
    st.Page("pages/fragen.py", title="Fragen", default=True),
    st.Page("pages/dokumente.py", title="Dokumente", url_path="dokumente"),
    st.Page("pages/evaluation.py", title="Evaluation", url_path="evaluation"),
]).run()
