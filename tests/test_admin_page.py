"""Document administration: login, versions table, upload -> preview -> ingest, audited actions.

The page runs for real under AppTest (real registry, Chroma and embedding model); the upload helpers
are also tested on their own, path traversal first.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from assistant.governance import auth
from assistant.governance.auth import AdminRequired, LoginGuard, hash_password
from assistant.errors import InputError
from assistant.storage.library import open_library, writer_lock
from assistant.storage.registry import Registry
from conftest import CACHE, GUIDELINE_V1, MODEL_DIR, ROOT, make_settings
from ingest.load import MAX_FILE_BYTES
from ingest.pipeline import ingest_version
from ingest.upload import AUDIT_FILE, admin_ingest, admin_set_state, admin_upload, audit, preview, save_upload

PAGE = str(ROOT / "pages" / "dokumente.py")
PASSWORD = "test-passwort"


pytestmark = [pytest.mark.usefixtures("fresh_lockout"), pytest.mark.security]


def use_data_dir(monkeypatch, data_dir, password_hash: str) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(ROOT / "corpus"))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", str(MODEL_DIR))
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD_HASH", password_hash)


@pytest.fixture
def empty_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(CACHE, data_dir / "embedding-cache.sqlite")  # known vectors: no re-encoding
    return data_dir


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key="admin_password").input(password)
    at.button(key="FormSubmitter:admin_login-Anmelden").click().run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


# --- login ------------------------------------------------------------------------------------------
def test_without_password_hash_administration_is_disabled_and_explained(monkeypatch, corpus_library):
    use_data_dir(monkeypatch, corpus_library.settings.data_dir, "")
    at = open_page()
    assert "abgeschaltet" in texts(at.warning)
    assert "python -m assistant hash-password" in texts(at.markdown)
    assert "ASSISTANT_ADMIN_PASSWORD_HASH" in texts(at.markdown)
    assert not at.file_uploader and not at.text_input and not at.button and not at.dataframe


def test_wrong_password_is_refused_without_admin_widgets(monkeypatch, corpus_library, password_hash):
    use_data_dir(monkeypatch, corpus_library.settings.data_dir, password_hash)
    at = log_in(open_page(), "falsches-passwort")
    assert "Passwort falsch" in texts(at.error)
    assert not at.dataframe and not at.file_uploader
    assert [b.label for b in at.button] == ["Anmelden"]


def test_five_wrong_passwords_lock_the_form_for_every_session(monkeypatch, corpus_library, password_hash):
    use_data_dir(monkeypatch, corpus_library.settings.data_dir, password_hash)
    at = open_page()
    for _ in range(5):
        log_in(at, "falsches-passwort")
    assert "gesperrt" in texts(at.error) and "5 Minuten" in texts(at.error)
    at.run()
    assert not at.text_input, "the password field must be gone while locked"
    other_tab = open_page()
    assert "noch 5 Minuten gesperrt" in texts(other_tab.error)
    assert not other_tab.text_input


def test_right_password_shows_versions_with_state_and_chunks(monkeypatch, corpus_library, password_hash):
    use_data_dir(monkeypatch, corpus_library.settings.data_dir, password_hash)
    at = log_in(open_page())
    table = at.dataframe[0].value
    row = table[table["Dokument-ID"] == "eu-ai-act"].iloc[0]
    assert (row["Fassung"], row["Status"], row["in Kraft"]) == ("2024-06-13", "aktiv", "ja")
    assert row["Chunks"] == len(corpus_library.registry.chunk_ids("eu-ai-act", "2024-06-13"))
    assert at.file_uploader and [b.label for b in at.button if b.label == "Abmelden"]


def test_logout_returns_to_the_login_form(monkeypatch, corpus_library, password_hash):
    use_data_dir(monkeypatch, corpus_library.settings.data_dir, password_hash)
    at = log_in(open_page())
    at.button(key="admin_logout").click().run()
    assert not at.dataframe and at.text_input(key="admin_password")


def test_admin_actions_refuse_without_a_logged_in_session(corpus_library, password_hash, guideline_pdfs):
    settings = corpus_library.settings
    nobody = LoginGuard(password_hash, {})
    with pytest.raises(AdminRequired):
        admin_set_state(nobody, settings, "eu-ai-act", "2024-06-13", "retired")
    with pytest.raises(AdminRequired):
        admin_upload(nobody, settings, guideline_pdfs["leitlinie_v1"].read_bytes(), "v1.pdf", GUIDELINE_V1)
    with pytest.raises(AdminRequired):
        admin_ingest(nobody, corpus_library, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"], stage_only=True)
    assert corpus_library.registry.version("eu-ai-act", "2024-06-13").state == "active"
    assert corpus_library.registry.versions("ll-ki-fiktiv") == []
    assert not (settings.data_dir / AUDIT_FILE).exists() and not (settings.data_dir / "uploads").exists()


# --- upload through the page ------------------------------------------------------------------------
def test_upload_previews_sections_then_ingest_adds_the_version_and_audits(
        monkeypatch, empty_data_dir, password_hash, guideline_pdfs):
    use_data_dir(monkeypatch, empty_data_dir, password_hash)
    at = log_in(open_page())
    at.file_uploader(key="upload_file_0").set_value(("../../Leitlinie März.pdf",
                                                   guideline_pdfs["leitlinie_v1"].read_bytes(), "application/pdf"))
    at.text_input(key="upload_new_id_0").input(GUIDELINE_V1.doc_id)
    at.text_input(key="upload_title_0").input(GUIDELINE_V1.title)
    at.text_input(key="upload_short_0").input(GUIDELINE_V1.short)
    at.text_input(key="upload_version_0").input(GUIDELINE_V1.version)
    at.date_input(key="upload_valid_from_0").set_value(dt.date(2025, 9, 1))
    at.button(key="FormSubmitter:upload-Vorschau").click().run()
    assert not at.exception and not at.error, texts(at.error)

    preview_table = at.dataframe[0].value
    first = preview_table.iloc[0]
    assert (first["Abschnitt"], first["Bezeichnung"], first["Seite"]) == ("ziff-1.1", "Ziff. 1.1 LL-KI (fiktiv)", 1)
    assert first["Textanfang"].startswith("Diese Leitlinie legt fest")
    assert "23 Abschnitte erkannt, Seiten 1–7" in texts(at.caption)
    assert Registry(empty_data_dir / "registry.sqlite").versions() == [], "the preview must not change the index"

    at.button(key="ingest").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Neu eingelesen: ll-ki-fiktiv, Fassung 2025-09 – 24 Chunks" in texts(at.success)
    assert "Abschnitte +23 neu, ~0 geändert, −0 entfallen, =0 unverändert" in texts(at.success)
    assert at.text_input(key="upload_version_1").value == "", "a fresh form for the next upload"
    version = Registry(empty_data_dir / "registry.sqlite").version("ll-ki-fiktiv", "2025-09")
    assert (version.state, version.valid_from) == ("active", "2025-09-01")
    assert re.fullmatch(r"[0-9a-f]{12}-Leitlinie_Marz\.pdf", version.file)
    assert (empty_data_dir / "uploads" / version.file).is_file()
    lines = [json.loads(line) for line in (empty_data_dir / AUDIT_FILE).read_text().splitlines()]
    assert [(e["actor"], e["action"], e["doc_id"], e["version"]) for e in lines] == [
        ("admin", "upload", "ll-ki-fiktiv", "2025-09"), ("admin", "activate", "ll-ki-fiktiv", "2025-09")]
    assert lines[1]["detail"]["sections"] == {"added": 23, "changed": 0, "removed": 0, "unchanged": 0}


@pytest.fixture
def guideline_data_dir(empty_data_dir, embedder, guideline_pdfs):
    lib = open_library(make_settings(empty_data_dir), embedder=embedder)
    ingest_version(lib, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"])
    lib.registry.close()
    return empty_data_dir


def test_retire_button_takes_the_version_out_of_force_and_audits(monkeypatch, guideline_data_dir, password_hash):
    use_data_dir(monkeypatch, guideline_data_dir, password_hash)
    at = log_in(open_page())
    at.button(key="retire").click().run()
    assert "ll-ki-fiktiv Fassung 2025-09: jetzt außer Kraft gesetzt." in texts(at.success)
    row = at.dataframe[0].value.iloc[0]
    assert (row["Status"], row["in Kraft"]) == ("außer Kraft gesetzt", "nein")
    entry = json.loads((guideline_data_dir / AUDIT_FILE).read_text().splitlines()[-1])
    assert (entry["action"], entry["version"], entry["detail"]["previous_state"]) == ("retire", "2025-09", "active")


def test_state_change_is_refused_while_another_writer_holds_the_lock(monkeypatch, guideline_data_dir, password_hash):
    use_data_dir(monkeypatch, guideline_data_dir, password_hash)
    at = log_in(open_page())
    with writer_lock(make_settings(guideline_data_dir)):
        at.button(key="retire").click().run()
    assert "Der Index wird gerade von einem anderen Vorgang geändert" in texts(at.error)
    assert at.dataframe[0].value.iloc[0]["Status"] == "aktiv"
    assert not (guideline_data_dir / AUDIT_FILE).exists()


# --- the upload helpers -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "..\\x.md", "/etc/passwd.pdf", "C:\\Windows\\evil.txt",
                                  "....pdf", "a/../../b.PDF", ".hidden.md"])
def test_uploaded_names_cannot_leave_the_uploads_directory(tmp_path, name):
    uploads = tmp_path / "uploads"
    path = save_upload(b"1 Zweck\n\nText.", name, uploads)
    assert path.parent == uploads and path.resolve().parent == uploads.resolve()
    assert re.fullmatch(r"[0-9a-f]{12}-[A-Za-z0-9._-]+\.(pdf|md|txt)", path.name) and ".." not in path.name
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [path.name]


@pytest.mark.parametrize("name", ["x.exe", "leitlinie.pdf.exe", "ohne-endung", "x.docx", "..."])
def test_other_file_types_are_refused_and_nothing_is_stored(tmp_path, name):
    with pytest.raises(InputError, match="nicht unterstützt"):
        save_upload(b"data", name, tmp_path / "uploads")
    assert not (tmp_path / "uploads").exists()


def test_upload_larger_than_50_mb_is_refused(tmp_path):
    with pytest.raises(InputError, match="50 MB"):
        save_upload(b"x" * (MAX_FILE_BYTES + 1), "gross.txt", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_same_bytes_get_the_same_name_different_bytes_do_not(tmp_path):
    a = save_upload(b"1 Zweck\n", "leitlinie.md", tmp_path)
    assert save_upload(b"1 Zweck\n", "leitlinie.md", tmp_path) == a
    assert save_upload(b"1 Zweck (neu)\n", "leitlinie.md", tmp_path) != a


def test_preview_lists_labels_and_pages_of_a_pdf(guideline_pdfs):
    rows = preview(guideline_pdfs["leitlinie_v1"], GUIDELINE_V1)
    assert [(r["section_key"], r["label"], r["page"]) for r in rows[:4]] == [
        ("ziff-1.1", "Ziff. 1.1 LL-KI (fiktiv)", 1), ("ziff-1.2", "Ziff. 1.2 LL-KI (fiktiv)", 1),
        ("ziff-1.3", "Ziff. 1.3 LL-KI (fiktiv)", 1), ("ziff-2.1", "Ziff. 2.1 LL-KI (fiktiv)", 2)]
    assert all(len(r["text"]) <= 120 and r["chunks"] >= 1 for r in rows)


def test_stage_only_ingest_is_registered_staged_not_in_force_and_audited(library, password_hash, guideline_pdfs):
    admin = LoginGuard(password_hash, {})
    admin.login(PASSWORD)
    result = admin_ingest(admin, library, GUIDELINE_V1, guideline_pdfs["leitlinie_v1"], stage_only=True,
                          gate={"passed": True, "failures": []})
    assert result.status == "staged"
    assert library.registry.version("ll-ki-fiktiv", "2025-09").state == "staged"
    assert "ll-ki-fiktiv" not in library.registry.in_force(dt.date(2026, 1, 1))
    entry = json.loads((library.settings.data_dir / AUDIT_FILE).read_text())
    assert (entry["action"], entry["detail"]["gate"]) == ("stage", {"passed": True, "failures": []})


def test_audit_appends_one_json_line_per_action(tmp_path):
    audit(tmp_path, "admin", "activate", "doc", "v1", {"session": "s"})
    audit(tmp_path, "admin", "retire", "doc", "v1")
    lines = [json.loads(line) for line in (tmp_path / AUDIT_FILE).read_text().splitlines()]
    assert [(e["action"], e["detail"]) for e in lines] == [("activate", {"session": "s"}), ("retire", {})]
    assert dt.datetime.fromisoformat(lines[0]["time"]).tzinfo is not None
    with pytest.raises(ValueError):
        audit(tmp_path, "admin", "delete-everything", "doc", "v1")


def test_new_version_with_gate_is_activated_after_the_gate_and_its_changes_are_shown(
        monkeypatch, empty_data_dir, password_hash, guideline_pdfs, embedder):
    from assistant.storage.library import open_library
    from conftest import GUIDELINE_V2, make_settings
    from ingest.pipeline import ingest_version

    ingest_version(open_library(make_settings(empty_data_dir), embedder=embedder), GUIDELINE_V1,
                   guideline_pdfs["leitlinie_v1"])
    use_data_dir(monkeypatch, empty_data_dir, password_hash)
    at = log_in(open_page())
    at.file_uploader(key="upload_file_0").set_value(("leitlinie_v2.pdf", guideline_pdfs["leitlinie_v2"].read_bytes(),
                                                     "application/pdf"))
    at.selectbox(key="upload_doc_0").set_value("ll-ki-fiktiv")
    at.text_input(key="upload_version_0").input(GUIDELINE_V2.version)
    at.date_input(key="upload_valid_from_0").set_value(dt.date(2026, 3, 1))
    at.checkbox(key="upload_gate_0").check()
    at.button(key="FormSubmitter:upload-Vorschau").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at.button(key="ingest").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Eval-Gate bestanden" in texts(at.success)
    version = Registry(empty_data_dir / "registry.sqlite").version("ll-ki-fiktiv", "2026-03")
    assert version.state == "active"
    labels = [e.label for e in at.expander]
    assert "Änderungen gegenüber Fassung 2025-09: 1 neu, 2 geändert, 1 entfallen" in labels
    lines = [json.loads(line) for line in (empty_data_dir / AUDIT_FILE).read_text().splitlines()]
    assert [e["action"] for e in lines] == ["upload", "stage", "eval", "activate"]
    assert lines[2]["detail"]["gate"]["passed"] is True
