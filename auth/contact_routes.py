"""HTTP API of staff contact points and of the staff password reset.

- ``/api/v1/staff/me/contact``: a staff member's own name as residents see it, work mobile
  (verified by an SMS code: ``…/verify``, ``…/resend``) and WeCom user id.
- ``/api/v1/orgs/<code>/staff/<membership id>/contact``: the same, by the organisation's
  managers and admins for their staff (404 for anyone who may not see the organisation, 403
  for those who may see it but not manage its staff).
- ``/api/v1/auth/staff/password-reset`` and ``…/confirm``: a code by SMS to the verified work
  mobile; the same answer whoever asks.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow.validate import Length

from app.api import Blueprint, ErrorSchema, Schema, fields
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth import contact_points, password_reset
from auth.models import Account, Membership
from auth.object_types import register_all as register_object_types
from auth.permissions import require_org_role
from auth.principal import current_principal, require_staff
from auth.ratelimit import rate_limit, username_key
from auth.roles import STAFF_MANAGERS
from auth.visibility import visible_object

MANAGERS_VIA = ("member", "ancestor", "district")

register_object_types()

staff_me_blp = Blueprint("staff-me", __name__, url_prefix="/api/v1/staff/me",
                         description="A staff member's own contact points")
org_contacts_blp = Blueprint("org-staff-contacts", __name__, url_prefix="/api/v1/orgs/<code>/staff",
                             description="Contact points of an organisation's staff (its managers and admins)")
reset_blp = Blueprint("staff-password-reset", __name__, url_prefix="/api/v1/auth/staff/password-reset",
                      description="Staff password reset by a code sent to the verified work mobile")


class ContactSchema(Schema):
    display_name = fields.String(allow_none=True, metadata={"description": "as residents see it, e.g. 张师傅"})
    mobile = fields.String(allow_none=True, metadata={"description": "the work mobile (masked unless yours "
                                                                     "or your staff's)"})
    mobile_verified = fields.Boolean(required=True)
    wecom_userid = fields.String(allow_none=True, metadata={"description": "企业微信 user id"})


class ContactPutSchema(Schema):
    display_name = fields.String(allow_none=True, validate=Length(max=20))
    mobile = fields.String(allow_none=True, validate=Length(max=20), metadata={
        "description": "a new number is sent a 6-digit code by SMS; notices go to it once verified"})
    wecom_userid = fields.String(allow_none=True, validate=Length(max=64))


class VerificationCodeSchema(Schema):
    code = fields.String(required=True, validate=Length(min=1, max=12))


class ResetRequestSchema(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=64))


class ResetConfirmSchema(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=64))
    code = fields.String(required=True, validate=Length(min=1, max=12))
    new_password = fields.String(required=True, validate=Length(min=1, max=200))


def _err(blp: Blueprint, status: int, description: str):
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _me() -> Account:
    account = get_session().get(Account, current_principal().account_id)
    if account is None:
        raise ApiError("not_found")
    return account


@staff_me_blp.route("/contact")
class MyContact(MethodView):
    @require_staff
    @staff_me_blp.response(200, ContactSchema)
    def get(self):
        """Your contact points, in full."""
        return contact_points.view(contact_points.contact_of(get_session(), current_principal().account_id), full=True)

    @require_staff
    @rate_limit("contact")
    @staff_me_blp.arguments(ContactPutSchema)
    @staff_me_blp.response(200, ContactSchema)
    @_err(staff_me_blp, 422, "`validation_error` (a mobile that is not a mainland mobile, a WeCom id with "
                             "other characters...)")
    def put(self, args: dict[str, Any]):
        """Set your name as residents see it, work mobile (a code is sent to a new one) and WeCom id;
        a field left out is kept, null clears it."""
        session = get_session()
        contact = contact_points.update(session, clock=current_clock(), account=_me(),
                                        actor_account_id=current_principal().account_id, values=args)
        session.commit()
        return contact_points.view(contact, full=True)


@staff_me_blp.route("/contact/verify")
class VerifyMyMobile(MethodView):
    @require_staff
    @rate_limit("contact")
    @staff_me_blp.arguments(VerificationCodeSchema)
    @staff_me_blp.response(200, ContactSchema)
    @_err(staff_me_blp, 422, "`verification_code_invalid`: wrong, used, expired, or for another number")
    def post(self, args: dict[str, Any]):
        """Confirm your work mobile with the code it received."""
        session = get_session()
        contact = contact_points.verify_mobile(session, clock=current_clock(),
                                               account_id=current_principal().account_id, code=args["code"])
        session.commit()
        return contact_points.view(contact, full=True)


@staff_me_blp.route("/contact/resend")
class ResendMyCode(MethodView):
    @require_staff
    @rate_limit("contact")
    @staff_me_blp.response(202)
    @_err(staff_me_blp, 409, "`mobile_already_verified`")
    def post(self):
        """Send a new code to your (unverified) work mobile."""
        session = get_session()
        contact_points.resend(session, clock=current_clock(), account_id=current_principal().account_id)
        session.commit()


def _staff_member(code: str, membership_id: int) -> Account:
    session = get_session()
    org = require_org_role(session, current_principal(), code, STAFF_MANAGERS, via=MANAGERS_VIA)
    membership = session.get(Membership, membership_id)
    if membership is None or membership.organisation_id != org.id:
        raise ApiError("not_found")
    return membership.account


@org_contacts_blp.route("/<int:membership_id>/contact")
class StaffContactOfMember(MethodView):
    @visible_object("membership", "code", "membership_id")
    @require_staff
    @org_contacts_blp.response(200, ContactSchema)
    @_err(org_contacts_blp, 404, "Not your organisation's staff member")
    def get(self, code: str, membership_id: int):
        """A staff member's contact points, in full (the organisation's managers and admins)."""
        account = _staff_member(code, membership_id)
        return contact_points.view(contact_points.contact_of(get_session(), account.id), full=True)

    @visible_object("membership", "code", "membership_id")
    @require_staff
    @rate_limit("contact")
    @org_contacts_blp.arguments(ContactPutSchema)
    @org_contacts_blp.response(200, ContactSchema)
    @_err(org_contacts_blp, 404, "Not your organisation's staff member")
    def put(self, args: dict[str, Any], code: str, membership_id: int):
        """Set a staff member's name as residents see it, work mobile (a code is sent to it; the
        member confirms it) and WeCom id."""
        session = get_session()
        contact = contact_points.update(session, clock=current_clock(), account=_staff_member(code, membership_id),
                                        actor_account_id=current_principal().account_id, values=args)
        session.commit()
        return contact_points.view(contact, full=True)


@reset_blp.route("")
class PasswordReset(MethodView):
    @rate_limit("staff_login")
    @rate_limit("password_reset_user", key_func=username_key)
    @reset_blp.arguments(ResetRequestSchema)
    @reset_blp.response(202)
    def post(self, args: dict[str, Any]):
        """Ask for a code at the verified work mobile of ``username``. The answer is the same
        whether or not the user exists or has a verified mobile."""
        session = get_session()
        password_reset.request(session, clock=current_clock(), username=args["username"])
        session.commit()


@reset_blp.route("/confirm")
class PasswordResetConfirm(MethodView):
    @rate_limit("staff_login")
    @rate_limit("password_reset_user", key_func=username_key)
    @reset_blp.arguments(ResetConfirmSchema)
    @reset_blp.response(204)
    @_err(reset_blp, 422, "`verification_code_invalid` (wrong, used or expired; also an unknown user), "
                          "`password_too_weak`")
    def post(self, args: dict[str, Any]):
        """Set a new password with the code; every session of the account ends."""
        session = get_session()
        password_reset.confirm(session, clock=current_clock(), username=args["username"], code=args["code"],
                               new_password=args["new_password"])
        session.commit()


def blueprints() -> list[Blueprint]:
    return [staff_me_blp, org_contacts_blp, reset_blp]
