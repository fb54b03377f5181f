"""Admin login: scrypt password hashes, lockout after failed attempts, idle expiry of sessions.

There is one admin password (its hash is the setting `admin_password_hash`); the logic here is pure
and takes an injectable clock, so it is tested without Streamlit. `login_form` and `logout_button`
are the small Streamlit widgets both admin pages share; Streamlit is imported inside them so the
core stays importable without it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, MutableMapping

from assistant.errors import AssistantError

# scrypt cost: ~50 ms and 16 MB per check, cheap for one admin, expensive for an offline guesser.
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2**14, 8, 1, 32
MAX_FAILURES = 5
LOCK_SECONDS = 5 * 60
IDLE_SECONDS = 30 * 60
STATE_KEY = "admin_auth"  # st.session_state key shared by every page that needs the admin


class AdminRequired(AssistantError):
    """An admin action was requested without a logged-in admin session."""


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$n$r$p$salt$hash` with a fresh random salt, so equal passwords give different hashes."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, n, r, p)
    return "$".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(key)])


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches; a malformed hash never matches (and never raises)."""
    try:
        scheme, n, r, p, salt, expected = encoded.strip().split("$")
        if scheme != "scrypt":
            return False
        key = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(key, base64.b64decode(expected))  # constant time: no timing oracle
    except (ValueError, TypeError, MemoryError):
        return False


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem must cover 128·r·n bytes, or hashlib refuses costs above its 32 MB default
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES,
                          maxmem=128 * r * (n + p + 2) + 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class FailureCounter:
    """Failed attempts for the whole server process, so opening a new tab does not reset the lockout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures = 0
        self.locked_until = 0.0

    def reset(self) -> None:
        with self.lock:
            self.failures = 0
            self.locked_until = 0.0


FAILURES = FailureCounter()


class LoginGuard:
    """Login state of one browser session (`state`, kept in st.session_state) plus the shared counter."""

    def __init__(self, password_hash: str, state: MutableMapping, *, clock: Callable[[], float] = time.monotonic,
                 failures: FailureCounter = FAILURES, max_failures: int = MAX_FAILURES,
                 lock_seconds: float = LOCK_SECONDS, idle_seconds: float = IDLE_SECONDS):
        self.password_hash = password_hash
        self.state = state
        self.clock = clock
        self.failures = failures
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.idle_seconds = idle_seconds

    @property
    def enabled(self) -> bool:
        return bool(self.password_hash.strip())

    def locked_seconds(self) -> float:
        """Seconds until the next attempt is allowed (0 when not locked)."""
        return max(0.0, self.failures.locked_until - self.clock())

    def login(self, password: str) -> str:
        """'ok', 'wrong', 'locked' or 'disabled'. While locked the password is not even checked."""
        if not self.enabled:
            return "disabled"
        with self.failures.lock:
            if self.failures.locked_until > self.clock():
                return "locked"
            if verify_password(password, self.password_hash):
                self.failures.failures = 0
                self.state.clear()
                self.state.update(logged_in=True, last_seen=self.clock(), session=secrets.token_hex(4))
                return "ok"
            self.failures.failures += 1
            if self.failures.failures >= self.max_failures:
                # the count starts again after the lock, so each lock period allows another five tries
                self.failures.failures = 0
                self.failures.locked_until = self.clock() + self.lock_seconds
                return "locked"
            return "wrong"

    def attempts_left(self) -> int:
        return self.max_failures - self.failures.failures

    def logged_in(self) -> bool:
        """True for an active session; each call counts as activity. Idle sessions end here."""
        if not self.enabled or not self.state.get("logged_in"):
            return False
        now = self.clock()
        if now - self.state.get("last_seen", 0.0) > self.idle_seconds:
            self.state.clear()
            self.state["expired"] = True
            return False
        self.state["last_seen"] = now
        return True

    def require(self) -> str:
        """The session tag for the audit log; raises AdminRequired when nobody is logged in."""
        if not self.logged_in():
            raise AdminRequired("Diese Aktion ist nur nach Anmeldung als Administrator möglich. "
                                "Melden Sie sich auf der Seite „Dokumente verwalten“ an.")
        return self.state["session"]

    def logout(self) -> None:
        self.state.clear()


# --- Streamlit widgets shared by the admin pages ---------------------------------------------------
def session_guard(password_hash: str) -> LoginGuard:
    """The guard of the current browser session (same state on every page)."""
    import streamlit as st

    return LoginGuard(password_hash, st.session_state.setdefault(STATE_KEY, {}))


def login_form(guard: LoginGuard) -> None:
    """Password form with lockout messages; a successful login reruns the page, now logged in."""
    import streamlit as st

    if guard.state.pop("expired", False):
        st.info("Ihre Sitzung ist nach 30 Minuten ohne Aktivität abgelaufen. Bitte melden Sie sich erneut an.")
    locked = guard.locked_seconds()
    if locked:
        st.error(f"Zu viele Fehlversuche. Die Anmeldung ist noch {_minutes(locked)} gesperrt.")
        return
    with st.form("admin_login", clear_on_submit=True):
        password = st.text_input("Administrator-Passwort", type="password", key="admin_password")
        submitted = st.form_submit_button("Anmelden")
    if not submitted:
        return
    outcome = guard.login(password)
    if outcome == "ok":
        st.rerun()  # draw the admin view from the top, without the form
    if outcome == "locked":
        st.error("Passwort falsch. Zu viele Fehlversuche: Die Anmeldung ist "
                 f"{_minutes(guard.locked_seconds())} gesperrt.")
    else:
        left = guard.attempts_left()
        st.error(f"Passwort falsch. Noch {left} {'Versuch' if left == 1 else 'Versuche'} bis zur Sperre.")


def logout_button(guard: LoginGuard) -> None:
    import streamlit as st

    if st.sidebar.button("Abmelden", key="admin_logout"):
        guard.logout()
        st.rerun()


def _minutes(seconds: float) -> str:
    minutes = max(1, int(-(-seconds // 60)))  # round up: "noch 1 Minute" until it is really over
    return f"{minutes} {'Minute' if minutes == 1 else 'Minuten'}"
