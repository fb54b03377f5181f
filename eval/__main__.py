"""python -m eval: evaluate the assistant on the reference questions.

Commands:
  run [--questions F ...] [--out R] [--k 10] [--mode hybrid|dense|lexical]   answer all questions, write results
  report [--results R] [--baseline B] [--out DIR]     HTML + Markdown report with plots
  gate [--results R] [--baseline B]                   exit 1 when a metric regressed beyond eval/thresholds.toml
  ablate [--questions F ...]                          lexical-only, dense-only, hybrid without and with the
                                                      question index, side by side; also for English questions
  baseline --update [--results R]                     make a results file the new committed baseline
  calibrate [--results R]                             refusal threshold that maximises accuracy on the dev split
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / "eval" / "results" / "latest.json"
BASELINE = ROOT / "eval" / "baseline.json"
THRESHOLDS = ROOT / "eval" / "thresholds.toml"


def _read(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"{path}: results file not found. Run `python -m eval run` first.")
    return json.loads(path.read_text(encoding="utf-8"))


def _write(doc: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from eval.runner import DEFAULT_QUESTIONS

    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--questions", type=Path, action="append")
    run.add_argument("--out", type=Path, default=LATEST)
    run.add_argument("--k", type=int, default=10)
    run.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "lexical"])
    report = sub.add_parser("report")
    report.add_argument("--results", type=Path, default=LATEST)
    report.add_argument("--baseline", type=Path, default=BASELINE)
    report.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "report")
    gate = sub.add_parser("gate")
    gate.add_argument("--results", type=Path, default=LATEST)
    gate.add_argument("--baseline", type=Path, default=BASELINE)
    gate.add_argument("--thresholds", type=Path, default=THRESHOLDS)
    ablate = sub.add_parser("ablate")
    ablate.add_argument("--questions", type=Path, action="append")
    baseline = sub.add_parser("baseline")
    baseline.add_argument("--update", action="store_true", required=True)
    baseline.add_argument("--results", type=Path, default=LATEST)
    calibrate = sub.add_parser("calibrate")
    calibrate.add_argument("--results", type=Path, default=LATEST)
    args = parser.parse_args(argv)
    settings = Settings()
    settings.apply_environment()

    if args.command == "run":
        from eval.report import format_summary_table
        from eval.runner import run as run_eval

        doc = run_eval(settings, args.questions or DEFAULT_QUESTIONS, k=args.k, mode=args.mode)
        _write(doc, args.out)
        print(format_summary_table(_splits(doc)))
        print(f"Results: {args.out}")
        return 0
    if args.command == "report":
        from eval.report import render

        base = _read(args.baseline) if args.baseline.is_file() else None
        path = render(_read(args.results), args.out, baseline=base)
        print(f"Report: {path}")
        return 0
    if args.command == "gate":
        from eval.gate import gate as run_gate
        from eval.gate import load_thresholds

        result = run_gate(_read(args.results), _read(args.baseline), load_thresholds(args.thresholds))
        for note in result.notes:
            print(f"note: {note}")
        for line in result.failures:
            print(f"FAIL {line}")
        print("gate passed" if result.passed else "gate FAILED")
        return 0 if result.passed else 1
    if args.command == "ablate":
        from eval.report import format_summary_table
        from eval.runner import run as run_eval

        from eval.metrics import doc_rows, group_rows, summarise_rows

        table, english = {}, {}
        for name, mode, index in (("lexical", "lexical", False), ("dense", "dense", False),
                                  ("hybrid-no-qi", "hybrid", False), ("hybrid", "hybrid", True)):
            doc = run_eval(settings, args.questions or DEFAULT_QUESTIONS, mode=mode, questions_index=index)
            table[name] = doc["summary"]
            rows = group_rows(doc_rows(doc), "tags").get("english")
            if rows:
                english[name] = summarise_rows(rows)
        print(format_summary_table(table))
        if english:
            print("\nEnglish questions only (they must do at least as well as plain dense retrieval):")
            print(format_summary_table(english))
        return 0
    if args.command == "baseline":
        _write(compact(_read(args.results)), BASELINE)
        print(f"{BASELINE} updated from {args.results}")
        return 0
    if args.command == "calibrate":
        from eval.calibrate import calibrate as run_calibration

        print(run_calibration(_read(args.results)))
        return 0
    return 2


def compact(doc: dict) -> dict:
    """A results file without passage texts: what the gate and the comparison need, small enough to commit."""
    def strip(passages):
        return [{k: v for k, v in p.items() if k != "text"} for p in passages]

    results = []
    for r in doc["results"]:
        answer = {k: v for k, v in r["answer"].items() if k not in ("retrieved", "related")}
        results.append({**r, "retrieved": strip(r["retrieved"]), "answer": answer})
    return {**doc, "results": results}


def _splits(doc: dict) -> dict:
    from eval.metrics import doc_rows, group_rows, summarise_rows

    rows = doc_rows(doc)
    out = {"all": summarise_rows(rows)}
    out.update({name: summarise_rows(group) for name, group in group_rows(rows, "split").items()})
    return out


if __name__ == "__main__":
    sys.exit(main())
