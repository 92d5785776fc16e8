"""Configuration read once from environment variables, with safe single-machine defaults."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


#: Default SLA per priority: (arrive within, complete within).
DEFAULT_SLA_WINDOWS = {
    "urgent": (dt.timedelta(minutes=45), dt.timedelta(hours=4)),
    "high": (dt.timedelta(hours=2), dt.timedelta(hours=8)),
    "normal": (dt.timedelta(hours=4), dt.timedelta(hours=24)),
    "low": (dt.timedelta(hours=24), dt.timedelta(hours=72)),
}
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(text: str) -> dt.timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"bad duration {text!r} in FIELDSYNC_SLA_TARGETS (use 45m, 4h, 2d)")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_sla_targets(text: str) -> dict[str, tuple[dt.timedelta, dt.timedelta]]:
    """`urgent=45m/4h,high=2h/8h` over the defaults; a typo stops the server at start-up."""
    windows = dict(DEFAULT_SLA_WINDOWS)
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        priority, _, spec = item.partition("=")
        arrive, _, complete = spec.partition("/")
        if priority.strip() not in DEFAULT_SLA_WINDOWS or not complete:
            raise ValueError(f"bad SLA target {item!r} (use priority=arrive/complete)")
        windows[priority.strip()] = (_duration(arrive), _duration(complete))
    return windows


@dataclass
class Settings:
    """Every tunable of the server; `from_env` is the only place the environment is read."""

    instance_path: str = ""
    database_url: str = ""
    media_root: str = ""
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    secret_key: str = ""
    old_secret_keys: list[str] = field(default_factory=list)
    debug: bool = False
    testing: bool = False
    access_token_ttl: int = 3600
    device_token_ttl: int = 90 * 24 * 3600
    enrollment_code_ttl: int = 24 * 3600
    token_issuer: str = "fieldsync"
    change_retention_days: int = 30
    max_json_bytes: int = 2 * 1024 * 1024
    max_media_bytes: int = 25 * 1024 * 1024
    max_push_mutations: int = 500
    pull_min_interval: float = 0.2
    pull_burst: int = 20
    metrics_token: str = ""
    # prometheus_client reads the same variable itself; set, metrics aggregate across workers.
    prometheus_multiproc_dir: str = ""
    password_hash_method: str = "scrypt"
    clock_skew_bound_seconds: int = 300
    #: Tests only (honoured when `testing`): sleep up to this many seconds before each write
    #: request commits, so concurrent transactions commit out of their start order.
    test_commit_delay_max: float = 0.0
    sla_targets: str = ""
    #: `sla_targets` parsed by `finalise`: priority -> (arrive within, complete within).
    sla_windows: dict[str, tuple[dt.timedelta, dt.timedelta]] = field(default_factory=dict)
    followup_due_hours: int = 24
    suggestion_weight_distance: float = 0.5
    suggestion_weight_skills: float = 0.3
    suggestion_weight_load: float = 0.2
    suggestion_distance_scale_km: float = 10.0
    position_fresh_minutes: int = 30
    #: `flask demo` gives the demo users this password; empty means a random one, printed once.
    demo_password: str = ""

    @classmethod
    def from_env(cls, instance_path: str) -> Settings:
        return cls(
            instance_path=instance_path,
            database_url=os.environ.get("FIELDSYNC_DATABASE_URL", ""),
            media_root=os.environ.get("FIELDSYNC_MEDIA_ROOT", ""),
            s3_bucket=os.environ.get("FIELDSYNC_S3_BUCKET", ""),
            s3_endpoint_url=os.environ.get("FIELDSYNC_S3_ENDPOINT_URL", ""),
            secret_key=os.environ.get("FIELDSYNC_SECRET_KEY", ""),
            old_secret_keys=_env_list("FIELDSYNC_OLD_SECRET_KEYS"),
            debug=_env_bool("FIELDSYNC_DEBUG", False),
            testing=_env_bool("FIELDSYNC_TESTING", False),
            access_token_ttl=_env_int("FIELDSYNC_ACCESS_TOKEN_TTL", 3600),
            device_token_ttl=_env_int("FIELDSYNC_DEVICE_TOKEN_TTL", 90 * 24 * 3600),
            enrollment_code_ttl=_env_int("FIELDSYNC_ENROLLMENT_CODE_TTL", 24 * 3600),
            change_retention_days=_env_int("FIELDSYNC_CHANGE_RETENTION_DAYS", 30),
            pull_min_interval=_env_float("FIELDSYNC_PULL_MIN_INTERVAL", 0.2),
            pull_burst=_env_int("FIELDSYNC_PULL_BURST", 20),
            test_commit_delay_max=_env_float("FIELDSYNC_TEST_COMMIT_DELAY_MAX", 0.0),
            metrics_token=os.environ.get("FIELDSYNC_METRICS_TOKEN", ""),
            prometheus_multiproc_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""),
            password_hash_method=os.environ.get("FIELDSYNC_PASSWORD_HASH", "scrypt"),
            sla_targets=os.environ.get("FIELDSYNC_SLA_TARGETS", ""),
            followup_due_hours=_env_int("FIELDSYNC_FOLLOWUP_DUE_HOURS", 24),
            suggestion_weight_distance=_env_float("FIELDSYNC_SUGGESTION_WEIGHT_DISTANCE", 0.5),
            suggestion_weight_skills=_env_float("FIELDSYNC_SUGGESTION_WEIGHT_SKILLS", 0.3),
            suggestion_weight_load=_env_float("FIELDSYNC_SUGGESTION_WEIGHT_LOAD", 0.2),
            suggestion_distance_scale_km=_env_float("FIELDSYNC_SUGGESTION_DISTANCE_SCALE_KM", 10.0),
            position_fresh_minutes=_env_int("FIELDSYNC_POSITION_FRESH_MINUTES", 30),
            demo_password=os.environ.get("FIELDSYNC_DEMO_ADMIN_PASSWORD", ""),
        )

    def with_overrides(self, overrides: dict | None) -> Settings:
        """Tests and scripts override settings by field name (lower case)."""
        known = {f.name for f in fields(self)}
        for key, value in (overrides or {}).items():
            name = key.lower()
            if name not in known:
                raise KeyError(f"unknown setting {key!r}")
            setattr(self, name, value)
        return self

    def finalise(self) -> Settings:
        """Fill path defaults and refuse to run without a secret outside debug and test mode."""
        Path(self.instance_path).mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.database_url = "sqlite:///" + str(Path(self.instance_path) / "fieldsync.db")
        if not self.media_root:
            self.media_root = str(Path(self.instance_path) / "media")
        self.sla_windows = parse_sla_targets(self.sla_targets)
        if not self.secret_key:
            if not (self.debug or self.testing):
                raise RuntimeError(
                    "FIELDSYNC_SECRET_KEY is required outside debug and test mode "
                    "(set FIELDSYNC_DEBUG=1 for a local demo)"
                )
            self.secret_key = "insecure-development-key-do-not-use-in-production"
        return self
