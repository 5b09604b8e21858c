"""Where things live on disk."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS_DIR = Path(os.environ.get("SR_ARENA_CHECKPOINTS", REPO_ROOT / "checkpoints"))
SHARED_DIR = Path(os.environ.get("SR_ARENA_SHARED", REPO_ROOT.parent / "shared"))
