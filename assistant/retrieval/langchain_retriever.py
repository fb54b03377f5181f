"""The project's retrieval as a LangChain retriever, for maintainers who build chains on it.

`AssistantRetriever` returns LangChain `Document`s whose metadata carry the citation fields of the answer
record (doc_id, title, section, section_key, chunk_id, version, valid_from, page, url) plus rank and score.
It filters by document and by date like the chat page does. Everything behind it is the project's own
ranking; this module only converts at the edge.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.records import Hit
from assistant.retrieval.ranking import Query, Retriever


class AssistantRetriever(BaseRetriever):
    """`AssistantRetriever(retriever=Retriever(lib), k=5, doc_ids=("eu-ai-act",), as_of=date(2025, 10, 1))`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 5
    doc_ids: tuple[str, ...] = ()  # only these documents (all when empty)
    as_of: dt.date | None = None  # the versions in force on this day (today when None)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.retrieve(Query(query, doc_ids=self.doc_ids, as_of=self.as_of), k=self.k)
        return [to_document(h) for h in hits]


def to_document(hit: Hit) -> Document:
    c = hit.chunk
    metadata: dict[str, Any] = {"doc_id": c.doc_id, "title": hit.title, "section": c.label,
                                "section_key": c.section_key, "chunk_id": c.chunk_id, "version": hit.version,
                                "valid_from": hit.valid_from, "page": c.page, "url": hit.url,
                                "rank": hit.rank, "score": round(hit.score, 6)}
    return Document(page_content=c.text, metadata=metadata, id=c.chunk_id)
