"""A summary's PDF: stored once under its hash beside the photos (``app.storage.files``), served
through a signed, expiring URL as photos are (``app.storage.urls``: the same HMAC key, the
variant ``pdf`` so a photo's URL never opens a PDF), only ever as an attachment."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app

from app.clock import Clock
from app.storage import files
from app.storage.urls import EXP_GRANULARITY, signature
from scenarios.discharge_summary.models import DsFile

VARIANT = "pdf"
TTL = timedelta(minutes=10)
URL_PREFIX = "/api/v1/discharge-summary/files"


def store(upload_dir: str, data: bytes) -> str:
    return files.put(upload_dir, data, "pdf")


def path_of(upload_dir: str, row: DsFile) -> str:
    return str(files.path_for(upload_dir, row.sha256, "pdf"))


def new_public_id() -> str:
    return secrets.token_hex(16)


def signed_url(row: DsFile, *, clock: Clock) -> str:
    """A URL serving the PDF to whoever holds it for 10–15 minutes. Only for readers of its summary."""
    earliest = int(clock.now().timestamp() + TTL.total_seconds())
    exp = -(-earliest // EXP_GRANULARITY) * EXP_GRANULARITY
    settings = current_app.extensions["settings"]
    sig = signature(row.public_id, VARIANT, exp, secret_key=settings.secret_key)
    base = (settings.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return f"{base}{URL_PREFIX}/{row.public_id}/content?exp={exp}&sig={sig}"
