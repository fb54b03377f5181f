"""Admin login with an organisation account, in a real browser against a local OpenID Connect provider.

The provider is `oidc-provider-mock` on a free port of this machine; the app is `streamlit run app.py`
with an `[auth]` section in a secrets file of the test's own. One user is an admin through the group
claim, one is not; both logins and the logout end up in the admin audit log.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from assistant.governance.organisation_login import OrganisationGuard, is_admin
from conftest import CACHE, MODEL_DIR, ROOT
from test_browser import CHROMIUM_ARGS, free_port, healthy, stop  # noqa: F401  (browser fixture below)
from test_browser import browser  # noqa: F401

pytestmark = pytest.mark.browser
ADMIN, STAFF = "anna.admin@rlp.example", "bernd.beschaeftigt@rlp.example"
GROUP = "ki-administration"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def provider() -> str:
    import oidc_provider_mock

    with oidc_provider_mock.run_server_in_thread() as server:
        url = f"http://localhost:{server.server_port}"
        for sub, claims in ((ADMIN, {"email": ADMIN, "name": "Anna Admin", "groups": [GROUP, "alle"]}),
                            (STAFF, {"email": STAFF, "name": "Bernd Beschäftigt", "groups": ["alle"]})):
            request = urllib.request.Request(f"{url}/users/{quote(sub)}", data=json.dumps(claims).encode(),
                                             method="PUT", headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 204
        yield url


@pytest.fixture(scope="module")
def app_url(provider, tmp_path_factory):
    port = free_port()
    url = f"http://localhost:{port}"
    root = tmp_path_factory.mktemp("oidc")
    data_dir = root / "data"
    data_dir.mkdir()
    shutil.copyfile(CACHE, data_dir / "embedding-cache.sqlite")
    secrets_file = root / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "leitlinien-assistent"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n', encoding="utf-8")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_EMBEDDING_MODEL": str(MODEL_DIR),
           "ASSISTANT_ADMIN_GROUP": GROUP, "ASSISTANT_ADMIN_PASSWORD_HASH": "", "ASSISTANT_LLM_BASE_URL": "",
           "AUTHLIB_INSECURE_TRANSPORT": "1",  # the local test provider speaks http
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log_path = root / "streamlit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true",
                                 "--secrets.files", str(secrets_file)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not healthy(f"http://127.0.0.1:{port}"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url, data_dir
    finally:
        stop(proc)


def _log_in(page: Page, url: str, sub: str) -> None:
    page.goto(f"{url}/dokumente")
    page.get_by_role("button", name="Mit Organisationskonto anmelden").click()
    page.locator('input[name="sub"]').fill(sub)  # the provider's own login form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**")
    page.goto(f"{url}/dokumente")


def _audit(data_dir) -> list[dict]:
    path = data_dir / "admin-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_admin_of_the_group_signs_in_sees_the_administration_and_signs_out(browser, app_url):  # noqa: F811
    url, data_dir = app_url
    context = browser.new_context(locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        _log_in(page, url, ADMIN)
        expect(page.get_by_text(f"Angemeldet als {ADMIN}.")).to_be_visible()
        expect(page.get_by_text("Neue Fassung hochladen", exact=False).first).to_be_visible()
        logins = [e for e in _audit(data_dir) if e["action"] == "login"]
        assert logins and logins[-1]["actor"] == ADMIN and logins[-1]["detail"]["admin"] is True
        page.get_by_role("button", name="Abmelden").click()
        page.get_by_role("button", name="End session").click()  # the provider ends its session too
        page.wait_for_url(f"{url}/**")
        page.goto(f"{url}/dokumente")
        expect(page.get_by_role("button", name="Mit Organisationskonto anmelden")).to_be_visible()
        assert page.get_by_text("Neue Fassung hochladen", exact=False).count() == 0
        assert [e["actor"] for e in _audit(data_dir) if e["action"] == "logout"] == [ADMIN]
    finally:
        context.close()


def test_account_without_admin_rights_is_told_so_and_sees_no_administration(browser, app_url):  # noqa: F811
    url, data_dir = app_url
    context = browser.new_context(locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        _log_in(page, url, STAFF)
        expect(page.get_by_text(f"Ihr Konto ({STAFF}) hat keine Administrationsrechte", exact=False)).to_be_visible()
        assert page.get_by_text("Neue Fassung hochladen", exact=False).count() == 0
        denied = [e for e in _audit(data_dir) if e["action"] == "login" and e["actor"] == STAFF]
        assert denied and denied[-1]["detail"]["admin"] is False
    finally:
        context.close()


def test_admin_rights_come_from_the_allow_list_or_the_group_claim():
    claims = {"sub": "u-17", "email": "Carla@RLP.example", "groups": ["alle"]}
    assert is_admin(claims, identities="carla@rlp.example, x@y", group="")
    assert not is_admin(claims, identities="x@y", group=GROUP)
    assert is_admin({**claims, "groups": [GROUP]}, identities="", group=GROUP)
    assert is_admin({**claims, "roles": GROUP}, identities="", group=GROUP, group_claim="roles")
    assert not is_admin(claims, identities="", group="")  # nothing configured: nobody is admin
    guard = OrganisationGuard({**claims, "is_logged_in": True}, identities="", group=GROUP, group_claim="groups")
    assert not guard.logged_in()
    with pytest.raises(Exception, match="Organisationskonto"):
        guard.require()
