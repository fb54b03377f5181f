"""The project's retrieval inside LangChain: a retriever in a small LCEL chain, with filters."""
from __future__ import annotations

import datetime as dt

from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from assistant.retrieval.langchain_retriever import AssistantRetriever
from assistant.retrieval.ranking import Retriever
from conftest import GUIDELINE_V1, GUIDELINE_V2
from ingest.pipeline import ingest_version

TODAY = dt.date(2026, 11, 29)


def _sources(docs) -> str:
    return "\n".join(f"[{d.metadata['section']}, Fassung {d.metadata['version']}] {d.page_content}" for d in docs)


def test_retriever_in_an_lcel_chain_returns_documents_with_citation_fields(corpus_library):
    retriever = AssistantRetriever(retriever=Retriever(corpus_library, clock=lambda: TODAY), k=3)
    chain = {"context": retriever | RunnableLambda(_sources), "question": RunnablePassthrough()} | RunnableLambda(
        lambda x: f"Frage: {x['question']}\n{x['context']}")
    prompt = chain.invoke("Wie lange müssen Betreiber die automatisch erzeugten Protokolle aufbewahren?")
    assert "[Art. 26 Abs. 6 KI-VO, Fassung 2024-06-13]" in prompt
    assert "sechs Monate" in prompt
    docs = retriever.invoke("Wie lange müssen Betreiber die automatisch erzeugten Protokolle aufbewahren?")
    first = next(d for d in docs if d.metadata["section"] == "Art. 26 Abs. 6 KI-VO")
    assert first.metadata["doc_id"] == "eu-ai-act" and first.metadata["section_key"] == "art-26/abs-6"
    assert first.metadata["url"].endswith("#art_26") and first.metadata["page"] is None
    assert first.id == first.metadata["chunk_id"]
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]


def test_document_filter_keeps_other_documents_out(corpus_library):
    retriever = AssistantRetriever(retriever=Retriever(corpus_library, clock=lambda: TODAY), k=5,
                                   doc_ids=("ministerrat-rlp-2025-06-top4",))
    docs = retriever.invoke("Wer ist für Künstliche Intelligenz in der Landesregierung zuständig?")
    assert docs and {d.metadata["doc_id"] for d in docs} == {"ministerrat-rlp-2025-06-top4"}


def test_date_filter_answers_from_the_version_then_in_force(library, guideline_pdfs):
    ingest_version(library, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    ingest_version(library, GUIDELINE_V2, guideline_pdfs["leitlinie_v2"])
    question = "Innerhalb welcher Frist wird über die Zulassung eines neuen KI-Werkzeugs entschieden?"
    then = AssistantRetriever(retriever=Retriever(library, clock=lambda: TODAY), k=3, as_of=dt.date(2025, 10, 1))
    now = AssistantRetriever(retriever=Retriever(library, clock=lambda: TODAY), k=3)
    assert {d.metadata["version"] for d in then.invoke(question)} == {"2025-09"}
    assert {d.metadata["version"] for d in now.invoke(question)} == {"2026-03"}
    assert "acht Wochen" in _sources(then.invoke(question)) and "sechs Wochen" in _sources(now.invoke(question))
