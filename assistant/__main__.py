"""python -m assistant: ask the assistant from the command line.

Commands:
  ask QUESTION [--json] [--mode extractive|llm] [--k 10]
        answer a German question from the indexed documents, with sources;
        --json prints the full answer record (text, citations, retrieved passages, notes, timings);
        --mode llm lets the configured LLM word the answer (needs ASSISTANT_LLM_BASE_URL and
        ASSISTANT_LLM_MODEL); its statements are checked against the cited passages.
        Every answer is appended to the answer log (data/answer-log.jsonl), the question redacted.
  audit [--since YYYY-MM-DD] [--limit N] [--json]
        show the answer log as a table, newest last: time, source (app/cli), mode, refusal, latency,
        redacted question, cited sections with document version and chunk id, models;
        --since keeps entries from that date (UTC) on, --limit the last N (default 50, 0 = all),
        --json prints the stored JSON lines instead.
  purge [--days N]
        delete feedback, admin audit and answer log entries older than the retention period
        (ASSISTANT_RETENTION_DAYS, default 180 days).
  hash-password
        read the admin password twice (or once from stdin when it is not a terminal) and print
        its scrypt hash and the line to put into .env (ASSISTANT_ADMIN_PASSWORD_HASH=...).
Settings come from ASSISTANT_* environment variables or .env (see assistant/settings.py).
Exit code 1 with a one-line message on any refused input or unavailable setting.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

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
    audit = sub.add_parser("audit", help="show the answer log (redacted questions, sources, models, latency)")
    audit.add_argument("--since", metavar="YYYY-MM-DD", help="only entries from this date (UTC) on")
    audit.add_argument("--limit", type=int, default=50, metavar="N", help="the last N entries (default 50, 0 = all)")
    audit.add_argument("--json", action="store_true", help="print the stored JSON lines")
    sub.add_parser("hash-password", help="print the hash for ASSISTANT_ADMIN_PASSWORD_HASH")
    purge = sub.add_parser("purge", help="delete feedback and audit entries older than the retention period")
    purge.add_argument("--days", type=int, help="retention in days (default: ASSISTANT_RETENTION_DAYS, 180)")
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
    from assistant.answering.extractive import Answerer
    from assistant.governance.answer_log import AnswerLog
    from assistant.storage.library import open_library
    from assistant.retrieval.ranking import Retriever

    answerer = Answerer(Retriever(open_library(settings)), k=args.k)
    if args.mode == "llm":
        from assistant.answering.llm import LLMAnswerer
        from assistant.storage.models import chat_model

        answerer = LLMAnswerer(answerer, chat_model(settings))
    started = time.perf_counter()
    answer = answerer.answer(args.question)
    AnswerLog.from_settings(settings, source="cli").record(args.question, answer, requested_mode=args.mode,
                                                            latency_ms=1000 * (time.perf_counter() - started))
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


MIN_PASSWORD_CHARS = 10


def cmd_hash_password(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from assistant.governance.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Administrator-Passwort: ")
        if getpass.getpass("Passwort wiederholen: ") != password:
            print("Fehler: Die beiden Eingaben stimmen nicht überein; es wurde nichts ausgegeben.", file=sys.stderr)
            return 1
    else:  # piped, e.g. from a secrets manager: the first line is the password
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"Fehler: Das Passwort muss mindestens {MIN_PASSWORD_CHARS} Zeichen lang sein.", file=sys.stderr)
        return 1
    encoded = hash_password(password)
    print(encoded)
    # single quotes: a shell or .env reader must not expand the '$' separators of the hash
    print(f"In .env eintragen:\nASSISTANT_ADMIN_PASSWORD_HASH='{encoded}'")
    return 0


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    """The answer log for the data-protection officer and auditors: read only, never changed."""
    import datetime as dt

    from assistant.governance.answer_log import answer_log_path, dumps, format_entries, read_entries

    try:
        since = dt.date.fromisoformat(args.since) if args.since else None
    except ValueError:
        print(f"Fehler: --since erwartet ein Datum wie 2026-01-31, nicht „{args.since}“.", file=sys.stderr)
        return 1
    if args.limit < 0:
        print("Fehler: --limit darf nicht negativ sein (0 = alle Einträge).", file=sys.stderr)
        return 1
    path = answer_log_path(settings.data_dir)
    entries, skipped = read_entries(path, since=since, limit=args.limit or None)
    if skipped:
        print(f"Hinweis: {skipped} unlesbare Zeilen in {path} übersprungen.", file=sys.stderr)
    if args.json:
        for entry in entries:
            print(dumps(entry))
    elif not entries:
        print(f"Keine Einträge im Antwortprotokoll {path}" + (f" seit {since.isoformat()}." if since else "."))
    else:
        print(format_entries(entries))
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    """Data protection: feedback (with its confirmations), the admin audit log and the answer log are kept
    only for the retention period; this deletes what is older. Run it regularly (e.g. daily from cron)."""
    from assistant.governance.answer_log import AnswerLog
    from assistant.governance.feedback import FeedbackStore, feedback_path
    from assistant.governance.retention import purge_jsonl

    days = args.days if args.days is not None else settings.retention_days
    removed = FeedbackStore(feedback_path(settings.data_dir)).purge(days)
    audit_removed = purge_jsonl(settings.data_dir / "admin-audit.jsonl", days)
    answers_removed = AnswerLog.from_settings(settings, source="cli").purge(days)
    print(f"{removed} Feedback-Einträge, {audit_removed} Verwaltungs-Protokolleinträge und {answers_removed} "
          f"Antwortprotokoll-Einträge älter als {days} Tage gelöscht.")
    return 0


COMMANDS = {"ask": cmd_ask, "audit": cmd_audit, "hash-password": cmd_hash_password, "purge": cmd_purge}

if __name__ == "__main__":
    sys.exit(main())
