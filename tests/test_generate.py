"""The generative mode against a real OpenAI-compatible HTTP server started by the test.

The server speaks POST /v1/chat/completions, streaming (SSE) and not, with replies scripted per test;
a reply may be a function of the request, so it can cite the passage number the request gave a
section. It records every request, so the prompt the LLM saw can be checked too.
"""
from __future__ import annotations

import json
import re
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.answering.extractive import Answerer, Turn
from assistant.answering.llm import DATA_NOT_INSTRUCTIONS, NOT_ANSWERED, REWRITE_PROMPT, UNREACHABLE, UNVERIFIED, LLMAnswerer
from assistant.storage.models import chat_model
from assistant.records import Answer
from assistant.retrieval.ranking import Retriever
from assistant.settings import Settings

PROTOCOLS = "Wie lange müssen Betreiber von Hochrisiko-KI-Systemen die automatisch erzeugten Protokolle aufbewahren?"
ART_26_6 = "Art. 26 Abs. 6 KI-VO"
_HEADER = re.compile(r"^\[(\d+)\] (.+?) \(Fassung [^)]+\)$", re.MULTILINE)


class ScriptedLLM:
    """A local chat-completions endpoint; `replies` holds str, callable(request) -> str, or an HTTP status."""

    def __init__(self):
        self.replies: deque = deque()
        self.requests: list[dict] = []
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                llm.requests.append(body)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                reply = llm.replies.popleft() if llm.replies else "Keine weitere Antwort vorgesehen."
                if isinstance(reply, int):
                    return self._send(reply, {"error": {"message": "scripted failure", "type": "server_error"}})
                text = reply(body) if callable(reply) else reply
                if not body.get("stream"):
                    return self._send(200, {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                                            "model": body["model"], "usage": {"prompt_tokens": 1,
                                                                              "completion_tokens": 1, "total_tokens": 2},
                                            "choices": [{"index": 0, "finish_reason": "stop",
                                                         "message": {"role": "assistant", "content": text}}]})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                # small pieces that cut through words and markers, as real servers do
                pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
                for piece, finish in [*((p, None) for p in pieces), ("", "stop")]:
                    delta = {"content": piece} if piece else {}
                    chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
                             "model": body["model"], "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def llm_settings(url: str) -> Settings:
    return Settings(llm_base_url=url, llm_model="test-model", _env_file=None)


@pytest.fixture(scope="module")
def server():
    s = ScriptedLLM()
    yield s
    s.close()


@pytest.fixture
def llm(server):
    server.replies.clear()
    server.requests.clear()
    return server


@pytest.fixture(scope="module")
def extractive(corpus_library):
    return Answerer(Retriever(corpus_library))


@pytest.fixture
def generative(extractive, llm):
    return LLMAnswerer(extractive, chat_model(llm_settings(llm.url)))


def passages_of(request: dict) -> dict[str, int]:
    """Section label -> the number the request gave its passage."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return {label: int(n) for n, label in reversed(_HEADER.findall(user))}


def citing(template: str, **labels: str):
    """A reply that cites sections by label: citing("… [{a}].", a=ART_26_6)."""
    return lambda request: template.format(**{k: passages_of(request)[v] for k, v in labels.items()})


def retrieved_text(answer: Answer) -> dict[str, str]:
    return {h.chunk.chunk_id: h.chunk.text for h in answer.retrieved}


def test_cited_reply_becomes_an_llm_answer_with_verbatim_quote(generative, llm):
    llm.replies.append(citing("Betreiber müssen die automatisch erzeugten Protokolle mindestens sechs Monate "
                              "aufbewahren [{a}].", a=ART_26_6))
    answer = generative.answer(PROTOCOLS)
    assert answer.mode == "llm" and not answer.refused
    assert answer.text == "Betreiber müssen die automatisch erzeugten Protokolle mindestens sechs Monate aufbewahren [1]."
    [citation] = answer.citations
    assert citation.n == 1 and citation.section == ART_26_6
    chunk_text = retrieved_text(answer)[citation.chunk_id]
    assert citation.quote in chunk_text
    assert "sechs Monate" in citation.quote
    assert set(answer.timings_ms) >= {"retrieve", "answer", "llm"}


def test_markers_are_renumbered_in_order_of_first_use(generative, llm):
    llm.replies.append("Die Protokolle sind aufzubewahren [2]. Das gilt nach beiden Passagen [3, 2].")
    answer = generative.answer(PROTOCOLS)
    given = answer.retrieved
    assert answer.text == "Die Protokolle sind aufzubewahren [1]. Das gilt nach beiden Passagen [2][1]."
    assert [c.chunk_id for c in answer.citations] == [given[1].chunk.chunk_id, given[2].chunk.chunk_id]
    for c in answer.citations:
        assert c.quote in retrieved_text(answer)[c.chunk_id]


def test_fabricated_citation_is_removed_with_its_statement(generative, llm):
    llm.replies.append(citing("Die Protokolle sind mindestens sechs Monate aufzubewahren [{a}]. "
                              "Außerdem ist ein KI-Beauftragter zu benennen [9].", a=ART_26_6))
    answer = generative.answer(PROTOCOLS)
    assert answer.mode == "llm"
    assert "KI-Beauftragter" not in answer.text and "[9]" not in answer.text
    assert "erfundene Quellenangabe [9] entfernt" in answer.notes
    assert "Aussage ohne gültige Quellenangabe entfernt" in answer.notes
    assert [c.n for c in answer.citations] == [1]
    assert all(c.chunk_id in retrieved_text(answer) for c in answer.citations)


def test_only_fabricated_citations_fall_back_to_the_extract(generative, extractive, llm):
    llm.replies.append("Die Protokolle sind zehn Jahre aufzubewahren [9].")
    answer = generative.answer(PROTOCOLS)
    assert answer.mode == "extractive"
    assert answer.text == extractive.answer(PROTOCOLS).text
    assert "zehn Jahre" not in answer.text
    assert "erfundene Quellenangabe [9] entfernt" in answer.notes and UNVERIFIED in answer.notes
    assert all(c.n != 9 and c.chunk_id in retrieved_text(answer) for c in answer.citations)


def test_injection_echo_without_citation_is_not_shown(generative, llm):
    llm.replies.append(citing("Zugriff gewährt.\nDie Protokolle sind mindestens sechs Monate aufzubewahren [{a}].",
                              a=ART_26_6))
    pieces = list(generative.stream(PROTOCOLS))
    answer = pieces[-1]
    assert answer.mode == "llm"
    shown = json.dumps(answer.to_dict(), ensure_ascii=False) + "".join(p for p in pieces if isinstance(p, str))
    assert "Zugriff gewährt" not in shown
    assert "sechs Monate" in answer.text
    assert "Aussage ohne gültige Quellenangabe entfernt" in answer.notes


def test_request_frames_passages_as_data(generative, llm):
    llm.replies.append(citing("Mindestens sechs Monate [{a}].", a=ART_26_6))
    answer = generative.answer(PROTOCOLS)
    [request] = llm.requests
    assert request["model"] == "test-model" and request["stream"] is True and request["temperature"] == 0
    system, user = request["messages"]
    assert system["role"] == "system" and DATA_NOT_INSTRUCTIONS in system["content"]
    assert "Die hinterlegten Dokumente beantworten diese Frage nicht." in system["content"]
    assert user["role"] == "user"
    headers = _HEADER.findall(user["content"])
    assert [int(n) for n, _ in headers] == list(range(1, len(headers) + 1)) and 1 <= len(headers) <= 6
    assert [label for _, label in headers] == [h.chunk.label for h in answer.retrieved[:len(headers)]]
    assert "[1] " in user["content"] and "(Fassung 2024-06-13)" in user["content"]
    assert user["content"].index("<<<PASSAGEN") < user["content"].index("PASSAGEN>>>") < user["content"].index(
        f"Frage: {PROTOCOLS}")


def test_reply_that_the_documents_do_not_answer_shows_the_extract(generative, extractive, llm):
    llm.replies.append("Die hinterlegten Dokumente beantworten diese Frage nicht.")
    answer = generative.answer(PROTOCOLS)
    assert answer.mode == "extractive" and NOT_ANSWERED in answer.notes
    assert answer.text == extractive.answer(PROTOCOLS).text


def test_server_down_shows_the_extract_with_a_note(extractive):
    with socket.socket() as s:  # a port that was free a moment ago and has nobody listening now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    generative = LLMAnswerer(extractive, chat_model(llm_settings(f"http://127.0.0.1:{port}/v1")))
    answer = generative.answer(PROTOCOLS)
    assert answer.mode == "extractive" and UNREACHABLE in answer.notes
    assert answer.text == extractive.answer(PROTOCOLS).text
    assert ART_26_6 in [c.section for c in answer.citations]


def test_http_error_shows_the_extract_with_a_note(generative, llm):
    llm.replies.extend([500, 500])  # the client retries once
    answer = generative.answer(PROTOCOLS)
    assert answer.mode == "extractive" and UNREACHABLE in answer.notes
    assert "sechs Monate" in answer.text


def test_stream_yields_checked_statements_then_the_answer(generative, llm):
    llm.replies.append(citing("Betreiber bewahren die Protokolle auf [{a}]. Die Frist beträgt mindestens sechs "
                              "Monate [{a}].\nDas Unionsrecht kann anderes vorsehen [{a}].", a=ART_26_6))
    pieces = list(generative.stream(PROTOCOLS))
    *text, answer = pieces
    assert isinstance(answer, Answer) and answer.mode == "llm"
    assert len(text) == 3 and all(isinstance(p, str) for p in text)
    assert text[0] == "Betreiber bewahren die Protokolle auf [1]."
    assert "".join(text) == answer.text
    assert answer.text.splitlines()[1] == "Das Unionsrecht kann anderes vorsehen [1]."


def test_follow_up_is_rewritten_before_retrieval(generative, llm):
    rewrite = "Wie lange müssen Betreiber von Hochrisiko-KI-Systemen Protokolle aufbewahren?"
    llm.replies.extend([rewrite, citing("Mindestens sechs Monate [{a}].", a=ART_26_6)])
    history = [Turn("Welche Pflichten haben Betreiber von Hochrisiko-KI-Systemen?")]
    answer = generative.answer("Und wie lange die Aufzeichnungen?", history)
    first, second = llm.requests
    assert first["messages"][0]["content"] == REWRITE_PROMPT
    assert "Welche Pflichten haben Betreiber" in first["messages"][1]["content"]
    assert "Und wie lange die Aufzeichnungen?" in first["messages"][1]["content"]
    assert f"Frage: {rewrite}" in second["messages"][1]["content"]
    assert answer.signals["search_question"] == rewrite
    assert ART_26_6 in [h.chunk.label for h in answer.retrieved]
    assert answer.mode == "llm" and answer.citations[0].section == ART_26_6


def test_failed_rewrite_answers_from_the_original_question(generative, llm):
    llm.replies.extend([500, 500])
    history = [Turn("Welche Pflichten haben Betreiber von Hochrisiko-KI-Systemen?")]
    answer = generative.answer("Wie lange müssen sie die Protokolle aufbewahren?", history)
    # the endpoint just failed: no second request (and no second timeout) for the answer itself
    assert llm.requests and all(r["messages"][0]["content"] == REWRITE_PROMPT for r in llm.requests)
    assert answer.mode == "extractive" and UNREACHABLE in answer.notes
    assert "search_question" not in answer.signals
    assert ART_26_6 in [h.chunk.label for h in answer.retrieved[:5]]


def test_answer_is_an_lcel_chain_streamed_and_braces_stay_text(generative, llm):
    from langchain_core.runnables import Runnable

    assert isinstance(generative.chain, Runnable)
    llm.replies.append(citing("Mindestens sechs Monate [{a}].", a=ART_26_6))
    question = PROTOCOLS + " {frist}"  # template braces typed by a user are text, not a template field
    *pieces, answer = list(generative.stream(question))
    assert pieces == ["Mindestens sechs Monate [1]."] and answer.mode == "llm"
    request = llm.requests[-1]
    assert request["stream"] is True
    assert request["messages"][1]["content"].endswith("{frist}")
