"""The QR layer's housekeeping and its answers to identity events.

- ``purge_qr`` (periodic, every 10 minutes): ``qr.service.purge_expired``.
- ``person_erased``: the person's live personal codes stop working at once (their
  pseudonyms are deleted, so a scan answers ``qr_revoked``); passes are their scenarios'.
- ``person_merged``: pseudonyms and passes of the dropped person point at the kept one.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import has_app_context
from sqlalchemy.orm import Session

from app.clock import Clock
from app.periodic import periodic
from auth.signals import person_erased, person_merged
from qr.config import QrConfig
from qr.models import QrPass, QrSubject
from qr.service import purge_expired

PERSON = "person"


def _config() -> QrConfig:
    if has_app_context():
        from qr.keys import current_keyring

        return current_keyring().config
    return QrConfig()


@periodic("purge_qr", every=timedelta(minutes=10))
def purge_qr(session: Session, clock: Clock) -> dict[str, int]:
    """Used token ids and pseudonyms of expired codes, scans past retention, retired private keys."""
    return purge_expired(session, clock=clock, config=_config())


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    session.execute(sa.delete(QrSubject).where(QrSubject.holder_type == PERSON, QrSubject.holder_id == person_id))


@person_merged.connect
def _on_person_merged(sender: object, *, session: Session, keep_id: int, drop_id: int, **_: object) -> None:
    for model in (QrSubject, QrPass):
        session.execute(sa.update(model).where(model.holder_type == PERSON, model.holder_id == drop_id)
                        .values(holder_id=keep_id), execution_options={"synchronize_session": False})
