"""The approval engine's actions on one application, as data: ``POST /applications/<id>/<path>``."""
from __future__ import annotations

from app.action_routes import Action
from scenarios.engines.approval import service as svc
from scenarios.engines.approval.schemas import (
    ApplicationAskMoreSchema,
    ApplicationEmptySchema,
    ApplicationNoteSchema,
    ApplicationRejectSchema,
    ApplicationResubmitSchema,
)

ACTIONS: tuple[Action, ...] = (
    Action("approve", ApplicationNoteSchema, svc.approve, "The reviewing organisation approves.",
           "`application_state_changed` (decided already: one decision)"),
    Action("reject", ApplicationRejectSchema, svc.reject,
           "The reviewing organisation rejects, with reasons the applicant sees.", "`application_state_changed`"),
    Action("ask-more", ApplicationAskMoreSchema, svc.ask_more,
           "The reviewing organisation asks for more (the deadline stops until the applicant resubmits).",
           "`application_state_changed`"),
    Action("resubmit", ApplicationResubmitSchema, svc.resubmit,
           "The applicant answers with a corrected form; the deadline restarts.",
           "`application_state_changed`; 422 `not_eligible`"),
    Action("withdraw", ApplicationEmptySchema, svc.withdraw, "The applicant withdraws an open application.",
           "`application_state_changed`"),
)
