"""Fixtures (a pytest plugin, listed in ``tests/conftest.py``) and helpers of the QR tests."""
from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import pytest
import zxingcpp
from PIL import Image

from qr.config import QrConfig, parse_kek
from qr.keys import Keyring, init_keys
from qr.service import Scanner


class FakeMonotonic:
    """A monotonic clock tests move, to play "the reload period has passed"."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def read_qr(png: bytes) -> list[zxingcpp.Barcode]:
    """The QR codes zxing-cpp finds in a PNG. Only QR codes are looked for: with every format on,
    the modules of a random symbol now and then also read as a Codabar or ITF barcode (about 1 in
    750 symbols), a second "barcode" that is not there."""
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)


def b64(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p))), s)


def forge(header: dict, payload: dict, signature: bytes) -> str:
    return f"{b64(header)}.{b64(payload)}.{b64(signature)}"


def make_keyring(app_or_settings, db, clock, monotonic: FakeMonotonic | None = None, **overrides) -> Keyring:
    """A keyring on ``db``; pass the app, or the settings where binding ``db`` must be avoided."""
    settings = getattr(app_or_settings, "extensions", {}).get("settings", app_or_settings)
    config = QrConfig.from_settings(settings)
    if overrides:
        from dataclasses import replace

        config = replace(config, **overrides)
    return Keyring(db, parse_kek(settings.key_encryption_key), clock, config,
                   monotonic=monotonic or FakeMonotonic())


@pytest.fixture
def qr_config(app) -> QrConfig:
    return QrConfig.from_settings(app.extensions["settings"])


@pytest.fixture
def keyring(app, db, clock) -> Iterator[Keyring]:
    """A fresh keyring with one signing key, installed as the app's for this test."""
    kr = make_keyring(app, db, clock)
    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
    app.extensions["qr_keyring"] = kr
    try:
        yield kr
    finally:
        app.extensions.pop("qr_keyring", None)


@pytest.fixture
def scanner() -> Scanner:
    return Scanner("device", 7)
