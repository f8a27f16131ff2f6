"""The approval engine's own test scenario (``ap-test``), registered only in tests.

A "permit" application: the form names the reviewing organisation by code (``org``), a
``purpose`` and a ``household`` size. Eligibility: the applicant is real-name verified, and a
household is at most 6. The organisation's managers review within 16 working hours (two
working days on the platform calendar). ``on_decision`` and ``on_resubmit`` stamp the
scenario's side (``DECIDED``), as a scenario would act on an approval or a corrected form.
"""
from __future__ import annotations

import sqlalchemy as sa
from marshmallow.validate import Length, Range
from sqlalchemy.orm import Session

from app.api import Schema, fields
from app.errors import ApiError
from auth.models import Person
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.approval.config import ApprovalConfig, Refusal, approval_scenario

SLUG = "ap-test"
BASE = f"/api/v1/{SLUG}"
DECIDED: list[tuple[int, str]] = []


class ApTestFormSchema(Schema):
    org = fields.String(required=True, validate=Length(min=1, max=40))
    purpose = fields.String(required=True, validate=Length(min=1, max=100))
    household = fields.Integer(required=True, validate=Range(min=1, max=100))


def reviewer_for(session: Session, *, principal: Principal, form: dict) -> int:
    org_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == form["org"]))
    if org_id is None:
        raise ApiError("validation_error", errors={"form.org": ["没有这个组织"]})
    return org_id


def verified(session: Session, *, principal: Principal, form: dict) -> Refusal | None:
    level = session.scalar(sa.select(Person.real_name_level).where(Person.id == principal.person_id))
    return None if level not in (None, "none") else Refusal("not_verified", "申请人须先完成实名认证", "applicant")


def small_household(session: Session, *, principal: Principal, form: dict) -> Refusal | None:
    return None if form["household"] <= 6 else Refusal("household_too_large", "家庭人数不能超过 6 人", "form.household")


def on_decision(session: Session, *, clock, application, action: str) -> None:
    DECIDED.append((application.id, action))


def on_resubmit(session: Session, *, clock, application, form: dict) -> None:
    DECIDED.append((application.id, f"resubmit:{form['purpose']}"))


CONFIG = ApprovalConfig(slug=SLUG, title_zh="审批引擎测试", form_schema=ApTestFormSchema, reviewer_for=reviewer_for,
                        rules=(verified, small_household), reviewer_roles=("manager",), review_hours=16,
                        on_decision=on_decision, on_resubmit=on_resubmit,
                        notify_channel="log")

SCENARIO = approval_scenario(CONFIG, title_en="Approval engine test scenario", seed_refs=("test",),
                             roles=("resident", "property_company:manager"))
