"""Configuration from the environment, with production safety checks.

In development, secrets missing from the environment are read from
``instance/dev-secrets.json`` (``flask --app wsgi dev init-secrets`` creates it); when that
file is missing too, fixed development defaults are used, which production refuses.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"
DEV_SECRETS_FILE = INSTANCE_DIR / "dev-secrets.json"

# Known insecure values: production refuses to start with them.
DEV_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105 (refused in production)
DEV_KEY_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"d" * 32).decode()
DEV_DATA_ENCRYPTION_KEYS = "dev1:" + base64.urlsafe_b64encode(b"p" * 32).decode()

SECRET_NAMES = ("SECRET_KEY", "KEY_ENCRYPTION_KEY", "DATA_ENCRYPTION_KEYS")
INSECURE_VALUES = {DEV_SECRET_KEY, DEV_KEY_ENCRYPTION_KEY, DEV_DATA_ENCRYPTION_KEYS, ""}


class ConfigError(RuntimeError):
    """The configuration is unsafe or invalid; the process must not start."""


def generate_dev_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "DATA_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }


def ensure_dev_secrets(path: Path = DEV_SECRETS_FILE) -> bool:
    """Create the development secrets file when missing. Returns True when created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(generate_dev_secrets(), fh, indent=2)
    return True


def parse_data_keys(value: str) -> dict[str, bytes]:
    """``id1:base64key,id2:base64key`` → ordered {id: 32-byte key}; the first encrypts."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        kid, _, b64 = part.partition(":")
        if not kid or not b64:
            raise ConfigError("DATA_ENCRYPTION_KEYS must look like id:base64key[,id:base64key]")
        raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        if len(raw) != 32:
            raise ConfigError(f"data key {kid!r} must be 32 bytes")
        keys[kid] = raw
    if not keys:
        raise ConfigError("DATA_ENCRYPTION_KEYS is empty")
    return keys


@dataclass
class Settings:
    app_env: str = "development"
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = DEV_SECRET_KEY
    key_encryption_key: str = DEV_KEY_ENCRYPTION_KEY
    data_encryption_keys: str = DEV_DATA_ENCRYPTION_KEYS
    upload_dir: str = ""
    port: int = 8000
    log_level: str = "INFO"
    allow_sqlite_in_production: bool = False
    enable_dev_routes: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def data_keys(self) -> dict[str, bytes]:
        return parse_data_keys(self.data_encryption_keys)

    def get(self, name: str, default: str | None = None) -> str | None:
        """Read an optional, scenario-level setting (e.g. ``WECHAT_API_BASE``)."""
        return self.extra.get(name, default)

    def check(self) -> None:
        """Refuse unsafe production settings."""
        if not self.is_production:
            return
        problems = [n for n in SECRET_NAMES if getattr(self, n.lower()) in INSECURE_VALUES]
        if problems:
            raise ConfigError(f"production needs real values for: {', '.join(problems)}")
        if self.enable_dev_routes:
            raise ConfigError("development-only routes must be off in production")
        if self.is_sqlite and not self.allow_sqlite_in_production:
            raise ConfigError("production on SQLite needs ALLOW_SQLITE_IN_PRODUCTION=1")
        self.data_keys()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'jinshan.db'}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    app_env = env.get("APP_ENV", "development").strip() or "development"
    if app_env not in {"development", "production", "test"}:
        raise ConfigError(f"APP_ENV must be development, production or test, not {app_env!r}")
    file_secrets: dict[str, str] = {}
    if app_env == "development" and DEV_SECRETS_FILE.exists():
        file_secrets = json.loads(DEV_SECRETS_FILE.read_text())

    def secret(name: str, dev_default: str) -> str:
        if name in env:
            return env[name]
        if app_env == "production":
            return ""
        return file_secrets.get(name, dev_default)

    dev_routes_default = "0" if app_env == "production" else "1"
    settings = Settings(
        app_env=app_env,
        database_url=env.get("DATABASE_URL") or default_database_url(),
        redis_url=env.get("REDIS_URL") or None,
        secret_key=secret("SECRET_KEY", DEV_SECRET_KEY),
        key_encryption_key=secret("KEY_ENCRYPTION_KEY", DEV_KEY_ENCRYPTION_KEY),
        data_encryption_keys=secret("DATA_ENCRYPTION_KEYS", DEV_DATA_ENCRYPTION_KEYS),
        upload_dir=env.get("UPLOAD_DIR") or str(INSTANCE_DIR / "uploads"),
        port=int(env.get("PORT", "8000")),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        allow_sqlite_in_production=_truthy(env.get("ALLOW_SQLITE_IN_PRODUCTION")),
        enable_dev_routes=_truthy(env.get("ENABLE_DEV_ROUTES", dev_routes_default)),
        extra={k: v for k, v in env.items() if k.isupper()},
    )
    settings.check()
    return settings
