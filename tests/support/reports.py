"""Helpers of the city-report and road-report tests: people on the reference organisations.

``people(session, clock, staff={name: (org code, role)}, residents=[...])`` makes staff
memberships in the seeded organisations (区城运中心, bureaus, towns) and residents, in the
test's transaction; ``wf.token(name)`` gives their bearer header (``tests.support.workflow.WF``).
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.storage.models import Upload
from auth.organisations import Organisation
from tests.support.factories import make_resident, make_staff
from tests.support.workflow import WF

CITY_OPS = "310116-bureau-city-ops"
GREENING = "310116-bureau-greening"
TRANSPORT = "310116-bureau-transport"
ECOLOGY = "310116-bureau-ecology"
SHIHUA = "310116001"  # 石化街道, centre 30.7145, 121.3399
SHANYANG = "310116113"  # 山阳镇, centre 30.763, 121.3518
FENGJING = "310116102"  # 枫泾镇
DISTRICT = "310116"
NEAR_SHIHUA = {"lat": 30.7153, "lon": 121.3427}  # cell centre 30.715, 121.345


def org(session, code: str) -> Organisation:
    return session.scalar(sa.select(Organisation).where(Organisation.code == code))


def people(session, clock, *, staff: dict[str, tuple[str, str]], residents: list[str]) -> WF:
    wf = WF(session=session, clock=clock, world=None)
    for name, (code, role) in staff.items():
        wf.orgs[name] = org(session, code)
        wf.accounts[name] = make_staff(session, wf.orgs[name], role)
    for name in residents:
        wf.accounts[name] = make_resident(session, name=f"测试{name}", phone="13912345678")
    session.commit()
    return wf


def photo(wf: WF, owner: str) -> str:
    """An upload row of ``owner`` (no file: moderation and claiming only read the row)."""
    public_id = uuid.uuid4().hex[:22]
    wf.session.add(Upload(public_id=public_id, owner_account_id=wf.id(owner), sha256="a" * 64,
                          content_type="image/jpeg", width=10, height=10, bytes=100, thumb_sha256="b" * 64,
                          thumb_content_type="image/jpeg", created_at=wf.clock.now()))
    wf.session.commit()
    return public_id


def post(client, wf: WF, who: str, path: str, body: dict[str, Any] | None = None, *, expect: int = 200,
         **headers: str) -> Any:
    resp = client.post(path, json=body or {}, headers={**wf.token(who), **headers})
    assert resp.status_code == expect, (path, resp.get_json())
    return resp.get_json()


def get(client, wf: WF, who: str | None, path: str, *, expect: int = 200, **params: Any) -> Any:
    resp = client.get(path, headers=wf.token(who) if who else {}, query_string=params)
    assert resp.status_code == expect, (path, resp.get_json())
    return resp.get_json()


def messages(session, ticket_id: int, template: str | None = None) -> list[OutboxMessage]:
    session.expire_all()
    stmt = sa.select(OutboxMessage).where(OutboxMessage.event_key.like(f"wf:{ticket_id}:%"))
    if template:
        stmt = stmt.where(OutboxMessage.template == template)
    return list(session.scalars(stmt.order_by(OutboxMessage.id)))
