"""The status line's warning when votes go to disk that a restart wipes (issue 11).

A Hugging Face Space's own disk is ephemeral: it is reset on every restart and rebuild. Votes
persist only in a storage bucket mounted at a path named by ``SR_ARENA_DATA_DIR`` (or a database
file ``SR_ARENA_DB`` on it) or in PostgreSQL (``DATABASE_URL``). Which case applies is decided once,
in :attr:`sr_arena.settings.Settings.storage_ephemeral`.
"""
from __future__ import annotations

from sr_arena.mos.storage import DB_FILE_NAME
from sr_arena.settings import Settings


def storage_warning(config: Settings) -> str:
    """The warning to append to the status line, or ``""`` when votes are on persistent storage."""
    if not config.storage_ephemeral:
        return ""
    where = config.db_path or config.data_dir / DB_FILE_NAME
    return (f"⚠ **Votes are stored on ephemeral disk** (`{where}`): a Space restart erases them. "
            "Set `SR_ARENA_DATA_DIR` to a mounted storage bucket or `DATABASE_URL` to PostgreSQL "
            "(or `SR_ARENA_STORAGE_EPHEMERAL=0` if this disk persists).")
