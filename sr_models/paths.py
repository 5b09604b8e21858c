"""Where things live on disk (from :mod:`sr_models.settings`, fixed at import)."""
from __future__ import annotations

from .settings import REPO_ROOT, current

CHECKPOINTS_DIR = current().checkpoints_dir
SHARED_DIR = current().shared_dir

__all__ = ["REPO_ROOT", "CHECKPOINTS_DIR", "SHARED_DIR"]
