"""Contracts and entries under real concurrency, with real commits (PostgreSQL, through gunicorn:
3 worker processes × 4 threads).

- 20 residents sign for the same space's night hours at once: one contract, 19 × 409
  ``contract_overlap`` (the space row is locked, then overlap is checked).
- 12 residents sign for a project of 2 spaces without naming one: two contracts on two spaces,
  10 × 409 ``no_shared_space``.
- A camera's reading of one plate sent 10 times at once: one stay, every answer 200, nine of
  them the same entry (``duplicate``): the partial unique index on a plate inside a lot decides.
The world is built on a reference organisation (committed tests add no reference rows).
"""
from __future__ import annotations

import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from auth.devices import create_device
from auth.organisations import Organisation
from scenarios.engines.telemetry import service as telemetry
from scenarios.parking.config import TELEMETRY
from scenarios.parking.models import PkContract, PkLot, PkProject, PkSpace, PkStay
from tests.engines.ledger.test_race import _race
from tests.support.database import backend
from tests.support.factories import basic, bearer, make_resident, token_for
from tests.support.gunicorn import post_json, serve

OPERATOR = "310116-bureau-transport"
pytestmark = [pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes"),
              pytest.mark.slow]


@pytest.fixture
def server(committed_db, tmp_path):
    with serve(committed_db.engine.url.render_as_string(hide_password=False), tmp_path / "gunicorn.log") as base:
        yield base


def _world(db, app, *, residents: int, spaces: int) -> tuple[str, str, list[dict[str, str]], dict[str, str]]:
    """A shared lot with a project of ``spaces`` spaces and a camera; (lot code, project code,
    residents' headers, the camera's headers)."""
    clock = SystemClock()
    tag = uuid.uuid4().hex[:6]
    stand_in = Flask("parking-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        org = s.scalar(sa.select(Organisation).where(Organisation.code == OPERATOR))
        lot = PkLot(code=f"race-{tag}", name="竞争停车场", operator_id=org.id, kind="shared", address="金山区",
                    lat=30.74, lon=121.34, capacity=100, reservable=0, created_at=clock.now(),
                    tariff={"first_hour_fen": 500, "half_hour_fen": 250, "daily_cap_fen": 2000, "free_minutes": 15})
        s.add(lot)
        s.flush()
        project = PkProject(code=f"race-{tag}", name="竞争共享", lot_id=lot.id, start_minute=19 * 60,
                            end_minute=7 * 60, monthly_fee_fen=0)
        s.add(project)
        s.flush()
        s.add_all([PkSpace(lot_id=lot.id, label=f"S{k:02d}", project_id=project.id) for k in range(1, spaces + 1)])
        camera, secret = create_device(s, org=org, kind="camera", name="竞争入口")
        telemetry.bind(s, config=TELEMETRY, kind="plate", device_id=camera.id, subject_id=lot.id, clock=clock)
        headers = [bearer(token_for(s, clock, make_resident(s, name=f"车主{i}"))) for i in range(residents)]
        return lot.code, project.code, headers, basic(camera.uid, secret)


def _next_month() -> str:
    today = SystemClock().now().date()
    return f"{today.year + (today.month == 12)}-{today.month % 12 + 1:02d}"


def test_one_contract_for_a_space_raced_by_twenty(committed_db, _app, server):
    _, project, residents, _ = _world(committed_db, _app, residents=20, spaces=2)
    body = {"project": project, "month": _next_month(), "space": "S01"}
    answers = _race(20, lambda i: post_json(f"{server}/api/v1/parking/contracts",
                                            {**body, "plate": f"沪A{i:05d}"}, residents[i]))
    assert answers == Counter({(201, None): 1, (409, "contract_overlap"): 19}), answers
    with committed_db.transaction(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PkContract).join(
            PkProject, PkProject.id == PkContract.project_id).where(PkProject.code == project)) == 1


def test_two_spaces_two_contracts(committed_db, _app, server):
    _, project, residents, _ = _world(committed_db, _app, residents=12, spaces=2)
    body = {"project": project, "month": _next_month()}
    answers = _race(12, lambda i: post_json(f"{server}/api/v1/parking/contracts",
                                            {**body, "plate": f"沪B{i:05d}"}, residents[i]))
    assert answers == Counter({(201, None): 2, (409, "no_shared_space"): 10}), answers
    with committed_db.transaction(write=False) as s:
        spaces = s.scalars(sa.select(PkContract.space_id).join(PkProject, PkProject.id == PkContract.project_id)
                           .where(PkProject.code == project)).all()
    assert len(set(spaces)) == 2


def test_a_plate_read_ten_times_at_once_is_one_entry(committed_db, _app, server):
    lot, _, _, camera = _world(committed_db, _app, residents=0, spaces=1)
    answers = _race(10, lambda i: post_json(f"{server}/api/v1/parking/lots/{lot}/entries", {"plate": "沪C12345"},
                                            camera))
    assert answers == Counter({(200, None): 10}), answers
    with committed_db.transaction(write=False) as s:
        stays = s.scalars(sa.select(PkStay.status).join(PkLot, PkLot.id == PkStay.lot_id)
                          .where(PkLot.code == lot)).all()
    assert stays == ["inside"]
