"""Admin password hashes, lockout after failed attempts and idle expiry, with an injected clock."""
from __future__ import annotations

import subprocess
import sys

import pytest

from assistant.governance.auth import AdminRequired, FailureCounter, LoginGuard, hash_password, verify_password
from conftest import ROOT

pytestmark = pytest.mark.security

PASSWORD = "test-passwort"


@pytest.fixture(scope="module")
def encoded() -> str:
    return hash_password(PASSWORD)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def guard_for(encoded: str, clock: Clock, failures: FailureCounter, state: dict | None = None) -> LoginGuard:
    return LoginGuard(encoded, {} if state is None else state, clock=clock, failures=failures)


def test_hash_has_scrypt_format_and_verifies(encoded):
    scheme, n, r, p, salt, key = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert verify_password(PASSWORD, encoded)


def test_wrong_password_does_not_verify(encoded):
    assert not verify_password("test-passwort ", encoded)
    assert not verify_password("", encoded)


def test_same_password_gets_different_salts(encoded):
    other = hash_password(PASSWORD)
    assert other != encoded
    assert other.split("$")[4] != encoded.split("$")[4]
    assert verify_password(PASSWORD, other)


@pytest.mark.parametrize("broken", ["", "scrypt$1$2", "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$x$8$1$AAAA$AAAA",
                                    "scrypt$16384$8$1$!!!$AAAA"])
def test_malformed_hash_never_matches(broken):
    assert not verify_password(PASSWORD, broken)


def test_right_password_logs_in(encoded, clock):
    guard = guard_for(encoded, clock, FailureCounter())
    assert guard.login(PASSWORD) == "ok"
    assert guard.logged_in()
    assert len(guard.require()) == 8


def test_five_failures_lock_even_the_right_password_for_five_minutes(encoded, clock):
    guard = guard_for(encoded, clock, FailureCounter())
    assert [guard.login("falsch") for _ in range(5)] == ["wrong"] * 4 + ["locked"]
    assert guard.locked_seconds() == 300
    clock.now += 299
    assert guard.login(PASSWORD) == "locked"
    assert not guard.logged_in()
    clock.now += 1
    assert guard.locked_seconds() == 0
    assert guard.login(PASSWORD) == "ok"


def test_lockout_is_shared_by_new_sessions(encoded, clock):
    failures = FailureCounter()
    for _ in range(5):
        guard_for(encoded, clock, failures).login("falsch")  # a fresh session (tab) per attempt
    assert guard_for(encoded, clock, failures).login(PASSWORD) == "locked"


def test_successful_login_resets_the_failure_count(encoded, clock):
    failures = FailureCounter()
    guard = guard_for(encoded, clock, failures)
    for _ in range(4):
        guard.login("falsch")
    assert guard.login(PASSWORD) == "ok"
    assert guard.attempts_left() == 5


def test_session_expires_after_thirty_idle_minutes(encoded, clock):
    state: dict = {}
    guard = guard_for(encoded, clock, FailureCounter(), state)
    guard.login(PASSWORD)
    clock.now += 29 * 60
    assert guard.logged_in()  # activity: the idle time starts again here
    clock.now += 30 * 60
    assert guard.logged_in()
    clock.now += 30 * 60 + 1
    assert not guard.logged_in()
    assert state == {"expired": True}
    with pytest.raises(AdminRequired):
        guard.require()


def test_logout_ends_the_session(encoded, clock):
    guard = guard_for(encoded, clock, FailureCounter())
    guard.login(PASSWORD)
    guard.logout()
    assert not guard.logged_in()


def test_without_a_configured_hash_nobody_logs_in(clock):
    guard = guard_for("", clock, FailureCounter())
    assert guard.login("") == "disabled"
    assert not guard.logged_in()


def test_hash_password_command_prints_a_verifiable_env_line():
    done = subprocess.run([sys.executable, "-m", "assistant", "hash-password"], input=f"{PASSWORD}\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    first, _, env_line = done.stdout.strip().splitlines()
    assert env_line == f"ASSISTANT_ADMIN_PASSWORD_HASH='{first}'"
    assert verify_password(PASSWORD, first)


def test_hash_password_command_refuses_a_short_password():
    done = subprocess.run([sys.executable, "-m", "assistant", "hash-password"], input="kurz\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1
    assert "mindestens 10 Zeichen" in done.stderr
    assert done.stdout == ""
