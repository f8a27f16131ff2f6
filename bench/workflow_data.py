"""Bulk ticket data for the workflow benchmarks (bench/endpoints.py, bench/workflow_bench.py).

Rows are inserted directly (not through the service, which would take minutes for 200,000
tickets) but look like what the service makes: open tickets with their SLA columns and,
when asked, their three timers (response levels 1 and 2, resolution).
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.db import Database
from app.places.models import Building, Community, ManagementAssignment
from auth.models import Account, Membership, Person
from auth.organisations import Organisation
from scenarios.engines.workflow.models import SlaPolicy, Ticket

SCENARIO = "property-repair"
CATEGORIES = ("水电", "门窗", "电梯", "公共设施", "管道疏通", "其他")
OPEN = ("submitted", "acknowledged", "assigned", "in_progress")


def policy_id(conn: Connection, now: datetime) -> int:
    """The scenario's active default policy (created as the service would)."""
    found = conn.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.scenario == SCENARIO, SlaPolicy.category.is_(None),
                                                     SlaPolicy.active.is_(True)))
    if found is not None:
        return found
    return conn.scalar(sa.insert(SlaPolicy).values(
        scenario=SCENARIO, category=None, response_minutes=30, resolution_minutes=1440, calendar="24x7",
        work_start_minute=540, work_end_minute=1020, active=True, created_at=now).returning(SlaPolicy.id))


def companies_with_communities(conn: Connection, n: int) -> list[tuple[int, int, int]]:
    """(company id, community id, building id) for ``n`` companies with a current assignment."""
    rows = conn.execute(
        sa.select(ManagementAssignment.company_id, Community.id, sa.func.min(Building.id))
        .join(Community, Community.id == ManagementAssignment.community_id)
        .join(Building, Building.community_id == Community.id)
        .where(ManagementAssignment.valid_to.is_(None))
        .group_by(ManagementAssignment.company_id, Community.id)
        .order_by(ManagementAssignment.company_id, Community.id)).all()
    seen: dict[int, tuple[int, int, int]] = {}
    for company, community, building in rows:
        seen.setdefault(company, (company, community, building))
    return list(seen.values())[:n]


def manager_account(conn: Connection, company_id: int, username: str, password_hash: str) -> int:
    account_id = conn.scalar(sa.select(Account.id).where(Account.username == username))
    if account_id is None:
        account_id = conn.scalar(sa.insert(Account).values(kind="staff", username=username, password_hash=password_hash,
                                                           status="active",
                                                           created_at=datetime.now(UTC), updated_at=datetime.now(UTC))
                                 .returning(Account.id))
        conn.execute(sa.insert(Membership).values(account_id=account_id, organisation_id=company_id, role="manager",
                                                  status="active", created_at=datetime.now(UTC),
                                                  updated_at=datetime.now(UTC)))
    return account_id


def reporter_account(conn: Connection, openid: str) -> int:
    account_id = conn.scalar(sa.select(Account.id).where(Account.kind == "dev", Account.openid == openid))
    if account_id is None:
        now = datetime.now(UTC)
        person_id = conn.scalar(sa.insert(Person).values(real_name_level="none", created_at=now, updated_at=now)
                                .returning(Person.id))
        account_id = conn.scalar(sa.insert(Account).values(kind="dev", openid=openid, person_id=person_id,
                                                           status="active", created_at=now,
                                                           updated_at=now).returning(Account.id))
    return account_id


def ticket_rows(*, n: int, org_id: int, community_id: int, building_id: int, reporter_id: int, policy: int,
                now: datetime, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` open tickets created over the last two days; deadlines spread around ``now``."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        created = now - timedelta(minutes=rng.randrange(0, 48 * 60))
        status = rng.choice(OPEN)
        response_due = created + timedelta(minutes=30)
        resolution_due = created + timedelta(hours=24)
        answered = status != "submitted"
        rows.append({
            "scenario": SCENARIO, "org_id": org_id, "reporter_account_id": reporter_id, "community_id": community_id,
            "building_id": building_id, "room": "101", "category": rng.choice(CATEGORIES), "text": "bench",
            "status": status, "is_open": True, "priority": "normal", "details": {}, "moderation_state": "visible",
            "sla_policy_id": policy, "response_minutes": 30, "resolution_minutes": 1440, "calendar": "24x7",
            "first_response_at": created + timedelta(minutes=rng.randrange(1, 60)) if answered else None,
            "response_due_at": response_due, "resolution_due_at": resolution_due,
            "due_at": resolution_due if answered else response_due, "response_breached": False,
            "resolution_breached": False, "escalation_level": 0, "reopen_count": 0, "version": 1,
            "created_at": created, "updated_at": created,
        })
    return rows


def insert_tickets(conn: Connection, rows: list[dict[str, Any]], chunk: int = 2000) -> None:
    for i in range(0, len(rows), chunk):
        conn.execute(sa.insert(Ticket), rows[i:i + chunk])
    conn.execute(sa.text("UPDATE wf_tickets SET number = 'BENCH' || CAST(id AS VARCHAR(20)) WHERE number IS NULL"))


def load_pg_tickets_with_timers(db: Database, *, total: int, due: int, org_id: int, community_id: int,
                                building_id: int, reporter_id: int, policy: int) -> None:
    """PostgreSQL, in SQL: ``total`` open submitted tickets, each with its three timers; the
    response target of the first ``due`` has just passed, the others are hours away."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO wf_tickets (scenario, number, org_id, reporter_account_id, community_id, building_id, room,
                category, text, status, is_open, priority, details, moderation_state, sla_policy_id,
                response_minutes, resolution_minutes, calendar, response_due_at, resolution_due_at, due_at,
                response_breached, resolution_breached, escalation_level, reopen_count, version, created_at,
                updated_at)
            SELECT :scenario, 'BENCH-' || g, :org, :reporter, :community, :building, '101', '水电', 'bench',
                'submitted', true, 'normal', '{}', 'visible', :policy, 30, 1440, '24x7',
                c + interval '30 minutes', c + interval '24 hours', c + interval '30 minutes',
                false, false, 0, 0, 1, c, c
            FROM generate_series(1, :total) AS g,
                 LATERAL (SELECT CASE WHEN g <= :due THEN now() - interval '30 minutes' - g * interval '10 ms'
                                      ELSE now() + g * interval '100 ms' END AS c) AS t
        """), {"scenario": SCENARIO, "org": org_id, "reporter": reporter_id, "community": community_id,
               "building": building_id, "policy": policy, "total": total, "due": due})
        conn.execute(sa.text("""
            INSERT INTO timers (subject_type, subject_id, kind, level, due_at, state, attempts, created_at)
            SELECT 'wf_ticket', CAST(t.id AS VARCHAR(20)), k.kind, k.level,
                   t.created_at + k.after, 'pending', 0, t.created_at
            FROM wf_tickets t,
                 (VALUES ('workflow.response', 1, interval '30 minutes'),
                         ('workflow.response', 2, interval '60 minutes'),
                         ('workflow.resolution', 1, interval '24 hours')) AS k(kind, level, after)
            WHERE t.number LIKE 'BENCH-%'
        """))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE wf_tickets")
        conn.exec_driver_sql("VACUUM ANALYZE timers")


def company_code(conn: Connection, org_id: int) -> str:
    return conn.scalar(sa.select(Organisation.code).where(Organisation.id == org_id))


def queue_world(conn: Connection, now: datetime, *, manager: str, password_hash: str = "-",  # noqa: S107 (no password)
                reporter: str = "bench-reporter") -> tuple[tuple[int, int, int], int]:
    """Four companies with 5,000 open tickets each; the first company's manager ``manager``.
    Returns (the first company's (org id, community id, building id), the manager's account id)."""
    policy = policy_id(conn, now)
    (a, *others) = companies_with_communities(conn, 4)
    reporter_id = reporter_account(conn, reporter)
    manager_id = manager_account(conn, a[0], manager, password_hash)
    for i, (org_id, community_id, building_id) in enumerate((a, *others)):
        insert_tickets(conn, ticket_rows(n=5000, org_id=org_id, community_id=community_id, building_id=building_id,
                                         reporter_id=reporter_id, policy=policy, now=now, seed=1 if i == 0 else 9 + i))
    return a, manager_id
