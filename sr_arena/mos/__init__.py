"""MOS studies: blinded ratings, durable storage, statistics and results."""
from __future__ import annotations

import subprocess
from pathlib import Path


def _app_version() -> str:
    """``SR_ARENA_APP_VERSION``, else 0.1.0 plus the git commit when the checkout has one."""
    from sr_arena import settings

    if settings.current().app_version:
        return settings.current().app_version
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"0.1.0+{commit}" if commit else "0.1.0"


#: Stored with every vote, so results can be traced to the code that collected them.
APP_VERSION = _app_version()
