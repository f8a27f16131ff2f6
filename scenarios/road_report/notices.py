"""Public road information: closures, works and detours, published by 区交通委's staff.

Anyone reads them (no login). Only staff acting for 区交通委 in a publishing role write
them: publishing, residents get 403, staff of other organisations 404 (区交通委 is not theirs
to act for) or 403 (the district sees it but does not publish). A notice is public, so
withdrawing one (``road_notice`` in ``auth.visibility``) is 404 only for a notice that does not
exist (or is already withdrawn) and 403 for every signed-in caller who does not publish.
A notice is withdrawn, not deleted.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from auth.organisations import Organisation
from auth.permissions import org_by_code, reach, require_org_role
from auth.principal import Principal
from auth.visibility import register
from scenarios.road_report.models import Road, RoadNotice
from scenarios.road_report.policy import TRANSPORT
from scenarios.road_report.roads import road_by_code

PUBLISHERS = ("supervisor", "staff")


def _publisher(session: Session, principal: Principal) -> Organisation:
    if not principal.is_staff:
        raise ApiError("forbidden")
    return require_org_role(session, principal, TRANSPORT, PUBLISHERS, via={"member"})


def listing(session: Session, *, clock: Clock, road: str | None = None, active: bool = False) -> sa.Select:
    """Notices not withdrawn (of one road), newest first; ``active``: in effect today."""
    stmt = sa.select(RoadNotice).where(RoadNotice.withdrawn_at.is_(None))
    if road:
        stmt = stmt.join(Road, Road.id == RoadNotice.road_id).where(Road.code == road)
    if active:
        today = clock.now().astimezone(CST).date()
        stmt = stmt.where(RoadNotice.starts_on <= today, RoadNotice.ends_on >= today)
    return stmt.order_by(RoadNotice.starts_on.desc(), RoadNotice.id.desc())


def publish(session: Session, *, clock: Clock, principal: Principal, road: str, kind: str, text: str,
            starts_on: date, ends_on: date) -> RoadNotice:
    org = _publisher(session, principal)
    found = road_by_code(session, road)
    if found is None:
        raise ApiError("unknown_road", errors={"road": [f"没有编号为“{road}”的道路。"]})
    if ends_on < starts_on:
        raise ApiError("validation_error", errors={"to": ["结束日期不能早于开始日期。"]})
    if ends_on < clock.now().astimezone(CST).date():
        raise ApiError("validation_error", errors={"to": ["结束日期已过。"]})
    text = text.strip()
    if not text:
        raise ApiError("validation_error", errors={"text": ["不能为空。"]})
    notice = RoadNotice(road_id=found.id, kind=kind, text=text, starts_on=starts_on, ends_on=ends_on, org_id=org.id,
                        created_by_account_id=principal.account_id, created_at=clock.now(), updated_at=clock.now())
    session.add(notice)
    session.flush()
    return notice


def live_notice(session: Session, notice_id: Any) -> RoadNotice | None:
    notice = session.get(RoadNotice, notice_id) if isinstance(notice_id, int) else None
    return notice if notice is not None and notice.withdrawn_at is None else None


def _public(session: Session, principal: Principal, notice: RoadNotice) -> bool:
    return True


def register_object_types() -> None:
    register("road_notice", load=live_notice, visible=_public, description="a public road notice (anyone sees it)")


def withdraw(session: Session, *, clock: Clock, principal: Principal, notice_id: int) -> None:
    """Visible first (404 only when there is no such live notice), then the publishers (403)."""
    notice = live_notice(session, notice_id)
    if notice is None:
        raise ApiError("not_found")
    transport = org_by_code(session, TRANSPORT)
    if reach(principal, transport, session=session) != "member" or principal.role not in PUBLISHERS:
        raise ApiError("forbidden")
    notice.withdrawn_at = clock.now()
    session.flush()


def views(session: Session, notices: list[RoadNotice]) -> list[dict[str, Any]]:
    roads = {r.id: r for r in session.scalars(sa.select(Road).where(Road.id.in_({n.road_id for n in notices})))}
    orgs = {o.id: o for o in session.scalars(sa.select(Organisation).where(
        Organisation.id.in_({n.org_id for n in notices})))}
    return [{"id": n.id, "road": {"code": roads[n.road_id].code, "name": roads[n.road_id].name}, "kind": n.kind,
             "text": n.text, "starts_on": n.starts_on, "ends_on": n.ends_on,
             "publisher": {"code": orgs[n.org_id].code, "name": orgs[n.org_id].name}, "created_at": n.created_at}
            for n in notices]
