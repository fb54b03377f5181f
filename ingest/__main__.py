"""python -m ingest: build and inspect the assistant's document index.

Commands:
  run [--rebuild | --rebuild-if-outdated]
                             add or update the documents listed in corpus/manifest.toml (incremental);
                             --rebuild indexes everything again, uploaded versions included
  status                     documents, versions, chunk counts and the embedding model
  search QUESTION [-k N]     the top passages for a question, with labels and scores (for debugging)
  add FILE --doc-id ID --version V --valid-from DATE [...]   add a document version (e.g. a new guideline)
  versions [DOC_ID]          all versions with valid-from and state
  activate DOC_ID VERSION    put a version into force (from its valid-from date)
  retire DOC_ID VERSION      take a version out of force (it stays stored for audit)
  diff DOC_ID [OLD NEW]      section-level changes between two versions (default: the latest and the one before)
  unlock                     free the writers' lock of an ingestion that died (with a Chroma server it would
                             otherwise lapse after an hour); a writer still running on this host is not unlocked
Exit code 1 with a one-line message on any refused input.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from assistant.errors import AssistantError
from assistant.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="index the manifest's documents (incremental)")
    run.add_argument("--rebuild", action="store_true", help="drop the index and build it again from the files")
    run.add_argument("--rebuild-if-outdated", dest="if_outdated", action="store_true",
                     help="rebuild only when the index was built with another model or chunking (used by make setup)")
    sub.add_parser("status", help="documents, versions, chunks, model, question index coverage")
    search = sub.add_parser("search", help="top passages for a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=5)
    add = sub.add_parser("add", help="add a document version")
    add.add_argument("file", type=Path)
    add.add_argument("--doc-id", required=True)
    add.add_argument("--version", required=True)
    add.add_argument("--valid-from", required=True)
    add.add_argument("--title", default="")
    add.add_argument("--kind", default="guideline", choices=["guideline", "regulation", "cabinet-decision"])
    add.add_argument("--short", default="")
    add.add_argument("--issuer", default="")
    add.add_argument("--url", default="")
    add.add_argument("--note", default="")
    add.add_argument("--questions", type=Path, default=None, metavar="FILE.jsonl",
                     help="questions per section for the question index (see corpus/questions/README.md)")
    add.add_argument("--stage-only", action="store_true", help="index but do not put into force")
    add.add_argument("--require-gate", action="store_true",
                     help="stage, run the eval questions with and without the new version, activate only if nothing got worse")
    diff = sub.add_parser("diff", help="what changed between two versions (report saved as Markdown and HTML)")
    diff.add_argument("doc_id")
    diff.add_argument("old", nargs="?")
    diff.add_argument("new", nargs="?")
    versions = sub.add_parser("versions", help="list versions")
    versions.add_argument("doc_id", nargs="?")
    for name in ("activate", "retire"):
        p = sub.add_parser(name, help=f"{name} a version")
        p.add_argument("doc_id")
        p.add_argument("version")
    sub.add_parser("unlock", help="free the writers' lock of an ingestion that died")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files get our own one-line message
    settings = Settings()
    try:
        from ingest import commands

        return getattr(commands, f"cmd_{args.command}")(settings, args)
    except AssistantError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
