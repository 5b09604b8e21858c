"""Who a rater is, and who may vote as them (issue 12, vote integrity).

* **Token**: the server issues each new rater a random secret (:func:`secrets.token_hex`, 128 bits),
  sent only to that rater's browser, which keeps it (``gr.BrowserState``). The token itself is never
  stored, exported or served to anyone else.
* **Rater id**: what the database stores, ``HMAC-SHA256(deployment secret, token)``; knowing a rater
  id (or the BrowserState key, which Gradio serves in ``/config``) does not give the token, and a
  token the server did not issue names no rater.
* **Ownership**: a browser session owns the rater whose token it presented (kept server-side in a
  ``gr.State``); votes are taken only for the session's own rater (:mod:`sr_arena.ui.rate_tab`).
* **Pseudonym**: exports and the Results tab name raters by ``HMAC(secret, study | rater id)``, a
  different pseudonym per study, so exported rows cannot be linked across studies or back to a rater.
* **New raters** per client address are limited (``SR_ARENA_NEW_RATERS_PER_HOUR``); the address is
  stored only as a keyed hash.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from .. import settings
from .storage import Store, VoteRejected

TOKEN_PATTERN = re.compile(r"^[0-9a-f]{32}$")
#: Seconds over which SR_ARENA_NEW_RATERS_PER_HOUR counts.
RATER_WINDOW_S = 3600.0


def _mac(purpose: str, text: str) -> str:
    key = settings.deployment_secret()
    return hmac.new(key, f"{purpose}|{text}".encode(), hashlib.sha256).hexdigest()


def rater_id_for(token: str) -> str:
    """The stored rater id of a token (32 hex digits)."""
    return _mac("rater", token)[:32]


def pseudonym(rater_id: str, study_id: str | None) -> str:
    """The rater's pseudonym in one study (keyed: not computable without the deployment secret)."""
    return "r-" + _mac("pseudonym", f"{study_id or '*'}|{rater_id}")[:12]


def client_key(address: str) -> str:
    """A client address as stored for the new-rater limit (keyed hash, not the address)."""
    return _mac("client", address or "unknown")[:24]


def new_token() -> str:
    """A fresh rater token."""
    return secrets.token_hex(16)


def claim(store: Store, token: Any) -> str | None:
    """The rater id a token names, when the token is well-formed and the server issued it; else None."""
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        return None
    rater_id = rater_id_for(token)
    return rater_id if store.rater_exists(rater_id) else None


def issue(store: Store, address: str, per_hour: int | None = None) -> tuple[str, str]:
    """A new rater for a client: (token for its browser, rater id); raises
    :class:`~sr_arena.mos.storage.VoteRejected` past the client's limit of new raters per hour."""
    limit = settings.current().new_raters_per_hour if per_hour is None else per_hour
    token = new_token()
    rater_id = rater_id_for(token)
    store.create_rater(rater_id, client_key(address), limit, RATER_WINDOW_S)
    return token, rater_id


def resolve(store: Store, token: Any, owner: str | None, address: str,
            per_hour: int | None = None) -> tuple[str | None, str]:
    """(token, rater id) for a browser session: the rater the session already owns; else the one its
    token names; else a new one (rate-limited). A session never changes its rater once it owns one."""
    if owner and store.rater_exists(owner):
        return token if isinstance(token, str) else None, owner
    rater_id = claim(store, token)
    if rater_id is not None:
        return token, rater_id
    return issue(store, address, per_hour)


def voting_rater(store: Store, token: Any, owner: str | None) -> str:
    """The rater a vote is for: the session's own, else (after a restart lost the session) the one its
    token names; never a new one. Raises :class:`VoteRejected` when neither exists."""
    if owner and store.rater_exists(owner):
        return owner
    rater_id = claim(store, token)
    if rater_id is None:
        raise VoteRejected("This page does not hold a rater of this study; reload the page to start.")
    return rater_id


def request_address(request: Any, trust_forwarded_for: bool | None = None) -> str:
    """The client address of a Gradio request: the direct peer, or behind a trusted reverse proxy
    (``SR_ARENA_TRUST_FORWARDED_FOR``) the last ``X-Forwarded-For`` entry, the one the proxy added
    (earlier entries are whatever the client sent)."""
    trust = settings.current().trust_forwarded_for if trust_forwarded_for is None else trust_forwarded_for
    headers = getattr(request, "headers", None)
    if trust and headers is not None:
        forwarded = [part.strip() for part in str(headers.get("x-forwarded-for", "")).split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "unknown")
