"""Identity endpoints: logins and tokens, the resident's own data, staff, devices, audit."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request
from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api import Blueprint, ErrorSchema, PageArgs, page_of, paginate
from app.config import Settings
from app.context import current_clock, current_settings
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth import accounts, devices, erasure, relations, residences, staff, staff_admin, tokens
from auth.audit import entries as audit_entries
from auth.audit import record_unmasked_read, require_reason
from auth.models import Account, Membership, Person
from auth.object_types import register_all as register_object_types
from auth.organisations import Organisation
from auth.permissions import require_org_role
from auth.principal import (
    SECURITY_SCHEMES,
    Principal,
    current_principal,
    require_device,
    require_resident,
    require_staff,
)
from auth.providers.suishenban import SuishenbanClient
from auth.providers.wechat import WechatClient
from auth.ratelimit import rate_limit, staff_member_key
from auth.reveal import reveal_residence
from auth.roles import STAFF_MANAGERS
from auth.schemas import (
    AuditEntrySchema,
    AuditQuerySchema,
    CodeSchema,
    DeviceCreatedSchema,
    DeviceCreateSchema,
    DevicePatchSchema,
    DeviceSchema,
    DeviceWhoAmISchema,
    DevLoginSchema,
    InPersonCheckSchema,
    LogoutSchema,
    MembershipPatchSchema,
    MembershipSchema,
    MePatchSchema,
    MeSchema,
    PasswordChangeSchema,
    RefreshSchema,
    RelationCreateSchema,
    RelationDecisionSchema,
    RelationListSchema,
    RelationSchema,
    ResidenceClaimSchema,
    ResidenceListSchema,
    ResidenceQuerySchema,
    ResidenceSchema,
    ResidentLoginSchema,
    RevealSchema,
    ReviewSchema,
    StaffInviteResultSchema,
    StaffInviteSchema,
    StaffLoginResultSchema,
    StaffLoginSchema,
    StaffMeSchema,
    StaffRelationQuerySchema,
    StaffRelationSchema,
    SwitchOrgSchema,
    TokenSchema,
)
from auth.visibility import visible_object

register_object_types()

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Logins and tokens")
dev_blp = Blueprint("auth_dev", __name__, url_prefix="/api/v1/auth/dev", description="Development login")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The resident's own data")
orgs_blp = Blueprint("orgs", __name__, url_prefix="/api/v1/orgs/<code>",
                     description="An organisation's staff, devices and residence claims")
admin_blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="District administration")

MEMBER_MANAGERS_VIA = ("member", "ancestor", "district")


def _setup(state: Any) -> None:
    """Once per app: the principal hook, rate limits and the security schemes of the spec."""
    from auth import principal, ratelimit

    app = state.app
    principal.install(app)
    ratelimit.install(app)
    spec = app.extensions["api"].spec
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)


auth_blp.record_once(_setup)


def blueprints(settings: Settings) -> list[Blueprint]:
    from auth import contact_routes

    blps = [auth_blp, me_blp, orgs_blp, admin_blp, *contact_routes.blueprints()]
    if settings.enable_dev_routes:
        blps.insert(1, dev_blp)
    return blps






def _release(session: Session) -> None:
    """End any open transaction before a call to a provider (never hold locks over HTTP)."""
    if session.in_transaction():
        session.rollback()


def _resident_login_result(session: Session, account: Account) -> dict[str, Any]:
    pair = tokens.issue_pair(session, clock=current_clock(), account=account)
    session.commit()
    principal = Principal("resident", account_id=account.id, person_id=account.person_id)
    return {**_pair(pair), "resident": accounts.profile(session, principal)}


def _pair(pair: tokens.TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in, "token_type": "Bearer"}


# ---------------------------------------------------------------- resident logins


@auth_blp.route("/wechat/login")
class WechatLogin(MethodView):
    @rate_limit("login")
    @auth_blp.arguments(CodeSchema)
    @auth_blp.response(200, ResidentLoginSchema)
    @auth_blp.alt_response(401, schema=ErrorSchema, description="wechat_code_invalid")
    @auth_blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
    @auth_blp.alt_response(503, schema=ErrorSchema, description="wechat_unavailable (Retry-After)")
    def post(self, args):
        """Log in with a wx.login() code (jscode2session)."""
        session = get_session()
        _release(session)
        wx = WechatClient.from_settings(current_settings()).code_to_session(args["code"])
        account = accounts.login_wechat(session, clock=current_clock(), wx=wx)
        return _resident_login_result(session, account)


@auth_blp.route("/suishenban/login")
class SuishenbanLogin(MethodView):
    @rate_limit("login")
    @auth_blp.arguments(CodeSchema)
    @auth_blp.response(200, ResidentLoginSchema)
    @auth_blp.alt_response(401, schema=ErrorSchema, description="suishenban_code_invalid")
    @auth_blp.alt_response(403, schema=ErrorSchema, description="suishenban_not_verified")
    @auth_blp.alt_response(409, schema=ErrorSchema, description="identity_conflict")
    @auth_blp.alt_response(503, schema=ErrorSchema, description="suishenban_unavailable (Retry-After)")
    def post(self, args):
        """Log in with 随申办 (real-name verified); with a resident's access token, upgrade that person."""
        caller = current_principal()
        session = get_session()
        _release(session)
        identity = SuishenbanClient.from_settings(current_settings()).exchange(args["code"])
        account = accounts.login_suishenban(session, clock=current_clock(), identity=identity, caller=caller)
        return _resident_login_result(session, account)


@dev_blp.route("/login")
class DevLogin(MethodView):
    @dev_blp.arguments(DevLoginSchema)
    @dev_blp.response(200, ResidentLoginSchema)
    def post(self, args):
        """Development only: log in as a demo resident named by any openid."""
        session = get_session()
        account = accounts.login_dev(session, clock=current_clock(), openid=args["openid"])
        return _resident_login_result(session, account)


# ---------------------------------------------------------------- tokens


@auth_blp.route("/refresh")
class Refresh(MethodView):
    @rate_limit("refresh")
    @auth_blp.arguments(RefreshSchema)
    @auth_blp.response(200, TokenSchema)
    @auth_blp.alt_response(401, schema=ErrorSchema, description="refresh_token_invalid | refresh_token_reused")
    @auth_blp.alt_response(403, schema=ErrorSchema, description="refresh_token_mismatch")
    def post(self, args):
        """Exchange a refresh token for a new pair; a reused token revokes its whole family."""
        caller = current_principal()
        session = get_session()
        pair = tokens.rotate(session, clock=current_clock(), token=args["refresh_token"],
                             caller_account_id=caller.account_id if not caller.is_anonymous else None)
        session.commit()
        return _pair(pair)


@auth_blp.route("/logout")
class Logout(MethodView):
    @rate_limit("refresh")
    @auth_blp.arguments(LogoutSchema)
    @auth_blp.response(204)
    @auth_blp.alt_response(403, schema=ErrorSchema, description="refresh_token_mismatch")
    def post(self, args):
        """End the session of the access token and/or of the refresh token given."""
        caller = current_principal()
        session = get_session()
        clock = current_clock()
        token = args.get("refresh_token")
        row = tokens.find_refresh(session, token) if token else None
        if token and row is None and caller.is_anonymous:
            raise ApiError("refresh_token_invalid")
        if row is not None and caller.account_id is not None and row.account_id != caller.account_id:
            raise ApiError("refresh_token_mismatch")
        if row is not None:
            tokens.revoke_family(session, row.family_id, clock=clock, reason="logout")
        if caller.session_id:
            tokens.revoke_family(session, caller.session_id, clock=clock, reason="logout")
        if row is None and caller.session_id is None:
            raise ApiError("unauthenticated")
        session.commit()


# ---------------------------------------------------------------- staff


def _staff_view(session: Session, account_id: int, acting: Organisation) -> dict[str, Any]:
    account = session.get(Account, account_id)
    memberships = staff.active_memberships(session, account_id)
    choices = [staff.membership_choice(m) for m in memberships]
    acting_choice = next(c for c in choices if c["code"] == acting.code)
    return {"account_id": account.id, "username": account.username, "acting": acting_choice,
            "organisations": choices}


@auth_blp.route("/staff/login")
class StaffLogin(MethodView):
    @rate_limit("staff_login")
    @auth_blp.arguments(StaffLoginSchema)
    @auth_blp.response(200, StaffLoginResultSchema)
    @auth_blp.alt_response(401, schema=ErrorSchema, description="invalid_credentials")
    @auth_blp.alt_response(403, schema=ErrorSchema, description="not_a_member | account_disabled")
    @auth_blp.alt_response(409, schema=ErrorSchema, description="org_required: choose one of `organisations`")
    @auth_blp.alt_response(429, schema=ErrorSchema, description="login_locked | rate_limited (Retry-After)")
    def post(self, args):
        """Staff log in with a password, acting for one of their organisations."""
        session = get_session()
        clock = current_clock()
        account, org = staff.login(session, clock=clock, username=args["username"], password=args["password"],
                                   address=request.remote_addr or "-", org_code=args.get("org"))
        pair = tokens.issue_pair(session, clock=clock, account=account, org=org)
        session.commit()
        return {**_pair(pair), "staff": _staff_view(session, account.id, org)}


@auth_blp.route("/staff/switch")
class StaffSwitch(MethodView):
    @require_staff
    @auth_blp.arguments(SwitchOrgSchema)
    @auth_blp.response(200, StaffLoginResultSchema)
    def post(self, args):
        """Act for another of one's organisations: a new token pair; the old session ends."""
        principal = current_principal()
        session = get_session()
        clock = current_clock()
        org = staff.switch_org(session, account_id=principal.account_id, org_code=args["org"])
        tokens.revoke_family(session, principal.session_id, clock=clock, reason="switch")
        pair = tokens.issue_pair(session, clock=clock, account=session.get(Account, principal.account_id), org=org)
        session.commit()
        return {**_pair(pair), "staff": _staff_view(session, principal.account_id, org)}


@auth_blp.route("/staff/me")
class StaffMe(MethodView):
    @require_staff
    @auth_blp.response(200, StaffMeSchema)
    def get(self):
        """The staff member, the organisation they act for and their other organisations."""
        principal = current_principal()
        session = get_session()
        return _staff_view(session, principal.account_id, session.get(Organisation, principal.org_id))


@auth_blp.route("/staff/password")
class StaffPassword(MethodView):
    @require_staff
    @rate_limit("staff_login")
    @auth_blp.arguments(PasswordChangeSchema)
    @auth_blp.response(204)
    def post(self, args):
        """Change one's password."""
        principal = current_principal()
        session = get_session()
        staff.change_password(session, clock=current_clock(), account_id=principal.account_id,
                              current=args["current_password"], new=args["new_password"],
                              address=request.remote_addr or "-")
        session.commit()


@auth_blp.route("/device")
class DeviceWhoAmI(MethodView):
    @require_device
    @auth_blp.response(200, DeviceWhoAmISchema)
    def get(self):
        """The device authenticated with HTTP Basic (a connectivity check for installers)."""
        p = current_principal()
        return {"device_id": p.device_uid, "kind": p.device_kind, "org": p.org_code}


# ---------------------------------------------------------------- the resident's own data


@me_blp.route("")
class Me(MethodView):
    @require_resident
    @me_blp.response(200, MeSchema)
    def get(self):
        """The caller's person, masked."""
        return accounts.profile(get_session(), current_principal())

    @require_resident
    @rate_limit("identity")
    @me_blp.arguments(MePatchSchema)
    @me_blp.response(200, MeSchema)
    @me_blp.alt_response(409, schema=ErrorSchema, description="identity_locked")
    def patch(self, args):
        """Set one's phone, and name and ID number until verified by 随申办 (the answer does not
        tell whether the number is on record already)."""
        principal = current_principal()
        session = get_session()
        accounts.update_profile(session, clock=current_clock(), principal=principal, changes=args)
        session.commit()
        return accounts.profile(session, principal)

    @require_resident
    @me_blp.response(204)
    def delete(self):
        """Cancel the account (PIPL): sessions end, personal data is erased (see auth/erasure.py)."""
        session = get_session()
        erasure.erase_person(session, clock=current_clock(), principal=current_principal())
        session.commit()


@me_blp.route("/residences")
class MyResidences(MethodView):
    @require_resident
    @me_blp.response(200, ResidenceListSchema)
    def get(self):
        """Where the caller lives or claimed to live."""
        session = get_session()
        items = residences.residences_of(session, current_principal().person_id)
        return {"items": [residences.describe(session, r) for r in items]}

    @idempotent
    @require_resident
    @rate_limit("claim")
    @me_blp.arguments(ResidenceClaimSchema)
    @me_blp.response(201, ResidenceSchema)
    @me_blp.alt_response(409, schema=ErrorSchema, description="residence_exists")
    def post(self, args):
        """Claim a room of a community (or a house of a village); the organisation in charge reviews it."""
        session = get_session()
        residence = residences.claim(session, clock=current_clock(), principal=current_principal(), data=args)
        session.commit()
        return residences.describe(session, residence)


@me_blp.route("/residences/<int:residence_id>")
class MyResidence(MethodView):
    @visible_object("my_residence", "residence_id")
    @require_resident
    @me_blp.response(200, ResidenceSchema)
    def delete(self, residence_id: int):
        """Moved out, or withdraw a claim: the residence ends today."""
        session = get_session()
        residence = residences.end(session, clock=current_clock(), principal=current_principal(),
                                   residence_id=residence_id)
        session.commit()
        return residences.describe(session, residence)


@me_blp.route("/relations")
class MyRelations(MethodView):
    @require_resident
    @me_blp.response(200, RelationListSchema)
    def get(self):
        """People the caller may act for (outgoing) and who may act for the caller (incoming)."""
        principal = current_principal()
        session = get_session()
        items = relations.of_person(session, principal.person_id)
        return {"items": [relations.describe(session, r, principal.person_id) for r in items]}

    @idempotent
    @require_resident
    @rate_limit("identity")
    @me_blp.arguments(RelationCreateSchema)
    @me_blp.response(201, RelationSchema)
    @me_blp.alt_response(409, schema=ErrorSchema, description="relation_exists")
    def post(self, args):
        """Ask to act for a person (就诊人...), by their name and resident ID number.

        The answer is the same whoever holds that number (an account holder, someone without an
        account, a different name on record, nobody yet): `pending`, with what you typed
        masked. It grants nothing until confirmed: by that person in their app when they are an
        adult with an account (they are told), else by their committee or by staff who see
        their ID card in person. You are told when it is confirmed or declined."""
        principal = current_principal()
        session = get_session()
        relation = relations.add(session, clock=current_clock(), principal=principal, **args)
        session.commit()
        return relations.describe(session, relation, principal.person_id)


@me_blp.route("/relations/pending")
class MyPendingRelations(MethodView):
    @require_resident
    @me_blp.response(200, RelationListSchema)
    def get(self):
        """Requests to act for the caller, waiting for them to confirm or decline."""
        principal = current_principal()
        session = get_session()
        return {"items": [relations.describe(session, r, principal.person_id)
                          for r in relations.pending_for(session, principal.person_id)]}


def _decide_mine(relation_id: int, *, confirm: bool) -> dict[str, Any]:
    principal = current_principal()
    session = get_session()
    relation = relations.decide_as_subject(session, clock=current_clock(), principal=principal,
                                           relation_id=relation_id, confirm=confirm)
    session.commit()
    return relations.describe(session, relation, principal.person_id)


@me_blp.route("/relations/<int:relation_id>/confirm")
class MyRelationConfirm(MethodView):
    @visible_object("my_relation", "relation_id")
    @require_resident
    @me_blp.response(200, RelationSchema)
    @me_blp.alt_response(403, schema=ErrorSchema, description="forbidden (your own request) | "
                                                              "relation_confirmed_by_committee (a child)")
    @me_blp.alt_response(409, schema=ErrorSchema, description="relation_not_pending")
    def post(self, relation_id: int):
        """Confirm a request to act for you: it takes effect now; the requester is told."""
        return _decide_mine(relation_id, confirm=True)


@me_blp.route("/relations/<int:relation_id>/decline")
class MyRelationDecline(MethodView):
    @visible_object("my_relation", "relation_id")
    @require_resident
    @me_blp.response(200, RelationSchema)
    @me_blp.alt_response(403, schema=ErrorSchema, description="forbidden (your own request) | "
                                                              "relation_confirmed_by_committee (a child)")
    @me_blp.alt_response(409, schema=ErrorSchema, description="relation_not_pending")
    def post(self, relation_id: int):
        """Decline a request to act for you; the requester is told."""
        return _decide_mine(relation_id, confirm=False)


@me_blp.route("/relations/<int:relation_id>")
class MyRelation(MethodView):
    @visible_object("my_relation", "relation_id")
    @require_resident
    @me_blp.response(204)
    def delete(self, relation_id: int):
        """End a relation (either side may)."""
        session = get_session()
        relations.remove(session, principal=current_principal(), relation_id=relation_id)
        session.commit()


# ---------------------------------------------------------------- organisations: staff


def _membership_view(m: Membership) -> dict[str, Any]:
    return {"membership_id": m.id, "account_id": m.account_id, "username": m.account.username,
            "role": m.role, "status": m.status, "created_at": m.created_at}


@orgs_blp.route("/staff")
class OrgStaff(MethodView):
    @visible_object("organisation", "code")
    @require_staff
    @orgs_blp.arguments(PageArgs, location="query")
    @orgs_blp.response(200, page_of(MembershipSchema))
    def get(self, args, code: str):
        """The organisation's staff (its administrators and managers)."""
        session = get_session()
        org = require_org_role(session, current_principal(), code, STAFF_MANAGERS, via=MEMBER_MANAGERS_VIA)
        page = paginate(session, sa.select(Membership).where(Membership.organisation_id == org.id)
                        .order_by(Membership.id), args)
        return {**page, "items": [_membership_view(m) for m in page["items"]]}

    @idempotent
    @visible_object("organisation", "code")
    @require_staff
    @rate_limit("manage")
    @orgs_blp.arguments(StaffInviteSchema)
    @orgs_blp.response(201, StaffInviteResultSchema)
    @orgs_blp.alt_response(409, schema=ErrorSchema, description="membership_exists | username_taken")
    def post(self, args, code: str):
        """Add a staff member: a new account (with an initial password shown once) or an existing one."""
        session = get_session()
        org = require_org_role(session, current_principal(), code, STAFF_MANAGERS, via=MEMBER_MANAGERS_VIA)
        _account, membership, initial = staff.create_staff(session, username=args["username"], password=None,
                                                           org=org, role=args["role"])
        session.commit()
        return {**_membership_view(membership), "initial_password": initial}


@orgs_blp.route("/staff/<int:membership_id>")
class OrgStaffMember(MethodView):
    @visible_object("membership", "code", "membership_id")
    @require_staff
    @orgs_blp.arguments(MembershipPatchSchema)
    @orgs_blp.response(200, MembershipSchema)
    def patch(self, args, code: str, membership_id: int):
        """Change a staff member's role, or disable (or re-enable) them."""
        principal = current_principal()
        session = get_session()
        org = staff_admin.managed_org(session, principal, code)
        membership = staff_admin.change(session, clock=current_clock(), principal=principal, org=org,
                                        membership_id=membership_id, role=args.get("role"), status=args.get("status"))
        session.commit()
        return _membership_view(membership)


# ---------------------------------------------------------------- organisations: devices


@orgs_blp.route("/devices")
class OrgDevices(MethodView):
    @visible_object("organisation", "code")
    @require_staff
    @orgs_blp.arguments(PageArgs, location="query")
    @orgs_blp.response(200, page_of(DeviceSchema))
    def get(self, args, code: str):
        """The organisation's devices."""
        session = get_session()
        org = devices.require_device_access(session, current_principal(), code)
        page = paginate(session, devices.of_org(org), args)
        return {**page, "items": [devices.describe(d) for d in page["items"]]}

    @idempotent
    @visible_object("organisation", "code")
    @require_staff
    @rate_limit("manage")
    @orgs_blp.arguments(DeviceCreateSchema)
    @orgs_blp.response(201, DeviceCreatedSchema)
    def post(self, args, code: str):
        """Register a device; its secret is in this answer only."""
        session = get_session()
        org = staff_admin.managed_org(session, current_principal(), code)
        device, secret = devices.create_device(session, org=org, kind=args["kind"], name=args["name"])
        session.commit()
        return {**devices.describe(device), "secret": secret}


@orgs_blp.route("/devices/<device_id>")
class OrgDevice(MethodView):
    @visible_object("device", "code", "device_id")
    @require_staff
    @orgs_blp.arguments(DevicePatchSchema)
    @orgs_blp.response(200, DeviceSchema)
    def patch(self, args, code: str, device_id: str):
        """Rename, disable or re-enable a device."""
        session = get_session()
        org = devices.require_device_access(session, current_principal(), code)
        device = devices.change(devices.device_of_org(session, org, device_id), args)
        session.commit()
        return devices.describe(device)


# ---------------------------------------------------------------- organisations: residences


@orgs_blp.route("/residences")
class OrgResidences(MethodView):
    @visible_object("organisation", "code")
    @require_staff
    @orgs_blp.arguments(ResidenceQuerySchema, location="query")
    @orgs_blp.response(200, page_of(ResidenceSchema))
    def get(self, args, code: str):
        """Residence claims in the places this organisation is in charge of (masked)."""
        session = get_session()
        clock = current_clock()
        org = require_org_role(session, current_principal(), code, residences.REVIEWER_ROLES, via=("member",))
        stmt = residences.list_for_org(org, on=residences.today(clock), status=args.pop("status", None))
        page = paginate(session, stmt, args)
        return {**page, "items": [residences.describe(session, r, person=session.get(Person, r.person_id))
                                  for r in page["items"]]}


@orgs_blp.route("/residences/<int:residence_id>")
class OrgResidence(MethodView):
    @visible_object("org_residence", "code", "residence_id")
    @require_staff
    @orgs_blp.response(200, ResidenceSchema)
    def get(self, code: str, residence_id: int):
        """One claim, masked."""
        session = get_session()
        principal = current_principal()
        org = require_org_role(session, principal, code, residences.REVIEWER_ROLES, via=("member",))
        residence = residences.residence_for_staff(session, clock=current_clock(), principal=principal, org=org,
                                                   residence_id=residence_id)
        return residences.describe(session, residence, person=session.get(Person, residence.person_id))


@orgs_blp.route("/residences/<int:residence_id>/reveal")
class OrgResidenceReveal(MethodView):
    @visible_object("org_residence", "code", "residence_id")
    @require_staff
    @rate_limit("reveal", key_func=staff_member_key, shared=True)
    @orgs_blp.arguments(RevealSchema)
    @orgs_blp.response(200, ResidenceSchema)
    @orgs_blp.alt_response(429, schema=ErrorSchema, description="rate_limited (per staff member, Retry-After)")
    def post(self, args, code: str, residence_id: int):
        """One claim with the resident's phone and/or ID number in full (only the `fields` named;
        the other is left out, the name stays masked); the read is audited with the fields."""
        session = get_session()
        residence, wanted = reveal_residence(session, clock=current_clock(), principal=current_principal(), code=code,
                                             residence_id=residence_id, fields=args["reveal"], reason=args["reason"])
        session.commit()
        return residences.describe(session, residence, person=session.get(Person, residence.person_id),
                                   revealed=wanted)


@orgs_blp.route("/residences/<int:residence_id>/review")
class OrgResidenceReview(MethodView):
    @visible_object("org_residence", "code", "residence_id")
    @require_staff
    @orgs_blp.arguments(ReviewSchema)
    @orgs_blp.response(200, ResidenceSchema)
    @orgs_blp.alt_response(409, schema=ErrorSchema, description="residence_already_reviewed")
    def post(self, args, code: str, residence_id: int):
        """Verify or reject a claim."""
        session = get_session()
        principal = current_principal()
        org = require_org_role(session, principal, code, residences.REVIEWER_ROLES, via=("member",))
        residence = residences.review(session, clock=current_clock(), principal=principal, org=org,
                                      residence_id=residence_id, decision=args["decision"], note=args.get("note"))
        session.commit()
        return residences.describe(session, residence, person=session.get(Person, residence.person_id))


# ---------------------------------------------------------------- organisations: relations

COMMITTEE_ROLES = ("committee", "grid_worker")


@orgs_blp.route("/relations")
class OrgRelations(MethodView):
    @visible_object("organisation", "code")
    @require_staff
    @orgs_blp.arguments(StaffRelationQuerySchema, location="query")
    @orgs_blp.response(200, page_of(StaffRelationSchema))
    def get(self, args, code: str):
        """Relations to verify in the places this organisation is in charge of (pending by
        default): about someone without an account (or a child) living there, or asked by
        someone living there for someone with no residence on record. Masked."""
        session = get_session()
        org = require_org_role(session, current_principal(), code, residences.REVIEWER_ROLES, via=("member",))
        stmt = relations.for_staff(org, on=residences.today(current_clock()), status=args.pop("status"))
        page = paginate(session, stmt, args)
        return {**page, "items": [relations.describe_for_staff(session, r) for r in page["items"]]}


@orgs_blp.route("/relations/<int:relation_id>/verify")
class OrgRelationVerify(MethodView):
    @visible_object("org_relation", "code", "relation_id")
    @require_staff
    @orgs_blp.arguments(RelationDecisionSchema)
    @orgs_blp.response(200, StaffRelationSchema)
    @orgs_blp.alt_response(409, schema=ErrorSchema, description="relation_not_pending")
    @orgs_blp.alt_response(422, schema=ErrorSchema, description="relation_identity_mismatch | reason_required")
    def post(self, args, code: str, relation_id: int):
        """The committee confirms or declines a relation (audited with the reason); the
        requester is told. Committees only (other organisations: confirm in person)."""
        session = get_session()
        clock = current_clock()
        principal = current_principal()
        org = require_org_role(session, principal, code, COMMITTEE_ROLES, via=("member",))
        require_reason(args["reason"])
        relation = relations.decide_as_committee(session, clock=clock, principal=principal, org=org,
                                                 relation_id=relation_id, confirm=args["decision"] == "confirm")
        record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=relation.to_person_id,
                             fields=("relation",), reason=args["reason"], action="decide_relation")
        session.commit()
        return relations.describe_for_staff(session, relation)


@orgs_blp.route("/relations/<int:relation_id>/confirm-in-person")
class OrgRelationInPerson(MethodView):
    @visible_object("org_relation", "code", "relation_id")
    @require_staff
    @orgs_blp.arguments(InPersonCheckSchema)
    @orgs_blp.response(200, StaffRelationSchema)
    @orgs_blp.alt_response(409, schema=ErrorSchema, description="relation_not_pending")
    @orgs_blp.alt_response(422, schema=ErrorSchema, description="relation_identity_mismatch: not the card of "
                                                                "the person the relation is about")
    def post(self, args, code: str, relation_id: int):
        """Staff saw the ID card of the person a relation is about: they type its name and
        number, which must be that person's; the relation is confirmed (audited); the
        requester is told."""
        session = get_session()
        clock = current_clock()
        principal = current_principal()
        org = require_org_role(session, principal, code, residences.REVIEWER_ROLES, via=("member",))
        relation = relations.confirm_in_person(session, clock=clock, principal=principal, org=org,
                                               relation_id=relation_id, name=args["name"],
                                               id_number=args["id_number"])
        record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=relation.to_person_id,
                             fields=("id_number", "name"), reason="现场核验身份证件",
                             action="confirm_relation_in_person")
        session.commit()
        return relations.describe_for_staff(session, relation)


# ---------------------------------------------------------------- audit


@admin_blp.route("/audit")
class Audit(MethodView):
    @require_staff
    @admin_blp.arguments(AuditQuerySchema, location="query")
    @admin_blp.response(200, page_of(AuditEntrySchema))
    def get(self, args):
        """Unmasked reads of personal data by staff, newest first (district administrators)."""
        principal = current_principal()
        if not principal.is_district_admin:
            raise ApiError("forbidden")
        paging = {"page": args.pop("page"), "page_size": args.pop("page_size")}
        return paginate(get_session(), audit_entries(**args), paging)
