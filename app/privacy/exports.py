"""A copy of a person's data (PIPL art. 45): requested, built by the worker, downloaded through a
signed link, deleted after ``KEEP``.

- ``request_export``: at most one per person per Beijing day, decided by the database (a unique
  key on (person, day): two racing requests make one row, the other gets 429
  ``export_daily_limit`` with ``Retry-After`` and ``next_allowed_at``). A person one may not act
  for (a confirmed relation allowing ``act_all``) is a 404. The build is a timer due at once.
- ``build`` (the timer's handler): collects every registered part (``parts.collect``), writes
  the zip to the path fixed in the row when it was requested (``bundle.write``: a ``.part``
  file renamed over it) and tells the requester through the outbox. A worker that crashes
  mid-build commits nothing: the timer is claimed again and rebuilds the same file.
- ``signed_link`` / ``verify_link``: ``exp`` and ``sig = HMAC-SHA256(k, public_id, exp)``, ``k``
  derived from ``SECRET_KEY`` for this one purpose; a link lives ``LINK_TTL`` and never past the
  export's deletion; past ``exp`` it is a 403 ``url_expired``.
- ``purge_data_exports`` (periodic, hourly): exports older than ``KEEP`` lose their file and row.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import insert_for
from app.errors import ApiError
from app.fields import CST
from app.notify.service import AUTO, Recipient, enqueue
from app.periodic import periodic
from app.privacy import bundle
from app.privacy.models import DataExport
from app.privacy.parts import Subject, collect
from app.timers import Timer, schedule, timer_handler
from auth.models import Account
from auth.principal import Principal
from auth.relations import may_act_for
from auth.signals import person_erased

KEEP = timedelta(days=7)
LINK_TTL = timedelta(hours=24)
TIMER_KIND = "privacy_export"
SUBJECT_TYPE = "data_export"
DOWNLOAD_PATH = "/api/v1/me/export/download"
_PURPOSE = b"jinshan/privacy/export-link/v1"


def export_dir(settings: Any) -> str:
    """``EXPORT_DIR``, else ``<UPLOAD_DIR>/exports``."""
    return settings.get("EXPORT_DIR") or str(Path(settings.upload_dir) / "exports")


def next_day_start(now: datetime) -> datetime:
    local = now.astimezone(CST)
    return datetime.combine(local.date() + timedelta(days=1), time(0), CST)


def request_export(session: Session, *, clock: Clock, principal: Principal, directory: str,
                   person_id: int | None = None) -> DataExport:
    """Start an export of ``person_id`` (default: the caller) built by the worker."""
    me = principal.person_id
    if me is None:
        raise ApiError("forbidden")
    subject = me if person_id is None else person_id
    if not may_act_for(session, me, subject, "act_all"):
        raise ApiError("not_found")
    now = clock.now()
    public_id = secrets.token_urlsafe(18)
    stmt = insert_for(session, DataExport.__table__).values(
        public_id=public_id, person_id=subject, requested_by_account_id=principal.account_id,
        day=now.astimezone(CST).date(), status="building", requested_at=now,
        file_path=os.path.join(directory, f"{public_id}.zip"),
    ).on_conflict_do_nothing(index_elements=["person_id", "day"]).returning(DataExport.__table__.c.id)
    new_id = session.execute(stmt).scalar()
    if new_id is None:
        nxt = next_day_start(now)
        raise ApiError("export_daily_limit", headers={"Retry-After": str(int((nxt - now).total_seconds()) + 1)},
                       detail={"next_allowed_at": nxt.isoformat()})
    schedule(session, subject_type=SUBJECT_TYPE, subject_id=new_id, kind=TIMER_KIND, due_at=now)
    return session.get(DataExport, new_id)


@timer_handler(TIMER_KIND)
def build(session: Session, timer: Timer, clock: Clock) -> None:
    export = session.get(DataExport, int(timer.subject_id))
    if export is None or export.status == "ready":
        return
    accounts = tuple(session.scalars(sa.select(Account.id).where(Account.person_id == export.person_id)
                                     .order_by(Account.id)))
    now = clock.now()
    doc = bundle.document(collect(session, Subject(export.person_id, accounts, clock)),
                          person_id=export.person_id, generated_at=now)
    export.bytes, export.sha256 = bundle.write(export.file_path, doc)
    export.status, export.ready_at = "ready", now
    enqueue(session, event_key=f"data_export:{export.id}", template="data_export_ready",
            recipients=[Recipient("account", export.requested_by_account_id)], clock=clock, channel=AUTO,
            payload={"title": "您的个人信息副本", "at": now.isoformat(), "note": "请在7天内下载"})


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def signature(public_id: str, exp: int, *, secret_key: str) -> str:
    mac = hmac.new(_key(secret_key), f"{public_id}\n{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def signed_link(export: DataExport, *, clock: Clock, secret_key: str) -> str:
    exp = int(min(clock.now() + LINK_TTL, export.requested_at + KEEP).timestamp())
    return f"{DOWNLOAD_PATH}?" + urlencode({"id": export.public_id, "exp": exp,
                                            "sig": signature(export.public_id, exp, secret_key=secret_key)})


def verify_link(public_id: str, exp: int, sig: str, *, clock: Clock, secret_key: str) -> None:
    """403 ``forbidden`` for a wrong signature, 403 ``url_expired`` past ``exp``."""
    expected = signature(public_id, exp, secret_key=secret_key)
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise ApiError("forbidden")
    if exp <= int(clock.now().timestamp()):
        raise ApiError("url_expired")


def describe(export: DataExport, *, clock: Clock, secret_key: str) -> dict[str, Any]:
    ready = export.status == "ready"
    return {"id": export.public_id, "person_id": export.person_id, "status": export.status,
            "requested_at": export.requested_at, "ready_at": export.ready_at,
            "deleted_after": export.requested_at + KEEP, "bytes": export.bytes, "sha256": export.sha256,
            "url": signed_link(export, clock=clock, secret_key=secret_key) if ready else None}


def mine(session: Session, principal: Principal) -> list[DataExport]:
    return list(session.scalars(sa.select(DataExport).where(
        DataExport.requested_by_account_id == principal.account_id).order_by(DataExport.id.desc())))


def _delete(session: Session, old: list[DataExport]) -> int:
    for export in old:
        for path in (export.file_path, export.file_path + ".part"):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        session.delete(export)
    session.flush()
    return len(old)


@periodic("purge_data_exports", every=timedelta(hours=1))
def purge_data_exports(session: Session, clock: Clock) -> int:
    """Exports older than ``KEEP``: file and row deleted."""
    return _delete(session, list(session.scalars(sa.select(DataExport).where(
        DataExport.requested_at <= clock.now() - KEEP))))


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    """A cancelled account's exports go at once (file and row)."""
    _delete(session, list(session.scalars(sa.select(DataExport).where(DataExport.person_id == person_id))))
