"""Who is told what about a charging session, through the outbox: the resident (the account that
started it, else the person's own accounts) when it stops, with the energy and the fee. Payloads
carry the pile and amounts, never personal data."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.fields import CST
from app.notify.service import Notice, Recipient, enqueue_many
from auth.models import Account
from scenarios.ev_charging.models import EvPile, EvSession

CHANNEL = "auto"


def recipients(session: Session, row: EvSession) -> tuple[Recipient, ...]:
    ids = set(session.scalars(sa.select(Account.id).where(Account.person_id == row.person_id,
                                                          Account.kind != "staff", Account.status == "active")))
    if row.account_id is not None:
        ids.add(row.account_id)
    return tuple(Recipient.account(i) for i in sorted(ids))


def session_stopped(session: Session, row: EvSession, pile: EvPile, *, clock: Clock) -> int:
    """``ev_session_stopped``: the energy, the fee and how it ended (``pile_fault`` included)."""
    stopped = row.stopped_at.astimezone(CST)
    payload = {"session_id": row.id, "session_no": f"EV{row.id:08d}", "pile": f"{pile.station}{pile.name}"[:20],
               "energy_kwh": f"{row.energy_wh / 1000:.3f}", "fee_fen": row.fee_fen or 0,
               "fee_text": f"{(row.fee_fen or 0) / 100:.2f}元", "stopped_at": stopped.isoformat(),
               "stopped_text": stopped.strftime("%m月%d日 %H:%M"), "reason": row.stop_reason or "",
               "payment_id": row.payment_id}
    notice = Notice(f"ev.session_stopped:{row.id}", "ev_session_stopped", recipients(session, row), payload,
                    channel=CHANNEL)
    return enqueue_many(session, [notice], clock=clock)
