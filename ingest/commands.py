"""The ingest CLI's commands: a few lines each around the library functions."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

from assistant.errors import IndexMismatchError, InputError
from assistant.storage.library import open_library, release_writer, writer_lock
from assistant.records import DocumentVersion
from ingest.manifest import check_date
from ingest.pipeline import ingest_manifest, ingest_version, rebuild
from ingest.question_writer import question_writer
from ingest.questions import question_coverage, read_question_file


def cmd_run(settings, args) -> int:
    with writer_lock(settings):
        lib = open_library(settings)
        bars = []

        def factory(doc):
            bar = tqdm(desc=f"encoding {doc.doc_id} (passages, then questions)", unit="text", leave=False, file=sys.stderr,
                       disable=not sys.stderr.isatty())
            bars.append(bar)
            return bar.update

        if args.if_outdated and not args.rebuild:
            try:
                lib.store.check_compatible()
            except IndexMismatchError as exc:
                print(f"{exc} Rebuilding now.")
                args.rebuild = True
        if args.rebuild:
            lib, report = rebuild(lib, progress_factory=factory, writer=question_writer(lib))
        else:
            report = ingest_manifest(lib, progress_factory=factory, writer=question_writer(lib))
        for bar in bars:
            bar.close()
    for r in report.results:
        detail = (f"{r.chunks} chunks, {r.new_chunks} new, {r.encoded} encoded; sections +{r.sections_added} "
                  f"~{r.sections_changed} -{r.sections_removed} ={r.sections_unchanged}")
        print(f"{r.status:9} {r.doc_id} {r.version}: {detail if r.status != 'unchanged' else f'{r.chunks} chunks'}")
        if r.questions is not None and (r.status != "unchanged" or r.questions.new_questions):
            print(f"          {r.questions.line()}")
    for message in report.skipped:
        print(f"skipped   {message}")
    added = sum(1 for r in report.results if r.status in ("added", "updated"))
    unchanged = sum(1 for r in report.results if r.status == "unchanged")
    print(f"Summary: {added} added/updated, {unchanged} unchanged, {len(report.skipped)} skipped, "
          f"{report.removed_orphans} unreferenced chunks removed, {lib.embedder.encoded} texts encoded, "
          f"{report.seconds:.1f} s.")
    return 1 if report.skipped else 0


def cmd_status(settings, args) -> int:
    lib = open_library(settings)
    print(f"Data directory: {settings.data_dir}   embedding model: {lib.embedder.fingerprint}   "
          f"stored chunks: {lib.store.count()}   generation: {lib.registry.generation()}")
    in_force = lib.registry.in_force()
    for v in lib.registry.versions():
        mark = "in force" if in_force.get(v.doc_id) == v else v.state
        print(f"  {v.doc_id:32} {v.version:12} valid from {v.valid_from}{'~' if v.valid_from_approx else ' '} "
              f"{len(lib.registry.chunk_ids(v.doc_id, v.version)):5} chunks  {mark}")
    if not lib.registry.versions():
        print("  (no documents yet: run `python -m ingest run`)")
    for line in question_coverage(lib):
        print(line)
    return 0


def cmd_search(settings, args) -> int:
    from assistant.retrieval.ranking import Retriever

    lib = open_library(settings)
    started = time.perf_counter()
    hits = Retriever(lib).search(args.question, k=args.k)
    print(f"{len(hits)} passages in {1000 * (time.perf_counter() - started):.0f} ms")
    for h in hits:
        page = f", S. {h.chunk.page}" if h.chunk.page else ""
        print(f"{h.rank:2}. {h.score:.4f}  {h.chunk.label}{page}  [{h.version}]  {h.signals}")
        print(f"    {h.chunk.text[:200].replace(chr(10), ' ')}")
    return 0


def cmd_add(settings, args) -> int:
    valid_from = check_date(args.valid_from, f"{args.file}")
    questions = read_question_file(args.questions, doc_id=args.doc_id) if args.questions else None
    with writer_lock(settings):
        lib = open_library(settings)
        lib.store.check_compatible()
        earlier = lib.registry.versions(args.doc_id)
        base = earlier[-1] if earlier else None
        title = args.title or (base.title if base else "")
        if not title:
            raise InputError(f"{args.file}: new document '{args.doc_id}' needs --title.")
        # a copy of every added file is kept with the index: the source of each version stays on record
        # (audit) and `ingest run --rebuild` can index it again
        from ingest.upload import save_upload

        if not args.file.is_file():
            raise InputError(f"{args.file}: file not found. Check the path; nothing was changed.")
        if args.file.stat().st_size > settings.max_upload_mb * 1024 * 1024:  # refused before it is read
            raise InputError(f"{args.file}: {args.file.stat().st_size / 1e6:.1f} MB is larger than the limit of "
                             f"{settings.max_upload_mb} MB (ASSISTANT_MAX_UPLOAD_MB). Split the document or raise "
                             "the limit; nothing was changed.")
        try:
            stored = save_upload(args.file.read_bytes(), args.file.name, settings.data_dir / "uploads",
                                 max_bytes=settings.max_upload_mb * 1024 * 1024)
        except InputError as exc:  # name the file as given on the command line
            raise InputError(str(exc).replace(f"{args.file.name}:", f"{args.file}:", 1)) from None
        doc = DocumentVersion(doc_id=args.doc_id, version=args.version, valid_from=valid_from, title=title,
                              short=args.short or (base.short if base else args.doc_id), kind=args.kind if not base else base.kind,
                              issuer=args.issuer or (base.issuer if base else ""), file=stored.name,
                              url=args.url or (base.url if base else ""), note=args.note)
        with tqdm(desc=f"encoding {args.doc_id} (passages, then questions)", unit="text", leave=False, file=sys.stderr,
                       disable=not sys.stderr.isatty()) as bar:
            staged = args.stage_only or args.require_gate
            try:
                result = ingest_version(lib, doc, stored, state="staged" if staged else "active",
                                        progress=bar.update, questions=questions, writer=question_writer(lib))
            except InputError as exc:
                if not any(v.file == stored.name for v in lib.registry.versions()):
                    stored.unlink(missing_ok=True)
                raise InputError(str(exc).replace(str(stored), str(args.file))) from None
        if result.status != "unchanged":
            _report_changes(lib, doc)
        if args.require_gate and result.status != "unchanged":
            return _gate_and_activate(lib, doc)
    if result.status == "unchanged":
        print(f"{args.file}: already registered as {args.doc_id} {args.version}; nothing changed.")
        return 0
    print(f"{result.status} {args.doc_id} {args.version}: {result.chunks} chunks ({result.new_chunks} new, "
          f"{result.encoded} encoded); sections +{result.sections_added} ~{result.sections_changed} "
          f"-{result.sections_removed} ={result.sections_unchanged}")
    if result.questions is not None:
        print(result.questions.line())
    return 0


def _report_changes(lib, doc) -> None:
    from ingest.reports import write_diff_report

    current = lib.registry.version(doc.doc_id, doc.version)
    prev = lib.registry.previous_version(current) if current else None
    if prev:
        diff, paths = write_diff_report(lib, doc.doc_id, prev.version, doc.version)
        print(f"Änderungen gegenüber Fassung {prev.version}: {diff.count('added')} neu, {diff.count('changed')} "
              f"geändert, {diff.count('removed')} entfallen. Bericht: {paths[0]}")


def _gate_and_activate(lib, doc) -> int:
    """Run the reference questions with and without the staged version; activate only without regression."""
    from eval.staged import staged_gate

    result, comparison = staged_gate(lib, doc.doc_id, doc.version)
    for line in comparison.get("newly_failing", []):
        print(f"  neu fehlerhaft: {line}")
    if not result.passed:
        print(f"Eval-Gate nicht bestanden: {'; '.join(result.failures)}. {doc.doc_id} {doc.version} bleibt "
              f"bereitgestellt (staged); prüfen, dann `python -m ingest activate {doc.doc_id} {doc.version}`.")
        return 1
    lib.registry.set_state(doc.doc_id, doc.version, "active")
    print(f"Eval-Gate bestanden; {doc.doc_id} {doc.version} ist aktiv.")
    return 0


def cmd_versions(settings, args) -> int:
    import datetime as dt

    lib = open_library(settings)
    versions = lib.registry.versions(args.doc_id)
    for v in versions:
        # valid until the day before the next active version of the same document takes over
        later = [o for o in versions if o.doc_id == v.doc_id and o.state == "active" and o.valid_from > v.valid_from]
        until = (dt.date.fromisoformat(min(o.valid_from for o in later)) - dt.timedelta(days=1)).isoformat() \
            if later and v.state != "staged" else "–"
        print(f"{v.doc_id:32} {v.version:12} {v.valid_from} bis {until:10} {v.state:8} {v.sha256[:12]} {v.file}"
              + (f"  ({v.note})" if v.note else ""))
    return 0


def _set_state(settings, args, state: str) -> int:
    with writer_lock(settings):
        lib = open_library(settings)
        v = lib.registry.set_state(args.doc_id, args.version, state)
    print(f"{v.doc_id} {v.version}: {v.state}")
    return 0


def cmd_activate(settings, args) -> int:
    return _set_state(settings, args, "active")


def cmd_retire(settings, args) -> int:
    return _set_state(settings, args, "retired")


def cmd_diff(settings, args) -> int:
    from ingest.reports import write_diff_report

    lib = open_library(settings)
    versions = [v for v in lib.registry.versions(args.doc_id) if v.state != "staged" or args.new]
    if not versions:
        raise InputError(f"{args.doc_id}: no such document. See `python -m ingest versions`.")
    new = args.new or versions[-1].version
    if args.old:
        old = args.old
    else:
        current = lib.registry.version(args.doc_id, new)
        prev = lib.registry.previous_version(current) if current else None
        if not prev:
            print(f"{args.doc_id} {new}: no earlier version to compare with.")
            return 0
        old = prev.version
    diff, paths = write_diff_report(lib, args.doc_id, old, new)
    from assistant.answering.versions import to_markdown

    print(to_markdown(diff, lib.registry.version(args.doc_id, new).title))
    print("Bericht: " + ", ".join(str(p) for p in paths))
    return 0


def cmd_unlock(settings, args) -> int:
    print(release_writer(settings))
    return 0
