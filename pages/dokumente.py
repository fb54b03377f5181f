"""Dokumente verwalten: versions and their state, upload with preview, audited admin actions.

Everything below the login runs only for a logged-in admin; the actions in ingest/upload.py check the
login again themselves, so no widget path can reach them without it.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict
from pathlib import Path

import streamlit as st
from pydantic import ValidationError

from assistant.governance import organisation_login
from assistant.governance.auth import login_form, logout_button, session_guard
from assistant.errors import AssistantError, WriterLockedError
from assistant.storage.library import open_library
from assistant.records import DocumentVersion
from assistant.storage.registry import open_registry
from assistant.settings import Settings
from ingest.upload import admin_ingest, admin_set_state, admin_upload, audit, preview_questions, read_audit

st.set_page_config(page_title="Dokumente verwalten", page_icon="§", layout="wide")
st.title("Dokumente verwalten")

STATE_LABELS = {"staged": "bereitgestellt", "active": "aktiv", "retired": "außer Kraft gesetzt"}
KINDS = {"guideline": "Leitlinie", "regulation": "Verordnung", "cabinet-decision": "Kabinettsbeschluss"}
NEW_DOC = "(neues Dokument)"
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")

try:
    settings = Settings()
except ValidationError as exc:
    st.error(f"Ungültige Einstellung: {exc.errors()[0]['loc']} – {exc.errors()[0]['msg']}")
    st.stop()

if organisation_login.configured():  # the organisation's identity provider (.streamlit/secrets.toml [auth])
    guard = organisation_login.organisation_gate(settings, audit)
    if not st.user.is_logged_in:
        st.caption("Nur für Administratorinnen und Administratoren. Alle Änderungen werden protokolliert.")
        organisation_login.login_button()
        st.stop()
    if not guard.logged_in():
        organisation_login.denied(settings, guard, audit)
        st.stop()
    organisation_login.logout_button(settings, guard, audit)
    st.caption(f"Angemeldet als {organisation_login.identity(guard.claims)}.")
elif not settings.admin_password_hash.strip():
    st.warning("Die Dokumentverwaltung ist abgeschaltet, weil kein Administrator-Passwort eingerichtet ist.")
    st.markdown("So schalten Sie sie ein:\n\n"
                "1. `python -m assistant hash-password` ausführen und das Passwort zweimal eingeben.\n"
                "2. Die ausgegebene Zeile `ASSISTANT_ADMIN_PASSWORD_HASH=…` in die Datei `.env` eintragen.\n"
                "3. Die Anwendung neu starten.")
    st.stop()

else:
    guard = session_guard(settings.admin_password_hash)
    if not guard.logged_in():
        st.caption("Nur für Administratorinnen und Administratoren. Alle Änderungen werden protokolliert.")
        login_form(guard)
        st.stop()
    logout_button(guard)


@st.cache_resource(show_spinner="Sprachmodell wird geladen …")
def load_library(data_dir: str, model: str, _settings: Settings):
    # keyed by data directory and model, so a changed setting opens a fresh library
    return open_library(_settings)


def flash(kind: str, text: str) -> None:
    """Messages from callbacks and from the run before a rerun, shown at the top of the next run."""
    st.session_state.setdefault("admin_flash", []).append((kind, text))


def refusal(exc: Exception) -> str:
    if isinstance(exc, WriterLockedError):
        return f"Der Index wird gerade von einem anderen Vorgang geändert; bitte später erneut versuchen. ({exc})"
    return str(exc)


def change_state(doc_id: str, version: str, state: str) -> None:
    try:
        admin_set_state(guard, settings, doc_id, version, state)
        flash("success", f"{doc_id} Fassung {version}: jetzt {STATE_LABELS[state]}.")
    except AssistantError as exc:
        flash("error", refusal(exc))


for kind, text in st.session_state.pop("admin_flash", []):
    getattr(st, kind)(text)

# --- documents and versions -------------------------------------------------------------------------
registry = open_registry(settings)
try:
    versions = registry.versions()
    in_force = registry.in_force()
    counts = {(v.doc_id, v.version): len(registry.chunk_ids(v.doc_id, v.version)) for v in versions}
finally:
    registry.close()

st.subheader("Dokumente und Fassungen")
if versions:
    # the long title goes last, so the columns that matter stay visible on a narrow screen
    st.dataframe([{"Dokument-ID": v.doc_id, "Fassung": v.version,
                   "gültig ab": v.valid_from + (" (ca.)" if v.valid_from_approx else ""),
                   "Status": STATE_LABELS.get(v.state, v.state),
                   "in Kraft": "ja" if in_force.get(v.doc_id) == v else "nein",
                   "Chunks": counts[(v.doc_id, v.version)], "Titel": v.title} for v in versions],
                 hide_index=True, height="content",
                 column_config={"Status": st.column_config.TextColumn(width="medium")})
    by_key = {f"{v.doc_id} · {v.version}": v for v in versions}  # strings survive a state change, objects not
    picked = st.selectbox("Fassung", list(by_key), key="state_version",
                          format_func=lambda k: f"{k} ({STATE_LABELS.get(by_key[k].state, by_key[k].state)})")
    choice = by_key[picked]
    buttons = st.container(horizontal=True)
    buttons.button("Aktivieren", on_click=change_state, args=(choice.doc_id, choice.version, "active"),
                disabled=choice.state == "active", key="activate")
    buttons.button("Außer Kraft setzen", on_click=change_state, args=(choice.doc_id, choice.version, "retired"),
                 disabled=choice.state == "retired", key="retire")
    st.caption("In Kraft ist je Dokument die aktive Fassung mit dem spätesten Gültigkeitsbeginn bis heute.")
else:
    st.info("Noch keine Dokumente hinterlegt. Laden Sie unten eines hoch oder führen Sie `python -m ingest run` aus.")

# --- upload: form -> preview -> ingest -------------------------------------------------------------
st.subheader("Neue Fassung hochladen")
known = {}
for v in versions:  # the latest version of each document supplies defaults for a new version
    known[v.doc_id] = v
# widget keys carry a generation: after a successful ingest a new generation gives an empty form
# (deleting widget state does not clear what the browser shows)
gen = st.session_state.setdefault("upload_generation", 0)
with st.form("upload", clear_on_submit=False):
    upload = st.file_uploader(f"Datei (PDF, Markdown oder Text; höchstens {settings.max_upload_mb} MB und 2.000 Seiten)",
                              type=["pdf", "md", "txt"], max_upload_size=settings.max_upload_mb, key=f"upload_file_{gen}")
    c1, c2 = st.columns(2)
    existing = c1.selectbox("Dokument", [NEW_DOC, *known], key=f"upload_doc_{gen}")
    new_id = c2.text_input("Neue Dokument-ID (nur für ein neues Dokument)", placeholder="z. B. leitlinie-llm-nutzung",
                           key=f"upload_new_id_{gen}")
    title = c1.text_input("Titel (leer lassen: bisheriger Titel)", key=f"upload_title_{gen}")
    kind = c2.selectbox("Art", list(KINDS), format_func=KINDS.get, key=f"upload_kind_{gen}")
    short = c1.text_input("Kurzname für Zitate", placeholder="z. B. LL-KI", key=f"upload_short_{gen}")
    label = c2.text_input("Fassung (Bezeichnung)", placeholder="z. B. 2025-09", key=f"upload_version_{gen}")
    valid_from = c1.date_input("gültig ab", value=dt.date.today(), format="DD.MM.YYYY", key=f"upload_valid_from_{gen}")
    stage_only = c2.checkbox("nur bereitstellen (staged)", key=f"upload_stage_only_{gen}",
                             help="Die Fassung wird eingelesen, aber erst nach „Aktivieren“ "
                                  "für Antworten verwendet.")
    require_gate = c1.checkbox("Nur aktivieren, wenn das Eval-Gate besteht", key=f"upload_gate_{gen}",
                               help="Die Fassung wird bereitgestellt; die Referenzfragen werden mit und ohne sie "
                                    "beantwortet, und nur wenn keine Antwort schlechter wird, wird sie aktiviert.")
    wants_preview = st.form_submit_button("Vorschau")


def run_gate(lib, doc: DocumentVersion) -> dict:
    """Compare answers with and without the staged version; activate it only when nothing got worse."""
    from eval.staged import staged_gate

    result, comparison = staged_gate(lib, doc.doc_id, doc.version)
    outcome = {"passed": result.passed, "failures": list(result.failures),
               "newly_failing": list(comparison.get("newly_failing", []))}
    audit(settings.data_dir, "admin", "eval", doc.doc_id, doc.version, {"gate": outcome})
    if result.passed:
        admin_set_state(guard, settings, doc.doc_id, doc.version, "active")
    return outcome


def show_changes(doc_id: str, version: str) -> None:
    """The section-level diff against the version before, as MASTD reviews it before activating."""
    from assistant.answering.versions import to_markdown
    from ingest.reports import version_diff

    lib = load_library(str(settings.data_dir), settings.embedding_model, settings)
    current = lib.registry.version(doc_id, version)
    previous = lib.registry.previous_version(current) if current else None
    if previous is None:
        return
    diff = version_diff(lib, doc_id, previous.version, version)
    with st.expander(f"Änderungen gegenüber Fassung {previous.version}: {diff.count('added')} neu, "
                     f"{diff.count('changed')} geändert, {diff.count('removed')} entfallen"):
        st.markdown(to_markdown(diff, current.title).split("\n", 1)[1])


def question_edits_from(edited: list[dict], proposed: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per section, the questions as edited; a section whose proposed questions were all deleted gets none."""
    edits: dict[str, list[str]] = {key: [] for key, qs in proposed.items() if qs}
    for row in edited:
        text = " ".join((row.get("Frage") or "").split())
        if row.get("Abschnitt") and text:
            edits.setdefault(row["Abschnitt"], []).append(text)
    return edits


def document_from_form() -> DocumentVersion:
    """The version described by the form; raises AssistantError with what to fix."""
    doc_id = new_id.strip() if existing == NEW_DOC else existing
    base = known.get(doc_id)
    if existing == NEW_DOC and base:
        raise AssistantError(f"Die Dokument-ID „{doc_id}“ gibt es schon; "
                             "wählen Sie sie oben unter „Dokument“ aus.")
    if not ID_PATTERN.fullmatch(doc_id):
        raise AssistantError("Dokument-ID: 2–64 Zeichen aus Kleinbuchstaben, Ziffern und Bindestrich, "
                             "z. B. „leitlinie-llm“.")
    if not VERSION_PATTERN.fullmatch(label.strip()):
        raise AssistantError("Fassung: bitte eine kurze Bezeichnung wie „2025-09“ angeben "
                             "(Buchstaben, Ziffern, . _ -).")
    if not (title.strip() or base):
        raise AssistantError("Ein neues Dokument braucht einen Titel.")
    return DocumentVersion(doc_id=doc_id, version=label.strip(), valid_from=valid_from.isoformat(),
                           title=title.strip() or base.title, short=short.strip() or (base.short if base else doc_id),
                           kind=base.kind if base else kind, issuer=base.issuer if base else "",
                           url=base.url if base else "", licence=base.licence if base else "")


if wants_preview:
    try:
        if upload is None:
            raise AssistantError("Bitte zuerst eine Datei auswählen.")
        doc = document_from_form()
        path, rows = admin_upload(guard, settings, upload.getvalue(), upload.name, doc)
        questions = preview_questions(load_library(str(settings.data_dir), settings.embedding_model, settings),
                                      path, doc)
        st.session_state["pending_upload"] = {"doc": asdict(doc), "path": str(path),
                                              "rows": rows, "stage_only": stage_only or require_gate,
                                              "require_gate": require_gate, "questions": questions}
        st.session_state.pop("ingest_result", None)
        st.session_state.pop("gate_result", None)
    except AssistantError as exc:
        st.error(str(exc))

pending = st.session_state.get("pending_upload")
if pending:
    doc = DocumentVersion(**pending["doc"])
    rows = pending["rows"]
    pages = sorted({r["page"] for r in rows if r["page"] is not None})
    # the stored name, not the browser's: it is reduced to [A-Za-z0-9._-], so it cannot carry markup
    st.markdown(f"**Vorschau:** `{Path(pending['path']).name}` → `{doc.doc_id}`, Fassung {doc.version}, "
                f"gültig ab {doc.valid_from}"
                f" ({'nur bereitstellen' if pending['stage_only'] else 'sofort aktiv'})")
    st.caption(f"{len(rows)} Abschnitte erkannt" + (f", Seiten {pages[0]}–{pages[-1]}" if pages else "")
               + ". Prüfen Sie Nummerierung und Seiten, bevor Sie einlesen; der Index ist noch unverändert.")
    if (doc.doc_id, doc.version) in counts:
        st.warning(f"Die Fassung {doc.version} von {doc.doc_id} gibt es schon; sie wird durch diese Datei ersetzt.")
    st.dataframe([{"Abschnitt": r["section_key"], "Bezeichnung": r["label"], "Seite": r["page"],
                   "Chunks": r["chunks"], "Textanfang": r["text"]} for r in rows],
                 hide_index=True, height=min(38 + 35 * len(rows), 600))
    proposed = pending.get("questions", {})
    st.markdown("**Fragen für den Fragenindex**")
    st.caption("Zu jedem Abschnitt die Fragen, über die Beschäftigte ihn finden: aus dem Index (unveränderte "
               "Abschnitte) oder mitgeliefert. Zeilen ändern, hinzufügen (Abschnitt auswählen) oder löschen; "
               "die Änderungen gelten beim Einlesen. Abschnitte ohne Fragen werden über ihren Text gefunden"
               + (" oder bekommen Fragen vom Sprachmodell." if settings.llm_enabled else "."))
    edited = st.data_editor(
        [{"Abschnitt": key, "Frage": q} for key, qs in proposed.items() for q in qs] or [{"Abschnitt": None, "Frage": ""}],
        num_rows="dynamic", hide_index=True, key="question_editor", use_container_width=True,
        column_config={"Abschnitt": st.column_config.SelectboxColumn("Abschnitt", options=[r["section_key"] for r in rows],
                                                                     required=True),
                       "Frage": st.column_config.TextColumn("Frage", width="large")})
    st.caption(f"{sum(1 for r in edited if r.get('Abschnitt') and (r.get('Frage') or '').strip())} Fragen zu "
               f"{len({r['Abschnitt'] for r in edited if r.get('Abschnitt') and (r.get('Frage') or '').strip()})} "
               f"von {len(rows)} Abschnitten.")
    actions = st.container(horizontal=True)
    go = actions.button("Einlesen", type="primary", key="ingest")
    if actions.button("Verwerfen", key="discard"):
        stored = Path(pending["path"])
        if not any(v.file == stored.name for v in versions):  # the same bytes may back a registered version
            stored.unlink(missing_ok=True)
        st.session_state.pop("pending_upload")
        st.rerun()
    if go:
        bar = st.progress(0.0, text="Abschnitte werden eingebettet …")
        done = [0]

        chunks_total = max(1, sum(r["chunks"] for r in rows))
        total = chunks_total + sum(len(q) for q in proposed.values())

        def advance(n: int) -> None:
            # called per encoded batch, first for the passages, then for the questions; texts already
            # embedded (cache) are skipped, so it may end early
            done[0] += n
            what = "Abschnitte" if done[0] <= chunks_total else "Abschnitte und Fragen"
            bar.progress(min(1.0, done[0] / total), text=f"{done[0]} von höchstens {total} Texten eingebettet ({what}) …")

        try:
            lib = load_library(str(settings.data_dir), settings.embedding_model, settings)
            result = admin_ingest(guard, lib, doc, Path(pending["path"]), stage_only=pending["stage_only"],
                                  progress=advance, questions=question_edits_from(edited, proposed))
            bar.progress(1.0, text="Fertig.")
            if pending.get("require_gate") and result.status != "unchanged":
                with st.spinner("Eval-Gate: Referenzfragen werden mit und ohne die neue Fassung beantwortet …"):
                    st.session_state["gate_result"] = run_gate(lib, doc)
            st.session_state["ingest_result"] = asdict(result)
            st.session_state.pop("pending_upload")
            st.session_state["upload_generation"] = gen + 1  # an empty form for the next upload
            st.rerun()  # redraw the versions table with the new version
        except AssistantError as exc:
            bar.empty()
            st.error(refusal(exc))

result = st.session_state.get("ingest_result")
if result:
    status = {"added": "Neu eingelesen", "updated": "Ersetzt", "staged": "Bereitgestellt",
              "unchanged": "Unverändert (diese Datei ist schon eingelesen)"}.get(result["status"], result["status"])
    st.success(f"{status}: {result['doc_id']}, Fassung {result['version']} – {result['chunks']} Chunks "
               f"({result['new_chunks']} neu, {result['encoded']} Texte eingebettet); Abschnitte "
               f"+{result['sections_added']} neu, ~{result['sections_changed']} geändert, "
               f"−{result['sections_removed']} entfallen, ={result['sections_unchanged']} unverändert.")
    gate_result = st.session_state.get("gate_result")
    if gate_result:
        if gate_result["passed"]:
            st.success("Eval-Gate bestanden: keine Referenzfrage wird schlechter beantwortet; die Fassung ist aktiv.")
        else:
            st.error("Eval-Gate nicht bestanden – die Fassung bleibt bereitgestellt: " + "; ".join(gate_result["failures"]))
        if gate_result["newly_failing"]:
            st.caption("Neu fehlerhaft: " + ", ".join(gate_result["newly_failing"]))
    show_changes(result["doc_id"], result["version"])
    if result["status"] == "staged" and not (gate_result and gate_result["passed"]):
        st.info("Die Fassung ist bereitgestellt, aber noch nicht in Kraft: oben unter „Fassung“ auswählen "
                "und „Aktivieren“ klicken.")

with st.expander("Protokoll der Administration (neueste zuerst)"):
    entries = read_audit(settings.data_dir, limit=30)
    if entries:
        st.dataframe([{"Zeit (UTC)": e["time"], "Aktion": e["action"], "Dokument": e["doc_id"],
                       "Fassung": e["version"], "Details": ", ".join(f"{k}: {v}" for k, v in e["detail"].items())}
                      for e in entries], hide_index=True)
    else:
        st.write("Noch keine Einträge.")
