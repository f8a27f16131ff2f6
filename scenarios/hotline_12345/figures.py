"""The hotline office's monthly figures per department: the orders each department held that
were filed in the month (Beijing dates), how many it contacted the caller for in time (its
first response not late), how many were resolved in time, the callers' verdicts, and how
often it sent an order back. Grouped in Python (portable; a month of one district's orders)."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.fields import CST
from auth.organisations import Organisation
from scenarios.engines.workflow.models import Ticket, TicketEvent

SLUG = "hotline-12345"


def _bounds(month: str) -> tuple[datetime, datetime]:
    year, mon = (int(p) for p in month.split("-"))
    start = date(year, mon, 1)
    end = date(year + (mon == 12), mon % 12 + 1, 1)
    return datetime.combine(start, time(0), tzinfo=CST), datetime.combine(end, time(0), tzinfo=CST)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def monthly(session: Session, *, month: str, office_id: int) -> dict[str, Any]:
    start, end = _bounds(month)
    rows = session.execute(sa.select(Ticket.org_id, Ticket.first_response_at, Ticket.response_breached,
                                     Ticket.resolved_at, Ticket.closed_at, Ticket.resolution_breached,
                                     Ticket.details)
                           .where(Ticket.scenario == SLUG, Ticket.created_at >= start, Ticket.created_at < end,
                                  Ticket.org_id != office_id))
    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"orders": 0, "contact": 0, "resolved": 0,
                                                          "verdicts": Counter()})
    for org_id, responded, late, resolved, closed, resolution_late, details in rows:
        d = per[org_id]
        d["orders"] += 1
        d["contact"] += bool(responded is not None and not late)
        d["resolved"] += bool((resolved or closed) is not None and not resolution_late)
        d["verdicts"].update(v["result"] for v in (details or {}).get("satisfaction", []))
    sent_back: Counter[str] = Counter(
        data["from_org"] for (data,) in session.execute(
            sa.select(TicketEvent.data).join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.scenario == SLUG, TicketEvent.action == "send_back",
                   TicketEvent.at >= start, TicketEvent.at < end)))
    orgs = {o.id: o for o in session.scalars(sa.select(Organisation).where(
        sa.or_(Organisation.id.in_(list(per)), Organisation.code.in_(list(sent_back)))))}
    by_code = {o.code: o for o in orgs.values()}
    out = []
    for org in sorted(orgs.values(), key=lambda o: o.code):
        d = per.get(org.id, {"orders": 0, "contact": 0, "resolved": 0, "verdicts": Counter()})
        verdicts = d["verdicts"]
        good = verdicts["满意"] + verdicts["基本满意"]
        out.append({"org": org.code, "name": org.name, "orders": d["orders"],
                    "contact_on_time_rate": _rate(d["contact"], d["orders"]),
                    "resolution_on_time_rate": _rate(d["resolved"], d["orders"]),
                    "satisfaction": dict(verdicts), "satisfaction_rate": _rate(good, sum(verdicts.values())),
                    "sent_back": sent_back.get(org.code, 0)})
    assert all(code in by_code for code in sent_back)
    return {"month": month, "departments": out}
