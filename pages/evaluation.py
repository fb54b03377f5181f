"""Evaluation: the latest results (metrics per split and tag, plots, failing questions) and, for a
logged-in admin, a button that runs the evaluation again in the background, one run at a time.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import streamlit as st
from pydantic import ValidationError

from assistant.governance import organisation_login
from assistant.governance.auth import login_form, logout_button, session_guard
from assistant.errors import AssistantError
from assistant.settings import Settings
from eval.metrics import doc_rows, group_rows, summarise_rows
from eval.report import TAG_COLUMNS
from ingest.upload import audit

ROOT = Path(__file__).resolve().parents[1]
SPLIT_ORDER = ("dev", "test", "holdout")
PLOTS = {"tags.png": "hit@5 und citation_hit je Tag", "refusal_scores.png": "Verteilung der refusal_score-Werte",
         "ranks.png": "Rang der Evidenz (beantwortbare Fragen)"}

st.set_page_config(page_title="Evaluation", page_icon="§", layout="wide")
st.title("Evaluation")

try:
    settings = Settings()
except ValidationError as exc:
    st.error(f"Ungültige Einstellung: {exc.errors()[0]['loc']} – {exc.errors()[0]['msg']}")
    st.stop()
# overridable so tests (and a second deployment) do not read or overwrite the committed results
results_path = Path(os.environ.get("ASSISTANT_EVAL_RESULTS") or ROOT / "eval" / "results" / "latest.json")
report_dir = results_path.parent / "report"


@st.cache_resource
def eval_job() -> SimpleNamespace:
    """Process-wide state of the background run; the lock makes a second start wait its turn (refused)."""
    return SimpleNamespace(lock=threading.Lock(), started=None, finished=None, error=None, gate=None)


def question_paths() -> list[Path]:
    from eval.runner import DEFAULT_QUESTIONS

    custom = os.environ.get("ASSISTANT_EVAL_QUESTIONS")  # a small set for tests and quick checks
    return [Path(p) for p in custom.split(os.pathsep)] if custom else DEFAULT_QUESTIONS


def run_in_background(job: SimpleNamespace, settings: Settings, out: Path, session: str) -> None:
    """Answer all questions, write the results atomically, re-render the report, gate and audit."""
    from eval.__main__ import BASELINE, THRESHOLDS
    from eval.gate import gate, load_thresholds
    from eval.report import render
    from eval.runner import run


    detail: dict = {"session": session, "results": str(out)}
    try:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        doc = run(settings, question_paths(), progress=False, on_question=progress)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        partial.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(partial, out)
        baseline = json.loads(BASELINE.read_text(encoding="utf-8")) if BASELINE.is_file() else None
        render(doc, out.parent / "report", baseline=baseline)
        if baseline is not None:
            result = gate(doc, baseline, load_thresholds(THRESHOLDS))
            job.gate = {"passed": result.passed, "failures": list(result.failures)}
            detail["gate"] = job.gate
        detail["summary"] = {k: doc["summary"].get(k)
                             for k in ("n_questions", "hit@5", "citation_hit", "refusal_accuracy")}
    except Exception as exc:  # noqa: BLE001 - a failed run must still release the lock and say why
        job.error = f"{type(exc).__name__}: {exc}"
        detail["error"] = job.error
    finally:
        job.finished = time.time()
        job.lock.release()
        audit(settings.data_dir, "admin", "eval", "", "", detail)


def start_run(guard, job: SimpleNamespace) -> str | None:
    """Start a run unless one is going; returns a refusal message or None."""
    try:
        session = guard.require()
    except AssistantError as exc:
        return str(exc)
    if not job.lock.acquire(blocking=False):
        return "Es läuft bereits eine Evaluation. Bitte warten Sie, bis sie fertig ist."
    job.started, job.finished, job.error, job.gate = time.time(), None, None, None
    job.done, job.total = 0, 0
    threading.Thread(target=run_in_background, args=(job, settings, results_path, session),
                     name="eval-run", daemon=True).start()
    return None


def elapsed(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d} min"


@st.fragment(run_every=5)
def run_status(job: SimpleNamespace) -> None:
    """Polls the background run; when it has finished, redraws the whole page with the new results."""
    if job.lock.locked():
        done, total = getattr(job, "done", 0), getattr(job, "total", 0)
        st.info(f"Evaluation läuft seit {elapsed(time.time() - job.started)}; die Seite aktualisiert sich selbst, "
                "wenn sie fertig ist.", icon=":material/hourglass_top:")
        st.progress(done / total if total else 0.0,
                    text=f"{done} von {total} Fragen beantwortet" if total else "Index wird aufgebaut …")
    else:  # finished: the full rerun shows the new results and no longer draws this fragment
        st.rerun(scope="app")


# --- the admin part: login and the run button -------------------------------------------------------
job = eval_job()
oidc = organisation_login.configured()
if oidc or settings.admin_password_hash.strip():
    guard = (organisation_login.organisation_gate(settings, audit) if oidc
             else session_guard(settings.admin_password_hash))
    if guard.logged_in():
        if oidc:
            organisation_login.logout_button(settings, guard, audit)
        else:
            logout_button(guard)
        if st.button("Evaluation starten", type="primary", disabled=job.lock.locked(), key="eval_start"):
            refused = start_run(guard, job)
            if refused:
                st.warning(refused)
            else:
                st.rerun()  # redraw with the button disabled and the status shown
        if job.lock.locked():
            run_status(job)
        elif job.error:
            st.error(f"Die letzte Evaluation ist fehlgeschlagen: {job.error}")
        elif job.finished:
            verdict = "" if job.gate is None else (" Gate bestanden." if job.gate["passed"] else
                                                   " Gate NICHT bestanden: " + "; ".join(job.gate["failures"]))
            st.success(f"Letzte Evaluation abgeschlossen um {dt.datetime.fromtimestamp(job.finished):%H:%M}.{verdict}")
    elif oidc:
        if st.user.is_logged_in:
            organisation_login.denied(settings, guard, audit)
        else:
            organisation_login.login_button()
    else:
        with st.expander("Als Administrator anmelden, um die Evaluation zu starten"):
            login_form(guard)
else:
    st.caption("Das Starten der Evaluation ist Administratoren vorbehalten; die Administration ist nicht eingerichtet.")

# --- the latest results ------------------------------------------------------------------------------
if not results_path.is_file():
    st.info(f"Noch keine Ergebnisse ({results_path.name} fehlt). Erzeugen mit `python -m eval run`, "
            "danach `python -m eval report`.")
    st.stop()
try:
    doc = json.loads(results_path.read_text(encoding="utf-8"))
    rows = doc_rows(doc)
except (ValueError, KeyError) as exc:
    st.error(f"{results_path}: Ergebnisdatei nicht lesbar ({exc}). Erzeugen Sie sie neu mit `python -m eval run`.")
    st.stop()

config = doc.get("config") or {}
stamp = dt.datetime.fromtimestamp(results_path.stat().st_mtime)
st.caption(f"Ergebnisse vom {stamp:%d.%m.%Y %H:%M} · Modell {config.get('embedding_model', '?')} · "
           f"Retrieval {config.get('retrieval', '?')} · Stand {config.get('git', '?')} · Dokumente: "
           + ", ".join(f"{d} {v}" for d, v in (config.get("corpus") or {}).items()))


def fmt(value, metric: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0f} ms" if metric.startswith("latency") else f"{value:.3f}"
    return str(value)


st.subheader("Kennzahlen je Split")
by_split = group_rows(rows, "split")
splits = {"alle": rows, **{s: by_split[s] for s in SPLIT_ORDER if s in by_split},
          **{s: g for s, g in by_split.items() if s not in SPLIT_ORDER}}
summaries = {name: summarise_rows(group) for name, group in splits.items()}
metrics = list(summaries["alle"])
right = st.column_config.TextColumn(alignment="right")  # numbers are pre-formatted strings ("–" for none)
st.dataframe([{"Kennzahl": m, **{name: fmt(s[m], m) for name, s in summaries.items()}} for m in metrics],
             hide_index=True, height="content", column_config={name: right for name in summaries})
st.caption("Raten über beantwortbare Fragen; false_refusals und missed_refusals sind Anzahlen von Fragen. "
           "Schwellen werden nur auf dev abgestimmt.")

st.subheader("Kennzahlen je Tag")
by_tag = {tag: summarise_rows(group) for tag, group in group_rows(rows, "tags").items()}
st.dataframe([{"Tag": tag, **{m: fmt(s[m]) for m in TAG_COLUMNS}} for tag, s in by_tag.items()],
             hide_index=True, height="content", column_config={m: right for m in TAG_COLUMNS})

st.subheader("Grafiken")
plots = [report_dir / name for name in PLOTS if (report_dir / name).is_file()]
if plots:
    # the per-tag chart is wide (one bar pair per tag): full width; the other two side by side
    wide = [p for p in plots if p.name == "tags.png"]
    for path in wide:
        st.image(str(path), caption=PLOTS[path.name])
    small = [p for p in plots if p not in wide]
    for column, path in zip(st.columns(2), small):
        column.image(str(path), caption=PLOTS[path.name])
    if min(p.stat().st_mtime for p in plots) < results_path.stat().st_mtime - 1:
        st.caption("Die Grafiken sind älter als die Ergebnisse; `python -m eval report` erneuert sie.")
else:
    st.info("Noch keine Grafiken: `python -m eval report` erzeugt sie aus den Ergebnissen.")

st.subheader("Nicht bestandene Fragen")
results_by_id = {r["id"]: r for r in doc.get("results") or []}
failing = [row for row in rows if not row["passed"]]
split_filter = st.selectbox("Split", ["alle", *[s for s in splits if s != "alle"]], key="failing_split")
failing = [row for row in failing if split_filter == "alle" or row["split"] == split_filter]
st.caption(f"{len(failing)} von {sum(1 for r in rows if split_filter == 'alle' or r['split'] == split_filter)} "
           "Fragen nicht bestanden. Beantwortbare Fragen bestehen, wenn die Evidenz unter den ersten fünf "
           "Treffern ist, zitiert und nicht abgelehnt wird; nicht beantwortbare, wenn sie abgelehnt werden.")


def top3(result: dict) -> str:
    """The first three retrieved passages as 'label, S. n (score)', so a miss shows what came instead."""
    hits = sorted(result.get("retrieved") or [], key=lambda p: p.get("rank") or 0)[:3]
    return " | ".join(f"{p.get('section')}" + (f", S. {p.get('page')}" if p.get("page") else "")
                      + f" ({p.get('score') or 0:.4f})" for p in hits)


if not failing:
    st.success("Alle Fragen dieser Auswahl bestanden.")
    st.stop()
st.dataframe([{"ID": row["id"], "Split": row["split"],
               "Frage": results_by_id.get(row["id"], {}).get("question", ""),
               "erwartet": row.get("section") or "–", "Rang Evidenz": fmt(row["rank"]),
               "Top-3 Treffer (Score)": top3(results_by_id.get(row["id"], {})),
               "beantwortbar": "ja" if row["answerable"] else "nein", "abgelehnt": "ja" if row["refused"] else "nein"}
              for row in failing],
             hide_index=True, column_config={"Frage": st.column_config.TextColumn(width="medium"),
                                             "Top-3 Treffer (Score)": st.column_config.TextColumn(width="large")})
