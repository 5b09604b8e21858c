"""The study service and the rater a browser session votes as, shared by every rating surface
(the Rate tab's ACR study and battles, the Compare tab's quick ratings, the Class tab).

The server issues each rater a secret token kept by the browser (``gr.BrowserState``); the session
that presents it owns the rater (a server-side ``gr.State``) and votes count only for that rater
(:mod:`sr_arena.mos.identity`).
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from sr_arena.mos import identity
from sr_arena.mos.storage import Store, VoteRejected, open_store
from sr_arena.mos.study import StudyService, config_from_env

RATER_STORAGE_KEY = "sr-arena-rater"

_lock = threading.Lock()
_service: StudyService | None = None
_service_error: str | None = None


def get_service() -> StudyService | None:
    """The app's study (configured by environment variables), created once; None if the DB is unusable."""
    global _service, _service_error
    with _lock:
        if _service is None and _service_error is None:
            try:
                _service = StudyService(open_store(), config_from_env())
            except Exception as error:  # noqa: BLE001 - shown in the tab instead of crashing the app
                _service_error = f"The study database could not be opened: {error}"
        return _service


def service_error() -> str | None:
    """Why :func:`get_service` returned None."""
    return _service_error


def browser_secret(store: Store) -> str:
    """The key BrowserState encrypts the token with in ``localStorage``, shared by every replica and
    restart. Gradio serves it in ``/config`` (the browser decrypts), so it is no credential: the
    token it protects is the rater's own, held only by their browser."""
    return store.meta("browser_state_secret", secrets.token_urlsafe(24))


@dataclass(frozen=True)
class RaterBinding:
    """The page's two rater components: ``token`` (BrowserState: the secret the server issued to this
    browser) and ``owner`` (State, server-side per browser session: the rater id this session owns)."""

    token: Any
    owner: Any

    @property
    def inputs(self) -> list[Any]:
        return [self.token, self.owner]


def rater_binding() -> RaterBinding:
    """The one binding of this page (created on first call)."""
    root = gr.context.Context.root_block
    existing = getattr(root, "_sr_arena_rater_binding", None)
    if existing is not None:
        return existing
    service = get_service()
    secret = browser_secret(service.store) if service else None
    binding = RaterBinding(gr.BrowserState(None, storage_key=RATER_STORAGE_KEY, secret=secret), gr.State(None))
    if root is not None:
        root._sr_arena_rater_binding = binding  # type: ignore[attr-defined]
    return binding


def rater_state() -> gr.BrowserState:
    """The BrowserState holding this browser's rater token."""
    return rater_binding().token


def claim_rater(store: Store, token: Any, owner: Any, request: Any) -> tuple[str | None, str]:
    """(token, rater id) this browser session rates as: the one it owns, the one its token names, or a
    new one (limited per client address; :class:`VoteRejected` past the limit)."""
    return identity.resolve(store, token, owner if isinstance(owner, str) else None,
                            identity.request_address(request))


def voting_rater(store: Store, token: Any, owner: Any) -> str:
    """The rater a vote from this session counts for (never a new one); :class:`VoteRejected` if none."""
    return identity.voting_rater(store, token, owner if isinstance(owner, str) else None)


def begin_as_rater(store: Store, token: Any, owner: Any, request: Any, serve: Callable[[str], list[Any]],
                   n_served: int) -> list[Any]:
    """``[token, rater id, *serve(rater id)]`` for the rater this session rates as (:func:`claim_rater`),
    or, when a new rater is refused (the per-client limit), a warning and ``2 + n_served`` skips."""
    try:
        token, rater_id = claim_rater(store, token, owner, request)
    except VoteRejected as error:
        gr.Warning(str(error))
        return [gr.skip() for _ in range(2 + n_served)]
    return [token, rater_id, *serve(rater_id)]
