"""Consents to optional processing (PIPL arts. 14, 15): given with its purpose, the version of
the text shown and the time; withdrawn as easily (``DELETE``), in effect at once.

``PURPOSES`` is the catalogue (as data). A person has at most one active consent per purpose
(a partial unique index: two racing gives make one row). Code that processes data for a
purpose calls ``require_consent`` in its own transaction, so a request that arrives after the
withdrawal is refused (403 ``consent_required``) whatever the client still believes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import Clock
from app.db import Base, BigId, IdMixin, UTCDateTime
from app.errors import ApiError
from auth.signals import person_erased


@dataclass(frozen=True)
class Purpose:
    title_zh: str
    version: str
    text_zh: str


PURPOSES: dict[str, Purpose] = {
    "precise_location_taxi": Purpose("叫车时使用精确位置", "2026-12-01",
                                     "一键叫车时，将您的精确位置提供给接单司机，行程结束后按保存期限删除。"),
    "precise_location_sos": Purpose("紧急呼叫时使用精确位置", "2026-12-01",
                                    "紧急呼叫时，将您的精确位置提供给响应人员。"),
    "wechat_subscription": Purpose("微信订阅消息", "2026-12-01", "通过微信订阅消息向您发送办事进度通知。"),
    "service_notices": Purpose("服务通知（非营销）", "2026-12-01", "向您发送与所办事项相关的服务通知，不含营销内容。"),
}


class Consent(IdMixin, Base):
    __tablename__ = "consents"
    __table_args__ = (
        sa.Index("uq_consents_active", "person_id", "purpose", unique=True,
                 postgresql_where=sa.text("withdrawn_at IS NULL"), sqlite_where=sa.text("withdrawn_at IS NULL")),
    )

    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[str] = mapped_column(sa.String(20))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _purpose(purpose: str) -> Purpose:
    found = PURPOSES.get(purpose)
    if found is None:
        raise ApiError("validation_error", errors={"purpose": [f"可选用途：{', '.join(PURPOSES)}。"]})
    return found


def active(session: Session, person_id: int, purpose: str) -> Consent | None:
    return session.scalar(sa.select(Consent).where(Consent.person_id == person_id, Consent.purpose == purpose,
                                                   Consent.withdrawn_at.is_(None)))


def give(session: Session, *, clock: Clock, person_id: int, account_id: int | None, purpose: str,
         version: str) -> Consent:
    """Give consent to the current text of ``purpose`` (``version`` must be it: 409 otherwise).
    Giving again is harmless; a consent to an older text is replaced."""
    current = _purpose(purpose)
    if version != current.version:
        raise ApiError("consent_version_outdated", detail={"version": current.version})
    now = clock.now()
    existing = active(session, person_id, purpose)
    if existing is not None and existing.version == version:
        return existing
    if existing is not None:
        existing.withdrawn_at = now
        session.flush()
    consent = Consent(person_id=person_id, account_id=account_id, purpose=purpose, version=version, given_at=now)
    session.add(consent)
    session.flush()
    return consent


def withdraw(session: Session, *, clock: Clock, person_id: int, purpose: str) -> bool:
    """Withdraw at once; whether there was a consent to withdraw."""
    _purpose(purpose)
    result = session.execute(sa.update(Consent).where(
        Consent.person_id == person_id, Consent.purpose == purpose, Consent.withdrawn_at.is_(None))
        .values(withdrawn_at=clock.now()))
    return bool(result.rowcount)


def in_effect(session: Session, person_id: int | None, purpose: str) -> Consent | None:
    """``person_id``'s consent to ``purpose``'s current text, if in effect now (read in the
    caller's transaction: a withdrawal committed before it is seen)."""
    consent = active(session, person_id, purpose) if person_id is not None else None
    return consent if consent is not None and consent.version == _purpose(purpose).version else None


def withdrawn(session: Session, person_id: int, purpose: str) -> bool:
    """Whether ``person_id`` once consented to ``purpose`` and has none in effect now (never
    having answered is not a withdrawal)."""
    rows = session.execute(sa.select(Consent.withdrawn_at).where(Consent.person_id == person_id,
                                                                 Consent.purpose == purpose)).scalars().all()
    return bool(rows) and all(w is not None for w in rows)


def require_consent(session: Session, *, person_id: int | None, purpose: str) -> Consent:
    """403 ``consent_required`` unless ``person_id`` consents to ``purpose``'s current text now.

    Where it is called: taxi's precise location of the rider (``scenarios/taxi/policy.py``), the
    WeChat channel before each subscription message (``app/wechat/channel.py``, through
    ``in_effect``: a delivery is no request, it ends ``no_grant`` instead). The hook for SOS:
    elderly-SOS sends responders to the enrolled home point; when it takes a live precise
    position (a wearable's fix) it calls ``require_consent(session, person_id=<the caller>,
    purpose="precise_location_sos")`` in the transaction that takes it, and without it keeps
    to the home point."""
    consent = in_effect(session, person_id, purpose)
    if consent is None:
        raise ApiError("consent_required", detail={"purpose": purpose})
    return consent


def describe(session: Session, person_id: int) -> list[dict]:
    history = list(session.scalars(sa.select(Consent).where(Consent.person_id == person_id)
                                   .order_by(Consent.given_at.desc(), Consent.id.desc())))
    out = []
    for name, purpose in PURPOSES.items():
        now = next((c for c in history if c.purpose == name and c.withdrawn_at is None), None)
        out.append({"purpose": name, "title_zh": purpose.title_zh, "version": purpose.version,
                    "text_zh": purpose.text_zh, "given": now is not None and now.version == purpose.version,
                    "given_at": now.given_at if now else None,
                    "history": [{"version": c.version, "given_at": c.given_at, "withdrawn_at": c.withdrawn_at}
                                for c in history if c.purpose == name]})
    return out


@person_erased.connect
def _on_person_erased(sender: object, *, session: Session, person_id: int, **_: object) -> None:
    """A cancelled account's consents end with it, at the time of cancellation (the records stay
    their retention period)."""
    from auth.models import Person

    ended = session.scalar(sa.select(Person.anonymised_at).where(Person.id == person_id))
    session.execute(sa.update(Consent).where(Consent.person_id == person_id, Consent.withdrawn_at.is_(None))
                    .values(withdrawn_at=ended), execution_options={"synchronize_session": False})
