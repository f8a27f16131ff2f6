"""The listing engine's actions on one entry, as data: ``POST /listings/<id>/<path>``.

``service(session, *, clock, principal, config, entry, **arguments)`` returns the entry; one
generic view (routes.py) serves every row: visibility first (404), then the service decides
403/409.
"""
from __future__ import annotations

from app.action_routes import Action
from scenarios.engines.listing import service as svc
from scenarios.engines.listing.schemas import ListingEmptySchema, ListingReasonSchema

ACTIONS: tuple[Action, ...] = (
    Action("submit", ListingEmptySchema, svc.submit,
           "The owner sends a draft (or a rejected or withdrawn entry) for moderation; its text is checked.",
           "`listing_state_changed`"),
    Action("publish", ListingEmptySchema, svc.publish,
           "The moderating organisation publishes a submitted entry (once its text is cleared).",
           "`listing_state_changed`, `listing_moderation_pending`"),
    Action("reject", ListingReasonSchema, svc.reject,
           "The moderating organisation refuses a submitted entry or takes a published one down, with a reason.",
           "`listing_state_changed`"),
    Action("withdraw", ListingEmptySchema, svc.withdraw, "The owner takes their entry off.",
           "`listing_state_changed`"),
)
