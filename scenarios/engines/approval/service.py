"""State changes of applications: submit (eligibility first), ask for more, resubmit, approve,
reject with reasons, withdraw; and the reviewer's deadline.

Each change is a compare-and-set on the expected state (two reviewers deciding at once: one
decision, the other 409 ``application_state_changed``), leaves an ``ap_decisions`` row, tells
the applicant through the outbox and re-arms or cancels the deadline timer in the same
transaction. The deadline is ``review_hours`` of working time on the platform calendar, counted
afresh whenever the application comes (back) to the reviewer.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import timers
from app.api import flatten_messages
from app.calendar import business_calendar
from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from app.notify.service import Notice, Recipient, enqueue_many
from auth.principal import Principal
from scenarios.engines.approval.config import ApprovalConfig, Refusal
from scenarios.engines.approval.models import SUBJECT, ApApplication, ApDecision

REVIEW_DUE = "approval.review_due"
OUTCOME_ZH = {"approve": "已批准", "reject": "未通过", "ask_more": "请补充材料"}


def load_form(config: ApprovalConfig, form: Any) -> dict:
    try:
        return config.form_schema().load(form or {})
    except ma.ValidationError as exc:
        raise ApiError("validation_error", errors=flatten_messages(exc.messages, "form")) from exc


def refusals(session: Session, config: ApprovalConfig, *, principal: Principal, form: dict) -> list[Refusal]:
    """Every eligibility rule that fails (all of them, so the applicant learns everything at once)."""
    found = [rule(session, principal=principal, form=form) for rule in config.rules]
    return [r for r in found if r is not None]


def check_eligible(session: Session, config: ApprovalConfig, *, principal: Principal, form: dict) -> None:
    failed = refusals(session, config, principal=principal, form=form)
    if failed:
        errors: dict[str, list[str]] = {}
        for r in failed:
            errors.setdefault(r.field, []).append(r.message)
        raise ApiError("not_eligible", errors=errors,
                       detail={"reasons": [{"reason": r.reason, "message": r.message} for r in failed]})


def _arm_deadline(session: Session, config: ApprovalConfig, application: ApApplication, clock: Clock) -> None:
    due = business_calendar(session).add(clock.now(), config.review_hours * 3600)
    application.review_due_at = due
    application.overdue = False
    timers.schedule(session, subject_type=SUBJECT, subject_id=application.id, kind=REVIEW_DUE, due_at=due)


def _record(session: Session, application: ApApplication, *, action: str, before: str | None, clock: Clock,
            account_id: int | None, reasons: list | None = None, note: str | None = None) -> None:
    session.add(ApDecision(application_id=application.id, action=action, from_state=before,
                           to_state=application.state, account_id=account_id, reasons=list(reasons or ()),
                           note=note, at=clock.now()))


def create(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig, form: Any,
           subject_type: str | None = None, subject_id: str | int | None = None) -> ApApplication:
    """An application, after its form loads and every eligibility rule passes; the reviewing
    organisation's deadline starts."""
    if principal.kind not in config.applicant_kinds:
        raise ApiError("forbidden")
    loaded = load_form(config, form)
    check_eligible(session, config, principal=principal, form=loaded)
    org_id = config.reviewer_for(session, principal=principal, form=loaded)
    now = clock.now()
    application = ApApplication(
        scenario=config.slug, applicant_account_id=principal.account_id, applicant_person_id=principal.person_id,
        org_id=org_id, subject_type=subject_type, subject_id=None if subject_id is None else str(subject_id),
        form=config.form_schema().dump(loaded), state="submitted", reasons=[], created_at=now, updated_at=now)
    session.add(application)
    session.flush()
    _arm_deadline(session, config, application, clock)
    _record(session, application, action="submit", before=None, clock=clock, account_id=principal.account_id)
    return application


def _cas(session: Session, application: ApApplication, *, expected: tuple[str, ...], to: str, clock: Clock,
         **values: Any) -> str:
    before = application.state
    changed = session.execute(
        sa.update(ApApplication).where(ApApplication.id == application.id, ApApplication.state.in_(expected))
        .values(state=to, updated_at=clock.now(), **values).execution_options(synchronize_session=False))
    session.refresh(application)
    if changed.rowcount != 1:
        raise ApiError("application_state_changed", detail={"state": application.state})
    return before


def is_reviewer(principal: Principal, config: ApprovalConfig, application: ApApplication) -> bool:
    return (principal.is_staff and principal.org_id == application.org_id
            and principal.role in config.reviewer_roles)


def _tell_applicant(session: Session, config: ApprovalConfig, application: ApApplication, *, action: str,
                    clock: Clock) -> None:
    payload = {"application_id": application.id, "application_no": f"AP{application.id:08d}",
               "scenario": application.scenario, "title": config.title_zh[:20], "outcome": OUTCOME_ZH[action],
               "note": (application.note or "；".join(r.get("message", "") for r in application.reasons))[:20],
               "at": clock.now().astimezone(CST).isoformat()}
    notice = Notice(f"approval.{action}:{application.id}:{int(clock.now().timestamp())}", "application_decided",
                    (Recipient.account(application.applicant_account_id),), payload, channel=config.notify_channel)
    enqueue_many(session, [notice], clock=clock)


def _decide(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig,
            application: ApApplication, action: str, to: str, reasons: list | None = None,
            note: str | None = None) -> ApApplication:
    if not is_reviewer(principal, config, application):
        raise ApiError("forbidden")
    values: dict[str, Any] = {"note": note, "reasons": list(reasons or ())}
    if to in ("approved", "rejected"):
        values |= {"decided_at": clock.now(), "decided_by_account_id": principal.account_id}
    before = _cas(session, application, expected=("submitted",), to=to, clock=clock, **values)
    timers.cancel(session, subject_type=SUBJECT, subject_id=application.id, kind=REVIEW_DUE)
    _record(session, application, action=action, before=before, clock=clock, account_id=principal.account_id,
            reasons=reasons, note=note)
    if config.on_decision is not None:
        config.on_decision(session, clock=clock, application=application, action=action)
    _tell_applicant(session, config, application, action=action, clock=clock)
    return application


def approve(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig,
            application: ApApplication, note: str | None = None, **_: Any) -> ApApplication:
    return _decide(session, clock=clock, principal=principal, config=config, application=application,
                   action="approve", to="approved", note=note)


def reject(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig,
           application: ApApplication, reasons: list[dict], note: str | None = None, **_: Any) -> ApApplication:
    return _decide(session, clock=clock, principal=principal, config=config, application=application,
                   action="reject", to="rejected", reasons=reasons, note=note)


def ask_more(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig,
             application: ApApplication, note: str, **_: Any) -> ApApplication:
    """The reviewer asks for more: the clock stops until the applicant resubmits."""
    return _decide(session, clock=clock, principal=principal, config=config, application=application,
                   action="ask_more", to="more_info", note=note)


def resubmit(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig,
             application: ApApplication, form: dict, **_: Any) -> ApApplication:
    """The applicant answers with a corrected form (loaded and checked again, its reviewer named
    again from it); the deadline restarts; the scenario's ``on_resubmit`` follows the new form."""
    if principal.account_id != application.applicant_account_id or not principal.is_resident:
        raise ApiError("forbidden")
    loaded = load_form(config, form)
    check_eligible(session, config, principal=principal, form=loaded)
    org_id = config.reviewer_for(session, principal=principal, form=loaded)
    before = _cas(session, application, expected=("more_info",), to="submitted", clock=clock,
                  form=config.form_schema().dump(loaded), org_id=org_id)
    if config.on_resubmit is not None:
        config.on_resubmit(session, clock=clock, application=application, form=loaded)
    _arm_deadline(session, config, application, clock)
    _record(session, application, action="resubmit", before=before, clock=clock, account_id=principal.account_id)
    return application


def withdraw(session: Session, *, clock: Clock, principal: Principal, config: ApprovalConfig,
             application: ApApplication, **_: Any) -> ApApplication:
    if principal.account_id != application.applicant_account_id or not principal.is_resident:
        raise ApiError("forbidden")
    before = _cas(session, application, expected=("submitted", "more_info"), to="withdrawn", clock=clock)
    timers.cancel(session, subject_type=SUBJECT, subject_id=application.id, kind=REVIEW_DUE)
    _record(session, application, action="withdraw", before=before, clock=clock, account_id=principal.account_id)
    if config.on_decision is not None:
        config.on_decision(session, clock=clock, application=application, action="withdraw")
    return application


def mark_overdue(session: Session, application_id: int, *, clock: Clock, channel: str = "auto") -> bool:
    """The deadline passed with the application still waiting: flag it, record it and remind the
    reviewing organisation (once; the flag clears when the application comes back)."""
    changed = session.execute(
        sa.update(ApApplication).where(ApApplication.id == application_id, ApApplication.state == "submitted",
                                       ApApplication.overdue.is_(False))
        .values(overdue=True).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        return False
    application = session.get(ApApplication, application_id)
    session.refresh(application)
    _record(session, application, action="overdue", before="submitted", clock=clock, account_id=None)
    payload = {"application_id": application.id, "application_no": f"AP{application.id:08d}",
               "ticket_no": f"AP{application.id:08d}", "scenario": application.scenario, "note": "审核已超过期限",
               "at": clock.now().astimezone(CST).isoformat()}
    enqueue_many(session, [Notice(f"approval.overdue:{application.id}:{int(application.review_due_at.timestamp())}",
                                  "application_review_overdue", (Recipient("org", application.org_id),), payload,
                                  channel=channel)], clock=clock)
    return True


def history(session: Session, application: ApApplication) -> list[ApDecision]:
    return list(session.scalars(sa.select(ApDecision).where(ApDecision.application_id == application.id)
                                .order_by(ApDecision.id)))
