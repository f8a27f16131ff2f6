"""Request and response schemas of the identity endpoints."""
from __future__ import annotations

from app.api import PageArgs, Schema, fields
from app.fields import ma
from auth.models import (
    DEVICE_KINDS,
    DEVICE_STATUSES,
    MEMBERSHIP_STATUSES,
    RELATION_DECIDERS,
    RELATION_KINDS,
    RELATION_STATUSES,
    RESIDENCE_STATUSES,
)
from auth.relations import SCOPES
from auth.roles import all_roles

Length, OneOf, Range = ma.validate.Length, ma.validate.OneOf, ma.validate.Range


# ---------------------------------------------------------------- logins and tokens


class CodeSchema(Schema):
    code = fields.String(required=True, validate=Length(min=1, max=256),
                         metadata={"description": "wx.login() code / 随申办 authorisation code"})


class DevLoginSchema(Schema):
    openid = fields.String(required=True, validate=Length(min=1, max=64), metadata={"example": "demo-resident-1"})


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=Length(min=1, max=200))


class LogoutSchema(Schema):
    refresh_token = fields.String(validate=Length(min=1, max=200))


class StaffLoginSchema(Schema):
    username = fields.String(required=True, validate=Length(min=1, max=64))
    password = fields.String(required=True, validate=Length(min=1, max=128), load_only=True)
    org = fields.String(validate=Length(min=1, max=64), metadata={"description": "organisation code to act for"})


class SwitchOrgSchema(Schema):
    org = fields.String(required=True, validate=Length(min=1, max=64))


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, validate=Length(min=1, max=128), load_only=True)
    new_password = fields.String(required=True, validate=Length(min=1, max=128), load_only=True)


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(allow_none=True, metadata={"description": "masked: 张*"})
    phone = fields.String(allow_none=True, metadata={"description": "masked: 180****1999"})
    id_number = fields.String(allow_none=True, metadata={"description": "masked: 3***************1X"})
    birth_date = fields.Date(allow_none=True)
    real_name_level = fields.String(required=True, metadata={"description": "none | basic | verified"})


class MeSchema(PersonSchema):
    account_id = fields.Integer(required=True)
    login_methods = fields.List(fields.String(), required=True)


class OrgChoiceSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    role = fields.String(required=True)


class StaffMeSchema(Schema):
    account_id = fields.Integer(required=True)
    username = fields.String(required=True)
    acting = fields.Nested(OrgChoiceSchema, required=True)
    organisations = fields.List(fields.Nested(OrgChoiceSchema), required=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds the access token lives"})
    token_type = fields.String(required=True, metadata={"example": "Bearer"})


class ResidentLoginSchema(TokenSchema):
    resident = fields.Nested(MeSchema, required=True)


class StaffLoginResultSchema(TokenSchema):
    staff = fields.Nested(StaffMeSchema, required=True)


class MePatchSchema(Schema):
    name = fields.String(validate=Length(min=1, max=50))
    phone = fields.String(allow_none=True, validate=Length(max=20))
    id_number = fields.String(validate=Length(max=18 + 4))


# ---------------------------------------------------------------- residences and relations


class ResidenceClaimSchema(Schema):
    community_code = fields.String(validate=Length(min=1, max=64))
    building = fields.String(validate=Length(min=1, max=20))
    room = fields.String(validate=Length(min=1, max=8))
    village_code = fields.String(validate=Length(min=1, max=64))
    house_number = fields.Integer(validate=Range(min=1, max=100_000))
    valid_from = fields.Date()


class ResidentRefSchema(Schema):
    person_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    real_name_level = fields.String(required=True)


class ResidenceSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": " | ".join(RESIDENCE_STATUSES)})
    community_code = fields.String()
    community_name = fields.String()
    building = fields.String()
    room = fields.String()
    village_code = fields.String()
    village_name = fields.String()
    house_number = fields.Integer()
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True)
    resident = fields.Nested(ResidentRefSchema)


class ResidenceListSchema(Schema):
    items = fields.List(fields.Nested(ResidenceSchema), required=True)


class ResidenceQuerySchema(PageArgs):
    status = fields.String(validate=OneOf(RESIDENCE_STATUSES))


class ReviewSchema(Schema):
    decision = fields.String(required=True, validate=OneOf(("verify", "reject")))
    note = fields.String(validate=Length(max=300))


REVEALABLE_FIELDS = ("phone", "id_number")


class RevealSchema(Schema):
    reveal = fields.List(
        fields.String(), data_key="fields", required=True,
        metadata={"description": "the fields needed in full, at least one of: " + ", ".join(REVEALABLE_FIELDS)
                  + " (only these are returned unmasked; the rest stays masked)"})
    reason = fields.String(required=True, validate=Length(max=300),
                           metadata={"description": "why the full personal data is needed (audited)"})


class RelationCreateSchema(Schema):
    name = fields.String(required=True, validate=Length(min=1, max=50))
    id_number = fields.String(required=True, validate=Length(min=1, max=22))
    kind = fields.String(required=True, validate=OneOf(RELATION_KINDS))
    allows = fields.List(fields.String(validate=OneOf(tuple(SCOPES))), required=True, validate=Length(min=1, max=10))


class RelatedPersonSchema(Schema):
    name = fields.String(allow_none=True, metadata={
        "description": "masked; outgoing: the name as you typed it (whether it is the name on record is not said)"})
    id_number = fields.String(allow_none=True, metadata={"description": "masked"})


class RelationSchema(Schema):
    id = fields.Integer(required=True)
    direction = fields.String(required=True, metadata={"description": "outgoing: I act for them"})
    kind = fields.String(required=True)
    allows = fields.List(fields.String(), required=True)
    status = fields.String(required=True, metadata={
        "description": " | ".join(RELATION_STATUSES) + ": a relation grants nothing until confirmed (by the person "
                       "it is about in their app; for someone without an account, by their committee or in person)"})
    verified = fields.Boolean(required=True, metadata={"deprecated": True, "description": "status == confirmed"})
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)
    person = fields.Nested(RelatedPersonSchema, required=True)


class RelationListSchema(Schema):
    items = fields.List(fields.Nested(RelationSchema), required=True)


class RelationDecisionSchema(Schema):
    decision = fields.String(required=True, validate=OneOf(("confirm", "decline")))
    reason = fields.String(required=True, validate=Length(max=300), metadata={
        "description": "how the committee knows (audited with the decision)"})


class InPersonCheckSchema(Schema):
    name = fields.String(required=True, validate=Length(min=1, max=50),
                         metadata={"description": "the name on the ID card"})
    id_number = fields.String(required=True, validate=Length(min=1, max=22),
                              metadata={"description": "the number on the ID card"})


class StaffRelationPersonSchema(Schema):
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    birth_date = fields.Date(allow_none=True)


class StaffRelationSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    allows = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)
    decided_via = fields.String(allow_none=True, metadata={"description": " | ".join(RELATION_DECIDERS)})
    requester = fields.Nested(StaffRelationPersonSchema, required=True)
    subject = fields.Nested(StaffRelationPersonSchema, required=True)
    name_matches = fields.Boolean(required=True, metadata={
        "description": "whether the name the requester typed is the subject's name on record"})


class StaffRelationQuerySchema(PageArgs):
    status = fields.String(validate=OneOf(RELATION_STATUSES), load_default="pending")


# ---------------------------------------------------------------- staff and devices


class StaffInviteSchema(Schema):
    username = fields.String(required=True, validate=Length(min=3, max=64))
    role = fields.String(required=True, validate=OneOf(sorted(all_roles())))


class MembershipSchema(Schema):
    membership_id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class StaffInviteResultSchema(MembershipSchema):
    initial_password = fields.String(allow_none=True, metadata={"description": "new accounts only; shown once"})


class MembershipPatchSchema(Schema):
    role = fields.String(validate=OneOf(sorted(all_roles())))
    status = fields.String(validate=OneOf(MEMBERSHIP_STATUSES))


class DeviceCreateSchema(Schema):
    kind = fields.String(required=True, validate=OneOf(DEVICE_KINDS))
    name = fields.String(required=True, validate=Length(min=1, max=100))


class DeviceSchema(Schema):
    device_id = fields.String(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    last_seen_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


class DeviceCreatedSchema(DeviceSchema):
    secret = fields.String(required=True, metadata={"description": "shown once; stored as its SHA-256"})


class DevicePatchSchema(Schema):
    name = fields.String(validate=Length(min=1, max=100))
    status = fields.String(validate=OneOf(DEVICE_STATUSES))


class DeviceWhoAmISchema(Schema):
    device_id = fields.String(required=True)
    kind = fields.String(required=True)
    org = fields.String(required=True)


# ---------------------------------------------------------------- audit


class AuditQuerySchema(PageArgs):
    subject_person_id = fields.Integer(strict=False)
    actor_account_id = fields.Integer(strict=False)
    since = fields.DateTime()
    until = fields.DateTime()


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor_account_id = fields.Integer(required=True)
    acting_org_id = fields.Integer(allow_none=True)
    subject_person_id = fields.Integer(required=True)
    action = fields.String(required=True)
    fields_read = fields.List(fields.String(), required=True, attribute="fields", data_key="fields")
    reason = fields.String(required=True)
    request_id = fields.String(allow_none=True)
