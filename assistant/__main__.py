"""python -m assistant: ask the assistant from the command line.

Commands:
  ask QUESTION [--json] [--mode extractive|llm] [--k 10]
        answer a German question from the indexed documents, with sources;
        --json prints the full answer record (text, citations, retrieved passages, notes, timings);
        --mode llm lets the configured LLM word the answer (needs ASSISTANT_LLM_BASE_URL and
        ASSISTANT_LLM_MODEL); its statements are checked against the cited passages.
Settings come from ASSISTANT_* environment variables or .env (see assistant/settings.py).
Exit code 1 with a one-line message on any refused input or unavailable setting.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from pydantic import ValidationError

from assistant.errors import AssistantError
from assistant.records import Answer
from assistant.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a question with sources")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer record as JSON")
    ask.add_argument("--mode", choices=["extractive", "llm"], default="extractive")
    ask.add_argument("--k", type=int, default=10, help="passages to retrieve (default 10)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # model-loading bars would clutter the answer
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"ASSISTANT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"Fehler: ungültige Einstellung – {problems}", file=sys.stderr)
        return 1
    try:
        return COMMANDS[args.command](settings, args)
    except AssistantError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    if args.mode == "llm" and not settings.llm_enabled:
        # checked before the index and the embedding model are loaded, which takes seconds
        print("Fehler: Der LLM-Modus ist nicht eingerichtet: setzen Sie ASSISTANT_LLM_BASE_URL und "
              "ASSISTANT_LLM_MODEL (z. B. in .env).", file=sys.stderr)
        return 1
    from assistant.answer import Answerer
    from assistant.library import open_library
    from assistant.retrieve import Retriever

    answerer = Answerer(Retriever(open_library(settings)), k=args.k)
    if args.mode == "llm":
        from assistant.generate import LLMAnswerer
        from assistant.models import chat_model

        answerer = LLMAnswerer(answerer, chat_model(settings))
    answer = answerer.answer(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(render(answer))
    return 0


def render(answer: Answer) -> str:
    """Plain-text answer: the text, then its sources (or, for a refusal, what might be related)."""
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Quellen:")
        for c in answer.citations:
            page = f", S. {c.page}" if c.page else ""
            lines.append(f"[{c.n}] {c.section}, {c.title}, Fassung {c.version}{page}")
            lines.extend(f"    {line}" for line in c.quote.splitlines())
    if answer.refused and answer.related:
        lines.append("Möglicherweise verwandt:")
        lines.extend(f"- {h.chunk.label}, {h.title}, Fassung {h.version}" for h in answer.related)
    if answer.notes:
        lines.append("")
        lines.extend(f"Hinweis: {note}" for note in answer.notes)
    return "\n".join(lines).rstrip()


COMMANDS = {"ask": cmd_ask}

if __name__ == "__main__":
    sys.exit(main())
