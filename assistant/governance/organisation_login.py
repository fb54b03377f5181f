"""Admin login with the organisation's identity provider (OpenID Connect: Keycloak, ADFS, Entra ID).

Streamlit's `st.login` does the OIDC flow; the provider is configured in `.streamlit/secrets.toml`
(`[auth]`: redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url), the place
Streamlit reads it from. Who is an admin is decided here, from the settings:
- `ASSISTANT_ADMIN_IDENTITIES`: e-mail addresses or subject ids, comma-separated;
- `ASSISTANT_ADMIN_GROUP`: a group whose members are admins, read from the claim named by
  `ASSISTANT_ADMIN_GROUP_CLAIM` (default `groups`).

Every login and logout is written to the admin audit log, allowed or not. Without an `[auth]`
section the local password (`ASSISTANT_ADMIN_PASSWORD_HASH`) is used as before.
"""
from __future__ import annotations

from collections.abc import Mapping

from assistant.governance.auth import AdminRequired

STATE_KEY = "organisation_login"


def is_admin(claims: Mapping, *, identities: str, group: str, group_claim: str = "groups") -> bool:
    """Admin rights from the identity token: an allowed e-mail or subject, or membership of the group."""
    allowed = {i.strip().lower() for i in identities.split(",") if i.strip()}
    who = {str(claims.get(k, "")).strip().lower() for k in ("email", "sub", "preferred_username")} - {""}
    if who & allowed:
        return True
    groups = claims.get(group_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    return bool(group.strip()) and group.strip() in {str(g) for g in groups}


def identity(claims: Mapping) -> str:
    return str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "unbekannt")


class OrganisationGuard:
    """The same interface as the password's LoginGuard: `logged_in()` and `require()`."""

    def __init__(self, claims: Mapping, *, identities: str, group: str, group_claim: str):
        self.claims = dict(claims)
        self.allowed = bool(self.claims.get("is_logged_in")) and is_admin(
            self.claims, identities=identities, group=group, group_claim=group_claim)

    def logged_in(self) -> bool:
        return self.allowed

    def require(self) -> str:
        if not self.allowed:
            raise AdminRequired("Diese Aktion ist nur für angemeldete Administratorinnen und Administratoren "
                                "möglich. Melden Sie sich mit Ihrem Organisationskonto an.")
        return f"oidc:{identity(self.claims)}"


# --- Streamlit ------------------------------------------------------------------------------------
def configured() -> bool:
    """An identity provider is set up in .streamlit/secrets.toml ([auth])."""
    import streamlit as st

    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all (Streamlit raises its own not-found error), or an unreadable one
        return False


def organisation_gate(settings, audit) -> OrganisationGuard:
    """The login state of this browser session; the login is written once with `audit` (the admin log)."""
    import streamlit as st

    user = st.user.to_dict() if st.user.is_logged_in else {}
    guard = OrganisationGuard({**user, "is_logged_in": st.user.is_logged_in}, identities=settings.admin_identities,
                              group=settings.admin_group, group_claim=settings.admin_group_claim)
    state = st.session_state.setdefault(STATE_KEY, {})
    if st.user.is_logged_in and state.get("audited") != identity(user):
        audit(settings.data_dir, identity(user), "login", "", "",
              {"method": "oidc", "admin": guard.allowed, "issuer": str(user.get("iss", ""))})
        state["audited"] = identity(user)
    return guard


def login_button() -> None:
    import streamlit as st

    st.caption("Anmeldung mit dem Konto Ihrer Organisation.")
    if st.button("Mit Organisationskonto anmelden", type="primary", key="oidc_login"):
        st.login()


def logout_button(settings, guard: OrganisationGuard, audit) -> None:
    import streamlit as st

    if st.sidebar.button("Abmelden", key="oidc_logout"):
        audit(settings.data_dir, identity(guard.claims), "logout", "", "", {"method": "oidc"})
        st.session_state.pop(STATE_KEY, None)
        st.logout()


def denied(settings, guard: OrganisationGuard, audit) -> None:
    """A logged-in account without admin rights: say so, and offer to log out."""
    import streamlit as st

    st.error(f"Ihr Konto ({identity(guard.claims)}) hat keine Administrationsrechte. Wenden Sie sich an die "
             "Administration, wenn Sie welche brauchen.")
    logout_button(settings, guard, audit)
