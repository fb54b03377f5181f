"""HTML/Markdown evaluation report, baseline comparison and CLI table.

The HTML is a single file plus PNGs referenced by relative path, so the whole
output directory can be archived as a CI artifact and opened offline.  Every
piece of question or passage text is HTML-escaped: it comes from users and
documents and must never be interpreted as markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Figure without pyplot renders through the Agg canvas and touches no global
# backend state, so importing this module cannot break a GUI session or CI.
from matplotlib.figure import Figure

from eval.metrics import Question, doc_rows, group_rows, hit_at, summarise_rows

Row = Mapping[str, Any]
# For these a rise is bad; everything else (except counts of questions) rising is good.
LOWER_IS_BETTER = {"false_refusals", "missed_refusals", "latency_ms_p50", "latency_ms_p95"}
NEUTRAL = {"n_questions", "n_answerable", "n_unanswerable"}
TAG_COLUMNS = ("n_questions", "hit@5", "mrr@10", "citation_hit", "fact_coverage", "refusal_accuracy")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _status(b: Row, c: Row) -> str:
    # Pass/fail flips decide first; otherwise evidence crossing the top-5
    # boundary (the gated cutoff) counts, smaller rank moves are noise.
    if b["passed"] != c["passed"]:
        return "better" if c["passed"] else "worse"
    b5, c5 = hit_at(b["rank"], 5), hit_at(c["rank"], 5)
    if b5 != c5:
        return "better" if c5 else "worse"
    return "same"


def compare(
    results: Mapping[str, Any], baseline: Mapping[str, Any], questions_by_id: Mapping[str, Question] | None = None
) -> dict[str, Any]:
    """Per-question better/worse/same against a baseline plus metric deltas.

    Only ids present in both files are compared (metric deltas too, so the
    numbers are like-for-like); ids in just one file are listed separately.
    """
    cur = {r["id"]: r for r in doc_rows(results, questions_by_id)}
    base = {r["id"]: r for r in doc_rows(baseline, questions_by_id)}
    common = [i for i in cur if i in base]
    out: dict[str, Any] = {"status": {}, "better": [], "worse": [], "newly_failing": [], "newly_passing": [],
                           "newly_refused": [], "newly_answered": [], "changed_citations": [], "notes": [],
                           "only_in_results": [i for i in cur if i not in base],
                           "only_in_baseline": [i for i in base if i not in cur]}
    for qid in common:
        b, c = base[qid], cur[qid]
        status = out["status"][qid] = _status(b, c)
        if status != "same":
            out[status].append(qid)
        for flag, name in ((b["passed"] and not c["passed"], "newly_failing"),
                           (c["passed"] and not b["passed"], "newly_passing"),
                           (c["refused"] and not b["refused"], "newly_refused"),
                           (b["refused"] and not c["refused"], "newly_answered"),
                           (set(b["cited_sections"]) != set(c["cited_sections"]), "changed_citations")):
            if flag:
                out[name].append(qid)
    if out["only_in_results"] or out["only_in_baseline"]:
        out["notes"].append(f"compared only the {len(common)} question ids present in both runs")
    s_cur = summarise_rows([cur[i] for i in common])
    s_base = summarise_rows([base[i] for i in common])
    out["deltas"] = {m: {"baseline": s_base[m], "current": s_cur[m],
                         "delta": None if s_cur[m] is None or s_base[m] is None else round(s_cur[m] - s_base[m], 4)}
                     for m in s_cur}
    return out


def format_summary_table(summary: Mapping[str, Any]) -> str:
    """Aligned plain-text table.  A flat summary gives metric/value columns;
    a mapping of summaries (e.g. {"all": ..., "dev": ...}) gives one column each."""
    columns = dict(summary) if summary and all(isinstance(v, Mapping) for v in summary.values()) else {"value": summary}
    metrics = list(dict.fromkeys(m for s in columns.values() for m in s))
    rows = [["metric", *columns]] + [[m, *(_fmt(s.get(m)) for s in columns.values())] for m in metrics]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _split_summaries(rows: Sequence[Row]) -> dict[str, dict[str, Any]]:
    by_split = group_rows(rows, "split")
    # dev and test are always shown, even if empty, so reports line up across runs.
    splits = ["dev", "test"] + [s for s in by_split if s not in ("dev", "test")]
    return {"all": summarise_rows(rows), **{s: summarise_rows(by_split.get(s, [])) for s in splits}}


def _plots(
    rows: Sequence[Row], by_tag: Mapping[str, Mapping[str, Any]], threshold: float | None, out: Path
) -> list[str]:
    names = ["tags.png", "refusal_scores.png", "ranks.png"]
    fig = Figure(figsize=(max(6.0, 0.6 * len(by_tag) + 2), 4), layout="constrained")
    ax = fig.subplots()
    tags = list(by_tag)
    for offset, metric in ((-0.2, "hit@5"), (0.2, "citation_hit")):
        ax.bar([i + offset for i in range(len(tags))], [by_tag[t][metric] or 0.0 for t in tags], 0.4, label=metric)
    ax.set_xticks(range(len(tags)), tags, rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("hit@5 / citation_hit je Tag")
    ax.legend()
    fig.savefig(out / names[0])

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    scored = [r for r in rows if r.get("refusal_score") is not None]
    groups = {label: [r["refusal_score"] for r in scored if r["answerable"] == flag]
              for label, flag in (("beantwortbar", True), ("nicht beantwortbar", False))}
    if any(groups.values()):
        ax.hist([v for v in groups.values()], bins=20, label=list(groups), alpha=0.7)
    else:  # keep the file so the report layout does not depend on the answer mode
        ax.text(0.5, 0.5, "keine refusal_score-Signale", ha="center", va="center", transform=ax.transAxes)
    if threshold is not None:
        ax.axvline(threshold, color="red", linestyle="--", label=f"Schwelle {threshold}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.set_title("refusal_score")
    fig.savefig(out / names[1])

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ranks = [r["rank"] for r in rows if r["answerable"]]
    labels = [str(n) for n in range(1, max([x for x in ranks if x] or [1]) + 1)] + ["fehlt"]
    counts = [sum(1 for x in ranks if str(x) == lab) for lab in labels[:-1]] + [ranks.count(None)]
    ax.bar(labels, counts)
    ax.set_title("Rang der Evidenz (beantwortbare Fragen)")
    fig.savefig(out / names[2])
    return names


def _arrow(metric: str, delta: float | None) -> str:
    if delta is None:
        return "–"
    if delta == 0:
        return "="
    good = (delta > 0) != (metric in LOWER_IS_BETTER)
    css = "" if metric in NEUTRAL else (' class="good"' if good else ' class="bad"')
    return f'<span{css}>{"▲" if delta > 0 else "▼"} {delta:+.4f}</span>'


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    # Cells passed in here are already escaped (or trusted markup from _arrow).
    head = "".join(f"<th>{h}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _passage_html(p: Mapping[str, Any]) -> str:
    label = " · ".join(str(p[k]) for k in ("doc_id", "section", "version") if p.get(k))
    if p.get("page") is not None:
        label += f" · S. {p['page']}"
    text = (p.get("text") or "")[:300]
    score = p.get("score")
    return (f"<li><b>#{html.escape(str(p.get('rank', '?')))} {html.escape(label)}</b> "
            f"(score {html.escape(_fmt(score))})<br><q>{html.escape(text)}</q></li>")


CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}.good{color:#080}.bad{color:#b00}img{max-width:100%}
.q{border-left:4px solid #b00;padding-left:1em;margin:1.5em 0}"""


def render(
    results: Mapping[str, Any],
    out_dir: str | Path,
    baseline: Mapping[str, Any] | None = None,
    questions_by_id: Mapping[str, Question] | None = None,
) -> Path:
    """Write report.html, report.md and PNG plots into out_dir; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    rows = doc_rows(results, questions_by_id)
    by_id = {r["id"]: r for r in results.get("results") or []}
    config = results.get("config") or {}
    splits = _split_summaries(rows)
    by_tag = {t: summarise_rows(g) for t, g in group_rows(rows, "tags").items()}
    images = _plots(rows, by_tag, config.get("refusal_threshold"), out)
    failing = [r for r in rows if not r["passed"]]

    parts = [f"<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>Evaluationsbericht</title>"
             f"<style>{CSS}</style></head><body><h1>Evaluationsbericht</h1>",
             _table(["Konfiguration", "Wert"], [[e(str(k)), e(str(v))] for k, v in config.items()]),
             "<h2>Metriken</h2>",
             _table(["Metrik", *map(e, splits)],
                    [[e(m), *(e(_fmt(s[m])) for s in splits.values())] for m in splits["all"]]),
             "<h2>Metriken je Tag</h2>",
             _table(["Tag", *TAG_COLUMNS], [[e(t), *(e(_fmt(s[c])) for c in TAG_COLUMNS)] for t, s in by_tag.items()]),
             "<h2>Diagramme</h2>", *(f'<img src="{e(n)}" alt="{e(n)}">' for n in images)]
    if baseline is not None:
        cmp = compare(results, baseline, questions_by_id)
        parts += ["<h2>Vergleich mit Baseline</h2>", *(f"<p>{e(n)}</p>" for n in cmp["notes"]),
                  _table(["Metrik", "Baseline", "Aktuell", "Δ"],
                         [[e(m), e(_fmt(d["baseline"])), e(_fmt(d["current"])), _arrow(m, d["delta"])]
                          for m, d in cmp["deltas"].items()])]
        for key in ("worse", "better", "newly_failing", "newly_passing", "newly_refused", "newly_answered",
                    "changed_citations", "only_in_results", "only_in_baseline"):
            ids = ", ".join(e(i) for i in cmp[key]) or "–"
            parts.append(f"<p><b>{e(key)}</b> ({len(cmp[key])}): {ids}</p>")
    parts.append(f"<h2>Fehlgeschlagene Fragen ({len(failing)})</h2>")
    for r in failing:
        res = by_id.get(r["id"], {})
        top = sorted(res.get("retrieved") or [], key=lambda p: p.get("rank") or 0)[:3]
        facts = (f"erwartet: {e(str(r['section']))} · Rang: {e(_fmt(r['rank']))} · abgelehnt: {r['refused']} · "
                 f"zitiert: {e(', '.join(r['cited_sections']) or '–')}")
        parts.append(f"<div class=\"q\"><h3>{e(str(r['id']))}</h3><p>{e(str(res.get('question', '')))}</p>"
                     f"<p>{facts}</p><ol>{''.join(_passage_html(p) for p in top)}</ol></div>")
    parts.append("</body></html>")
    html_path = out / "report.html"
    html_path.write_text("\n".join(parts), encoding="utf-8")
    (out / "report.md").write_text(_markdown(splits, failing), encoding="utf-8")
    return html_path


def _md_cell(value: Any) -> str:
    # A "|" inside a section name would split the Markdown table cell.
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(splits: Mapping[str, Mapping[str, Any]], failing: Sequence[Row]) -> str:
    lines = ["# Evaluationsbericht", "", "| Metrik | " + " | ".join(splits) + " |",
             "|---" * (len(splits) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(_fmt(s[m]) for s in splits.values()) + " |" for m in splits["all"]]
    lines += ["", f"## Fehlgeschlagene Fragen ({len(failing)})", ""]
    lines += [f"- `{_md_cell(r['id'])}` — erwartet: {_md_cell(r['section'] or '–')} — "
              f"top: {_md_cell(r['top_section'] or '–')}" for r in failing]
    return "\n".join(lines) + "\n"
