"""Every environment variable the app (``app.py`` and ``sr_arena``) reads, parsed in one place.

The engine's own variables (checkpoints, device, threads, precision) live in
:mod:`sr_models.settings`. ``current()`` is parsed once; tests that change a variable call
:func:`reload` (``tests/conftest.py``'s ``env`` fixture re-parses both).

| variable | default | meaning |
|---|---|---|
| ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` | 127.0.0.1 / 7860 | where the app listens |
| ``SR_ARENA_MAX_LR_SIDE`` | 512 | longest side of the low-resolution image (originals up to 4× that) |
| ``SR_ARENA_MAX_UPLOAD_MB`` | 25 | largest upload |
| ``SR_ARENA_CONCURRENCY`` | 1 | comparisons run at once (Gradio queue limit of the heavy events) |
| ``SR_ARENA_DATA_DIR`` | ``data/`` in the repository | runtime state: the vote database, study stimuli, cached outputs (on a Space: where a storage bucket is mounted) |
| ``SR_ARENA_DB`` | ``<data dir>/sr_arena.sqlite3`` | the SQLite vote database |
| ``DATABASE_URL`` | unset | ``postgresql://…``: store votes in PostgreSQL instead (several replicas) |
| ``SR_ARENA_MIN_VOTE_INTERVAL`` | 1 | minimum seconds between one rater's votes |
| ``SR_ARENA_APP_VERSION`` | 0.1.0+git commit | stored with every vote |
| ``SR_ARENA_STUDY_DIR`` | ``examples/`` | folder of HR study images |
| ``SR_ARENA_STUDY_ID`` | the folder's name | study id |
| ``SR_ARENA_STUDY_CROP`` | 256 | side of the HR crop each stimulus shows |
| ``SR_ARENA_STUDY_METHODS`` | every method with weights | comma-separated method ids |
| ``SR_ARENA_GOLD_MAX_FAIL`` | 0.25 | share of failed gold items that flags a rater |
| ``SR_ARENA_BATTLES_PER_RATER`` | 24 | pairs each rater judges in battle mode (every 8th is a gold item) |
| ``SR_ARENA_SECRET`` | generated once into ``<data dir>/deployment_secret`` (mode 0600) | the deployment's secret key: rater ids are derived from the browser's token with it, and exports name raters by per-study pseudonyms keyed with it (set the same value on every replica) |
| ``SR_ARENA_NEW_RATERS_PER_HOUR`` | 60 | new raters one client address may start per hour (each browser session starts at most one) |
| ``SR_ARENA_TRUST_FORWARDED_FOR`` | 0 | ``1`` behind a remote reverse proxy (a Space): the client address (new-rater limit) is the last ``X-Forwarded-For`` entry, the one the proxy added, not the proxy's (uvicorn already does this for a proxy on 127.0.0.1) |
| ``SR_ARENA_OWNER_PASSWORD`` | unset | password of the Class tab's study builder (unset: the builder is locked) |
| ``SR_ARENA_TEMP_MAX_AGE`` | 3600 | seconds a served file (panels, zip, API output) is kept in the temp folders |
| ``SR_ARENA_GPU_DURATION_MIN`` / ``_MAX`` | 5 / 120 | ZeroGPU: bounds (s) of the duration booked per method run |
| ``SR_ARENA_GPU_DURATION_FACTOR`` | 2 | ZeroGPU: duration = factor × the run's FLOP estimate + 3 s, then clamped |
| ``SR_ARENA_STORAGE_EPHEMERAL`` | ``1`` unless ``DATABASE_URL``, ``SR_ARENA_DB`` or ``SR_ARENA_DATA_DIR`` is set | ``1``: votes are on disk that a restart wipes (the status line warns); ``0``: it persists |
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from sr_models.settings import ParsedOnce

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """The app's configuration (see the module docstring for each variable)."""

    server_name: str = "127.0.0.1"
    server_port: int = 7860
    max_lr_side: int = 512
    max_upload_mb: float = 25
    concurrency: int = 1
    data_dir_override: Path | None = None
    db_path: Path | None = None
    database_url: str = ""
    min_vote_interval_s: float = 1.0
    app_version: str | None = None
    study_dir: Path = REPO_ROOT / "examples"
    study_id: str | None = None
    study_crop: int = 256
    study_methods: tuple[str, ...] | None = None
    gold_max_fail_share: float = 0.25
    battles_per_rater: int = 24
    owner_password: str = ""
    secret: str = ""
    new_raters_per_hour: int = 60
    trust_forwarded_for: bool = False
    temp_max_age_s: float = 3600.0
    storage_ephemeral_override: bool | None = None
    gpu_duration_min_s: float = 5.0
    gpu_duration_max_s: float = 120.0
    gpu_duration_factor: float = 2.0

    @property
    def data_dir(self) -> Path:
        """``SR_ARENA_DATA_DIR``, else ``data/`` in the repository. No path is guessed: a Space's
        storage bucket is mounted wherever its owner chose, and ``/data`` exists only if they chose it."""
        return self.data_dir_override if self.data_dir_override is not None else REPO_ROOT / "data"

    @property
    def storage_ephemeral(self) -> bool:
        """Whether votes may be lost on restart: ``SR_ARENA_STORAGE_EPHEMERAL`` when set, else true unless
        ``DATABASE_URL``, ``SR_ARENA_DB`` or ``SR_ARENA_DATA_DIR`` names where they go (a Space's own disk
        is wiped on every restart; a mounted storage bucket or a database is not)."""
        if self.storage_ephemeral_override is not None:
            return self.storage_ephemeral_override
        return not (self.database_url or self.db_path or self.data_dir_override)

    @property
    def delete_cache(self) -> tuple[int, int]:
        """Gradio's ``delete_cache=(frequency, age)``: files older than ``SR_ARENA_TEMP_MAX_AGE`` go,
        checked every quarter of that age (so none outlives 1.25× the age)."""
        age = max(1, int(self.temp_max_age_s))
        return max(1, age // 4), age

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def from_environ(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    defaults = Settings()
    methods = tuple(m.strip() for m in (get("SR_ARENA_STUDY_METHODS") or "").split(",") if m.strip())
    return Settings(
        server_name=get("GRADIO_SERVER_NAME") or defaults.server_name,
        server_port=int(get("GRADIO_SERVER_PORT") or defaults.server_port),
        max_lr_side=int(get("SR_ARENA_MAX_LR_SIDE") or defaults.max_lr_side),
        max_upload_mb=float(get("SR_ARENA_MAX_UPLOAD_MB") or defaults.max_upload_mb),
        concurrency=int(get("SR_ARENA_CONCURRENCY") or defaults.concurrency),
        data_dir_override=Path(get("SR_ARENA_DATA_DIR")) if get("SR_ARENA_DATA_DIR") else None,
        db_path=Path(get("SR_ARENA_DB")) if get("SR_ARENA_DB") else None,
        database_url=get("DATABASE_URL") or "",
        min_vote_interval_s=float(get("SR_ARENA_MIN_VOTE_INTERVAL") or defaults.min_vote_interval_s),
        app_version=get("SR_ARENA_APP_VERSION"),
        study_dir=Path(get("SR_ARENA_STUDY_DIR") or defaults.study_dir),
        study_id=get("SR_ARENA_STUDY_ID"),
        study_crop=int(get("SR_ARENA_STUDY_CROP") or defaults.study_crop),
        study_methods=methods or None,
        gold_max_fail_share=float(get("SR_ARENA_GOLD_MAX_FAIL") or defaults.gold_max_fail_share),
        battles_per_rater=int(get("SR_ARENA_BATTLES_PER_RATER") or defaults.battles_per_rater),
        owner_password=get("SR_ARENA_OWNER_PASSWORD") or "",
        secret=get("SR_ARENA_SECRET") or "",
        new_raters_per_hour=int(get("SR_ARENA_NEW_RATERS_PER_HOUR") or defaults.new_raters_per_hour),
        trust_forwarded_for=(get("SR_ARENA_TRUST_FORWARDED_FOR") or "0") not in ("0", "false", "no"),
        temp_max_age_s=float(get("SR_ARENA_TEMP_MAX_AGE") or defaults.temp_max_age_s),
        storage_ephemeral_override=(None if get("SR_ARENA_STORAGE_EPHEMERAL") is None
                                    else get("SR_ARENA_STORAGE_EPHEMERAL") not in ("0", "false", "no")),
        gpu_duration_min_s=float(get("SR_ARENA_GPU_DURATION_MIN") or defaults.gpu_duration_min_s),
        gpu_duration_max_s=float(get("SR_ARENA_GPU_DURATION_MAX") or defaults.gpu_duration_max_s),
        gpu_duration_factor=float(get("SR_ARENA_GPU_DURATION_FACTOR") or defaults.gpu_duration_factor),
    )


SECRET_FILE_NAME = "deployment_secret"
_SECRETS: dict[str, bytes] = {}


def deployment_secret(config: Settings | None = None) -> bytes:
    """The deployment's secret key: ``SR_ARENA_SECRET``, else ``<data dir>/deployment_secret``,
    created with :mod:`secrets` (256 bits, hex, file mode 0600) when absent. Never served or exported."""
    config = config or current()
    if config.secret:
        return config.secret.encode()
    path = config.data_dir / SECRET_FILE_NAME
    key = str(path.resolve())
    if key not in _SECRETS:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # written aside, then linked: no process ever reads a half-written key
            tmp = path.with_name(f".{SECRET_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:  # another replica or process won the race: use theirs
                pass
            finally:
                tmp.unlink()
        value = path.read_text().strip().encode()
        if len(value) < 32:
            raise RuntimeError(f"{path} holds no usable secret; set SR_ARENA_SECRET or put 64 hex digits there")
        os.chmod(path, 0o600)
        _SECRETS[key] = value
    return _SECRETS[key]


_STATE = ParsedOnce(from_environ)
current = _STATE.current
reload = _STATE.reload
