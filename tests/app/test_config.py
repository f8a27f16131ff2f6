"""Configuration and production refusals."""
from __future__ import annotations

import base64
import os

import pytest

from app.config import ConfigError, load_settings, parse_data_keys

GOOD = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://db/jinshan",
    "SECRET_KEY": "s" * 40,
    "KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "DATA_ENCRYPTION_KEYS": "k2:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
}


def test_production_with_real_secrets_starts():
    s = load_settings(GOOD)
    assert s.is_production and not s.enable_dev_routes


@pytest.mark.parametrize("missing", ["SECRET_KEY", "KEY_ENCRYPTION_KEY", "DATA_ENCRYPTION_KEYS"])
def test_production_refuses_missing_secret(missing):
    env = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


def test_production_refuses_default_secret():
    from app.config import DEV_SECRET_KEY

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**GOOD, "SECRET_KEY": DEV_SECRET_KEY})


def test_production_refuses_dev_routes():
    with pytest.raises(ConfigError, match="development-only"):
        load_settings({**GOOD, "ENABLE_DEV_ROUTES": "1"})


def test_production_refuses_sqlite_unless_allowed():
    with pytest.raises(ConfigError, match="SQLite"):
        load_settings({**GOOD, "DATABASE_URL": "sqlite:////tmp/x.db"})
    assert load_settings({**GOOD, "DATABASE_URL": "sqlite:////tmp/x.db", "ALLOW_SQLITE_IN_PRODUCTION": "1"})


def test_development_defaults():
    s = load_settings({})
    assert s.app_env == "development" and s.is_sqlite and s.enable_dev_routes
    assert s.database_url.endswith("instance/jinshan.db")


def test_unknown_app_env_refused():
    with pytest.raises(ConfigError):
        load_settings({"APP_ENV": "prod"})


def test_data_keys_parse_and_order():
    a, b = (base64.urlsafe_b64encode(bytes([i]) * 32).decode() for i in (1, 2))
    keys = parse_data_keys(f"new:{a},old:{b}")
    assert list(keys) == ["new", "old"] and keys["new"] == b"\x01" * 32
    with pytest.raises(ConfigError):
        parse_data_keys("nokey")
    with pytest.raises(ConfigError):
        parse_data_keys("k:" + base64.urlsafe_b64encode(b"short").decode())
