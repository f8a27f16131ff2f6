"""online-consult's own actions on a consultation, transitions of its table (``TABLE``) made
through the engine's ``changes.perform`` (trail, version, SLA and notices are the engine's):

- ``renew``: a doctor of the hospital renews the prescription — structured items (medicine,
  dose, quantity, days), each within its medicine's limits (``catalogue.MEDICINES``:
  ``unknown_medicine``, ``renewal_beyond_limit`` 422 naming the item's field); the renewal is
  kept encrypted and carries a single-use QR pass of purpose ``prescription`` that a pharmacy
  scanner verifies once (``POST /api/v1/qr/verify``). The consultation is resolved.
- ``come_in``: the doctor asks the patient to come to the clinic instead (a note); resolved.
Either decides the consultation once (``consult_decided`` 409 after); the patient is told
(``consult_answered``, no health data in it). The exchange before is the ticket's thread
(``comments``: the engine's).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.notify.service import AUTO, Recipient, enqueue
from auth.audit import record_unmasked_read
from auth.organisations import Organisation
from auth.principal import Principal
from qr.models import QrPass
from qr.passes import issue_pass, pass_token
from scenarios.engines.workflow.access import locked
from scenarios.engines.workflow.changes import perform
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket, TicketEvent
from scenarios.engines.workflow.transitions import ASSIGNEE, Transition, TransitionTable, default_table
from scenarios.online_consult.catalogue import MEDICINES, PASS_VALID
from scenarios.online_consult.models import OcConsult, OcRenewal

DOCTORS = ("doctor",)
DISPATCHERS = ("admin", "department_head")
PURPOSE = "prescription"
OPEN = frozenset({"submitted", "acknowledged", "assigned", "in_progress", "reopened"})


def _table() -> TransitionTable:
    base = default_table(dispatchers=DISPATCHERS, handlers=DOCTORS)
    deciders = frozenset({*DOCTORS, ASSIGNEE})
    return TransitionTable([*base.by_action.values(),
                            Transition("renew", OPEN, "resolved", deciders, responds=True),
                            Transition("come_in", OPEN, "resolved", deciders, responds=True)])


TABLE = _table()


def checked_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The renewal's items, each within its medicine's limits (the 422 names the item's field)."""
    for i, item in enumerate(items):
        limit = MEDICINES.get(item["medicine"])
        if limit is None:
            raise ApiError("unknown_medicine", errors={f"items.{i}.medicine": [
                f"“{item['medicine']}”不能在线续方，请到医院就诊。"]})
        if item["days"] > limit.max_days:
            raise ApiError("renewal_beyond_limit", errors={f"items.{i}.days": [
                f"{item['medicine']}每次最多开 {limit.max_days} 天。"]})
        if item["quantity"] > limit.max_quantity:
            raise ApiError("renewal_beyond_limit", errors={f"items.{i}.quantity": [
                f"{item['medicine']}每次最多开 {limit.max_quantity} 盒。"]})
    return items


def _decide(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            action: str, note: str | None, expected_version: int | None, outcome: str,
            apply_extra: Any = None) -> Ticket:
    ticket, access = locked(session, principal, config, ticket_id)
    consult = session.get(OcConsult, ticket.id)

    def check(t: Ticket, now: datetime) -> None:
        if consult is None or consult.outcome is not None:
            raise ApiError("consult_decided")

    def apply(t: Ticket, now: datetime) -> None:
        t.resolved_at = now
        consult.outcome = outcome
        if apply_extra is not None:
            apply_extra(t, now)

    def after(t: Ticket, event: TicketEvent, now: datetime) -> None:
        org = session.get(Organisation, t.org_id)
        enqueue(session, event_key=f"oc:{t.id}:{outcome}", template="consult_answered",
                recipients=[Recipient.account(t.reporter_account_id)], clock=clock, channel=AUTO,
                payload={"ticket_id": t.id, "hospital": org.name, "at": now.isoformat(),
                         "outcome": {"renewed": "已续方", "come_in": "请到院就诊"}[outcome]})

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access, action=action,
            note=note, expected_version=expected_version, check=check, apply=apply, after=after,
            data={"outcome": outcome})
    return ticket


def renew(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
          items: list[dict[str, Any]], note: str | None = None, expected_version: int | None = None) -> Ticket:
    note = config.check_text(note, "note", required=False) or "已续方"

    def issue(t: Ticket, now: datetime) -> None:
        checked_items(items)
        row, _ = issue_pass(session, purpose=PURPOSE, ref=f"{PURPOSE}:{t.id}", holder_type="person",
                            holder_id=t.subject_person_id, single_use=True, valid_until=now + PASS_VALID, clock=clock)
        session.add(OcRenewal(ticket_id=t.id, doctor_account_id=principal.account_id, pass_id=row.id,
                              items_json=json.dumps(items, ensure_ascii=False), created_at=now))

    return _decide(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id, action="renew",
                   note=note, expected_version=expected_version, outcome="renewed", apply_extra=issue)


def come_in(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
            note: str, expected_version: int | None = None) -> Ticket:
    note = config.check_text(note, "note")
    return _decide(session, clock=clock, principal=principal, config=config, ticket_id=ticket_id, action="come_in",
                   note=note, expected_version=expected_version, outcome="come_in")


def prescription(session: Session, *, clock: Clock, principal: Principal, ticket: Ticket,
                 consult: OcConsult) -> dict[str, Any]:
    """The decision as its patient sees it: the outcome and, once renewed, the items and the pass
    token to show at the pharmacy (while it can still be used). Staff who see the ticket: 403."""
    if not principal.is_resident or ticket.reporter_account_id != principal.account_id:
        raise ApiError("forbidden")
    answer: dict[str, Any] = {"outcome": consult.outcome, "items": None, "valid_until": None, "used": False,
                              "pass": None}
    renewal = session.query(OcRenewal).filter_by(ticket_id=ticket.id).one_or_none()
    if renewal is not None:
        row = session.get(QrPass, renewal.pass_id)
        usable = row.revoked_at is None and row.valid_until > clock.now() and row.used_at is None
        answer.update(items=renewal.items, valid_until=row.valid_until, used=row.used_at is not None,
                      **{"pass": {"token": pass_token(row, clock=clock)} if usable else None})
    return answer


READERS = ("doctor", "admin", "department_head")
"""The hospital's staff who read a consultation's request (each read audited)."""
READ_REASON = "互联网医院复诊：查看病情与续方申请"


def reads_request(principal: Principal, ticket: Ticket) -> bool:
    """Staff who may read a consultation's request: the hospital's ``READERS``."""
    return principal.org_id == ticket.org_id and principal.role in READERS


def read_request(session: Session, *, clock: Clock, principal: Principal, ticket: Ticket, consult: OcConsult,
                 reason: str = READ_REASON) -> OcConsult:
    """The symptoms and the prescription asked for: the patient as they are; the hospital's
    readers (``READERS``; other staff who see the ticket: 403) after the audit entry is written,
    with ``reason`` (the console asks the doctor for one; the API records its fixed purpose)."""
    if principal.is_staff:
        if not reads_request(principal, ticket):
            raise ApiError("forbidden")
        record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=consult.patient_person_id,
                             fields=["consult_request"], reason=reason, action="read_consult")
    return consult
