"""Schemas of the workflow engine. Shared ones are named ``Workflow…``; the ones that carry a
scenario's own fields (its location fields, its ``details``) are built per scenario by
``scenario_schemas`` and named after it (``PropertyRepairTicket…``), so the spec has no clashes.
"""
from __future__ import annotations

from dataclasses import dataclass

import marshmallow as ma
from marshmallow.validate import Length, OneOf, Range

from app.api import PageArgs, Schema, fields, page_of
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import CALENDARS, MODERATION_STATES, PHOTO_STAGES, PRIORITIES, STATUSES

MAX_TEXT = 10_000  # a hard cap before the scenario's own limit (text_too_long) is checked
MAX_QUERY = 64
"""The queue's search (``q``): a ticket number, a room, a building or words of the text."""
SORTS = ("due", "created", "-created", "priority", "updated")
"""The queue's orders: ``due`` (soonest deadline first, the default), ``created`` (oldest
first), ``-created`` (newest first), ``priority`` (urgent first, then by deadline),
``updated`` (most recently changed first)."""
EXPORT_FORMATS = ("csv", "xlsx")


def _photos() -> fields.List:
    return fields.List(fields.String(validate=Length(min=1, max=32)), load_default=list,
                       validate=Length(max=20),
                       metadata={"description": "ids from POST /api/v1/uploads (your own uploads, at most 9 a ticket)"})


# ---------------------------------------------------------------- output pieces


class WorkflowOrgSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class WorkflowLocationSchema(Schema):
    community_code = fields.String(allow_none=True)
    community_name = fields.String(allow_none=True)
    building = fields.String(allow_none=True, metadata={"description": "building number (3 for 3号楼)"})
    room = fields.String(allow_none=True)
    village_code = fields.String(allow_none=True)
    village_name = fields.String(allow_none=True)
    house_number = fields.Integer(allow_none=True)
    lat = fields.Float(allow_none=True, metadata={"description": "WGS84"})
    lon = fields.Float(allow_none=True, metadata={"description": "WGS84"})
    address = fields.String(allow_none=True)


class WorkflowSlaSchema(Schema):
    policy_id = fields.Integer(required=True)
    response_minutes = fields.Integer(required=True)
    resolution_minutes = fields.Integer(allow_none=True)
    calendar = fields.String(required=True, metadata={"description": "24x7 or business"})
    response_due_at = fields.DateTime(allow_none=True)
    resolution_due_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True, metadata={"description": "the deadline that matters now"})
    overdue = fields.Boolean(required=True)
    first_response_at = fields.DateTime(allow_none=True)
    response_breached = fields.Boolean(required=True)
    resolution_breached = fields.Boolean(required=True)
    paused_at = fields.DateTime(allow_none=True, metadata={"description": "set while waiting for the reporter"})
    escalation_level = fields.Integer(required=True, metadata={"description": "0, 1 (managers) or 2 (bureau)"})


class WorkflowEventSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor_kind = fields.String(required=True, metadata={"description": "resident, staff or system"})
    actor_org = fields.String(allow_none=True, metadata={"description": "code of the staff member's organisation"})
    actor_account_id = fields.Integer(allow_none=True, metadata={"description": "staff viewers only"})
    action = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    data = fields.Dict(keys=fields.String(), values=fields.Raw())
    internal = fields.Boolean(required=True, metadata={
        "description": "a staff note for staff only (the reporter never sees one: always false for them)"})


class WorkflowPhotoSchema(Schema):
    id = fields.String(required=True)
    stage = fields.String(required=True, validate=OneOf(PHOTO_STAGES))
    content_type = fields.String(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    url = fields.String(required=True, metadata={"description": "signed URL, valid 10–15 minutes"})
    thumb_url = fields.String(required=True)


class WorkflowReporterSchema(Schema):
    name = fields.String(allow_none=True, metadata={"description": "masked (张*)"})
    phone = fields.String(allow_none=True, metadata={"description": "masked (180****1999)"})
    residence_id = fields.Integer(allow_none=True, metadata={
        "description": "the reporter's verified residence the ticket was filed from: for the audited "
                       "`POST /api/v1/orgs/<code>/residences/<id>/reveal` (null when filed from elsewhere)"})


class WorkflowAssigneeSchema(Schema):
    name = fields.String(required=True, metadata={
        "description": "the name residents see (张师傅), else the role's title (维修工)"})
    title = fields.String(required=True, metadata={"description": "the role's title (维修工)"})
    phone = fields.String(allow_none=True, metadata={
        "description": "work phone (verified only): in full to the reporter until the ticket is final "
                       "(closed, rejected, duplicate), masked after and to staff; null when none"})


class WorkflowTicketSummarySchema(Schema):
    id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    number = fields.String(required=True, metadata={
        "description": "the scenario's prefix, the filing day (China time) and 8 random characters "
                       "(Crockford base32), e.g. BX20261102K7M3Q9XA: unique, not sequential"})
    status = fields.String(required=True, validate=OneOf(STATUSES))
    category = fields.String(required=True)
    text = fields.String(required=True)
    priority = fields.String(required=True)
    org = fields.Nested(WorkflowOrgSchema, required=True)
    location = fields.Nested(WorkflowLocationSchema, required=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean(required=True)
    escalation_level = fields.Integer(required=True)
    assignee_account_id = fields.Integer(allow_none=True)
    rating = fields.Integer(allow_none=True)
    moderation_state = fields.String(required=True, validate=OneOf(MODERATION_STATES), metadata={
        "description": "visible (not moderated, or cleared), pending (waiting for review), hidden (refused)"})
    appointment_at = fields.DateTime(allow_none=True, metadata={
        "description": "when staff will call at the reporter's (set with assign or appointment)"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    version = fields.Integer(required=True, metadata={"description": "the ETag; send it back in If-Match"})


WorkflowTicketPageSchema = page_of(WorkflowTicketSummarySchema, "WorkflowTicketPageSchema")


class WorkflowDuplicateHintSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)


class WorkflowSimilarReportSchema(Schema):
    scope = fields.String(required=True, metadata={"description": "building | nearby"})
    message = fields.String(required=True, metadata={"example": "您所在楼栋已有类似的报告正在处理中，无需重复提交。"})


# ---------------------------------------------------------------- inputs shared by every scenario


class WorkflowNoteSchema(Schema):
    note = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)


class WorkflowRequiredNoteSchema(Schema):
    note = fields.String(required=True, validate=Length(min=1, max=MAX_TEXT))


def _appointment(**kw: object) -> fields.DateTime:
    return fields.DateTime(**kw, metadata={
        "description": "when you will call at the reporter's: with an offset, from now to 90 days ahead "
                       "(`appointment_in_past`, `appointment_too_far`); the reporter is told"})


class WorkflowAssignSchema(Schema):
    assignee_account_id = fields.Integer(required=True, metadata={"description": "a technician of your organisation"})
    note = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)
    appointment_at = _appointment(load_default=None, allow_none=True)


class WorkflowAppointmentSchema(Schema):
    appointment_at = _appointment(required=True)
    note = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)


class WorkflowPrioritySchema(Schema):
    priority = fields.String(required=True, validate=OneOf(PRIORITIES),
                             metadata={"description": "one of: " + ", ".join(PRIORITIES)})
    reason = fields.String(required=True, validate=Length(min=1, max=MAX_TEXT),
                           metadata={"description": "why (in the trail as an internal event: staff only)"})


class WorkflowResolveSchema(Schema):
    note = fields.String(required=True, validate=Length(min=1, max=MAX_TEXT), metadata={"description": "what was done"})
    photos = _photos()


class WorkflowReasonSchema(Schema):
    reason = fields.String(required=True, validate=Length(min=1, max=MAX_TEXT))


class WorkflowDuplicateSchema(Schema):
    duplicate_of = fields.Integer(required=True, metadata={"description": "id of the original ticket"})
    note = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)


class WorkflowCommentSchema(Schema):
    text = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)
    photos = _photos()
    internal = fields.Boolean(load_default=False, metadata={
        "description": "staff only (`internal_note_staff_only` otherwise): a note for staff, never shown "
                       "or told to the reporter"})

    @ma.validates_schema
    def _something(self, data: dict, **_: object) -> None:
        if not (data.get("text") or "").strip() and not data.get("photos"):
            raise ma.ValidationError("须填写内容或添加照片。", "text")


class WorkflowTransferSchema(Schema):
    org = fields.String(required=True, validate=Length(min=1, max=64), metadata={
        "description": "code of the organisation that takes the ticket over (a bureau or a town)"})
    note = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)


class WorkflowRateSchema(Schema):
    rating = fields.Integer(required=True, validate=Range(min=1, max=5))
    comment = fields.String(validate=Length(max=MAX_TEXT), load_default=None, allow_none=True)


class WorkflowMineArgsSchema(PageArgs):
    scenario = fields.String(validate=Length(max=60))
    status = fields.List(fields.String(validate=OneOf(STATUSES)))
    open = fields.Boolean(load_default=False, metadata={"description": "only tickets still in progress"})


class WorkflowQueueFilterSchema(Schema):
    """The queue's filters, shared by the queue and its export."""

    q = fields.String(validate=Length(max=MAX_QUERY), metadata={
        "description": "search: a ticket number (whole or its beginning), a room (302), a building (3, 3号楼), "
                       "a building and room (3-302), or words of the text"})
    sort = fields.String(load_default="due", validate=OneOf(SORTS), metadata={
        "description": "due (soonest deadline first), created (oldest first), -created (newest first), "
                       "priority (urgent first, then by deadline), updated (most recently changed first)"})
    priority = fields.List(fields.String(validate=OneOf(PRIORITIES)), metadata={"description": "repeatable"})
    status = fields.List(fields.String(validate=OneOf(STATUSES)),
                         metadata={"description": "repeatable; open statuses when absent"})
    category = fields.String(validate=Length(max=40))
    community = fields.String(validate=Length(max=64), metadata={"description": "community code"})
    overdue = fields.Boolean(metadata={"description": "true: past the current deadline; false: not"})
    due_within_minutes = fields.Integer(strict=False, validate=Range(min=1, max=7 * 24 * 60),
                                        metadata={"description": "due soon: deadline within this many minutes"})
    due_soon = fields.Boolean(metadata={"description": "deadline within the scenario's due-soon window"})
    assignee = fields.String(validate=Length(max=20), metadata={"description": "'me' or an account id"})
    dispatched = fields.Boolean(load_default=False, metadata={
        "description": "the tickets your organisation routed (区城运中心), wherever they are now"})


class WorkflowQueueArgsSchema(WorkflowQueueFilterSchema, PageArgs):
    pass


class WorkflowQueueExportArgsSchema(WorkflowQueueFilterSchema):
    format = fields.String(load_default="csv", validate=OneOf(EXPORT_FORMATS),
                           metadata={"description": "csv (UTF-8 with a BOM: Excel opens it) or xlsx"})


class WorkflowEscalatedArgsSchema(PageArgs):
    include_closed = fields.Boolean(load_default=False)
    org = fields.String(validate=Length(max=64), metadata={"description": "one company's code"})


class WorkflowStatsArgsSchema(Schema):
    date_from = fields.Date(required=True, data_key="from", metadata={"description": "Beijing date, inclusive"})
    date_to = fields.Date(required=True, data_key="to", metadata={"description": "Beijing date, inclusive"})
    org = fields.String(validate=Length(max=64), metadata={"description": "one organisation's code"})


class WorkflowOrgStatsSchema(Schema):
    org_code = fields.String(required=True)
    org_name = fields.String(required=True)
    total = fields.Integer(required=True)
    open = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    duplicate = fields.Integer(required=True)
    responded = fields.Integer(required=True)
    first_response_median_seconds = fields.Float(allow_none=True)
    first_response_p90_seconds = fields.Float(allow_none=True)
    breach_rate = fields.Float(allow_none=True, metadata={"description": "share of due responses that were late"})
    rated = fields.Integer(required=True)
    average_rating = fields.Float(allow_none=True)


class WorkflowStatsSchema(Schema):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")
    organisations = fields.List(fields.Nested(WorkflowOrgStatsSchema), required=True)


class WorkflowStaffSchema(Schema):
    account_id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True)


class WorkflowStaffListSchema(Schema):
    items = fields.List(fields.Nested(WorkflowStaffSchema), required=True)


# ---------------------------------------------------------------- SLA policies (admin)


class SlaPolicySchema(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "null for a scenario's built-in default"})
    scenario = fields.String(required=True)
    category = fields.String(allow_none=True, metadata={"description": "null: the scenario's default"})
    response_minutes = fields.Integer(required=True)
    resolution_minutes = fields.Integer(allow_none=True)
    calendar = fields.String(required=True, validate=OneOf(CALENDARS))
    work_start_minute = fields.Integer(required=True, metadata={"description": "minutes after midnight, Beijing"})
    work_end_minute = fields.Integer(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(allow_none=True)


class SlaPolicyListSchema(Schema):
    items = fields.List(fields.Nested(SlaPolicySchema), required=True)


class SlaPolicyArgsSchema(Schema):
    scenario = fields.String(validate=Length(max=60))
    include_inactive = fields.Boolean(load_default=False)


class SlaPolicyPutSchema(Schema):
    scenario = fields.String(required=True, validate=Length(min=1, max=60))
    category = fields.String(load_default=None, allow_none=True, validate=Length(max=40))
    response_minutes = fields.Integer(required=True, validate=Range(min=1, max=60 * 24 * 365))
    resolution_minutes = fields.Integer(load_default=None, allow_none=True, validate=Range(min=1, max=60 * 24 * 365))
    calendar = fields.String(load_default="24x7", validate=OneOf(CALENDARS))
    work_start_minute = fields.Integer(load_default=9 * 60, validate=Range(min=0, max=1439))
    work_end_minute = fields.Integer(load_default=17 * 60, validate=Range(min=1, max=1440))


# ---------------------------------------------------------------- per scenario


@dataclass(frozen=True)
class ScenarioSchemas:
    create: type[Schema]
    ticket: type[Schema]
    created: type[Schema]


def scenario_schemas(config: WorkflowConfig) -> ScenarioSchemas:
    """Fresh schema classes named after the scenario (its location fields and details)."""
    p = config.schema_prefix
    create_fields: dict[str, object] = {
        "category": fields.String(required=True, validate=Length(min=1, max=40),
                                  metadata={"description": "one of: " + ", ".join(config.categories)}),
        "text": fields.String(required=True, validate=Length(min=1, max=MAX_TEXT),
                              metadata={"description": f"at most {config.text_max} characters"}),
        "photos": _photos(),
    }
    if config.details_schema is not None:
        create_fields["details"] = fields.Nested(config.details_schema, load_default=dict)
    bases = (config.location_schema, Schema) if config.location_schema is not None else (Schema,)
    create = type(f"{p}TicketCreateSchema", bases, create_fields)

    ticket_fields: dict[str, object] = {
        "sla": fields.Nested(WorkflowSlaSchema, required=True),
        "events": fields.List(fields.Nested(WorkflowEventSchema), required=True),
        "photos": fields.List(fields.Nested(WorkflowPhotoSchema), required=True),
        "duplicate_of": fields.Nested(WorkflowDuplicateHintSchema, allow_none=True, metadata={
            "description": "the original ticket: to staff, and to the reporter only when it is their own "
                           "report (another resident's is not shown, nor named in the trail); else null"}),
        "dispatch_org": fields.Nested(WorkflowOrgSchema, allow_none=True, metadata={
            "description": "the organisation that routed the ticket (it keeps seeing it)"}),
        "rating_comment": fields.String(allow_none=True),
        "rated_at": fields.DateTime(allow_none=True),
        "resolved_at": fields.DateTime(allow_none=True),
        "closed_at": fields.DateTime(allow_none=True),
        "reopen_count": fields.Integer(required=True),
        "reporter": fields.Nested(WorkflowReporterSchema, allow_none=True,
                                  metadata={"description": "masked; staff viewers only"}),
        "assignee": fields.Nested(WorkflowAssigneeSchema, allow_none=True,
                                  metadata={"description": "who is coming: once the ticket is assigned"}),
        "allowed_actions": fields.List(fields.String(), required=True,
                                       metadata={"description": "what the caller may do now"}),
    }
    if config.details_schema is not None:
        ticket_fields["details"] = fields.Nested(config.details_schema, required=True)
    ticket = type(f"{p}TicketSchema", (WorkflowTicketSummarySchema,), ticket_fields)
    created = type(f"{p}TicketCreatedSchema", (ticket,), {
        "possible_duplicates": fields.List(fields.Nested(WorkflowDuplicateHintSchema), required=True, metadata={
            "deprecated": True,
            "description": "always empty: other residents' tickets are not shown; see `similar_report`"}),
        "similar_report": fields.Nested(WorkflowSimilarReportSchema, required=True, allow_none=True, metadata={
            "description": "a report of the same category already open in the same building (or nearby), "
                           "without id, number or count; null when none"}),
    })
    return ScenarioSchemas(create=create, ticket=ticket, created=created)
