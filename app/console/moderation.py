"""The moderation queue for moderators (district administrators, ``MODERATION_ORG_CODES``:
区城运中心): text and photos waiting for review, cleared or rejected with a reason — the API's
services (``app.moderation``), its visibility first on each item."""
from __future__ import annotations

from functools import cache

from flask import Blueprint, current_app, g, redirect, request, url_for

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.moderation import service
from app.moderation.routes import ClearSchema, ModerationQuerySchema, RejectSchema, is_moderator, with_uploads
from auth.visibility import visible_object

STATES = {"pending_review": "待审核", "cleared": "已通过", "rejected": "已驳回"}


def _moderates(principal) -> bool:
    return is_moderator(principal, current_app.extensions["settings"])


def _decide(item_id: int, decision: str, schema: type) -> object:
    if not _moderates(g.principal):
        raise ApiError("forbidden")
    session = get_session()
    args = form_args(schema)
    service.decide(session, item_id=item_id, decision=decision, clock=current_clock(),
                   staff_account_id=g.principal.account_id, reason=args.get("reason"))
    session.commit()
    return redirect(url_for("console_moderation.items", done=decision))


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    blp = console_blueprint("moderation", __name__, nav=(NavItem("内容审核", "console_moderation.items", _moderates),))

    @blp.get("/moderation")
    def items():
        if not _moderates(g.principal):
            raise ApiError("forbidden")
        args = form_args(ModerationQuerySchema)
        paging = {"page": args.pop("page", 1), "page_size": args.pop("page_size", 50)}
        page = paginate(get_session(), service.queue(**args), paging)
        return render("console/moderation.html", items=with_uploads(list(page["items"])), page=page,
                      state=args["state"], states=STATES, done=request.args.get("done"))

    @blp.post("/moderation/<int:item_id>/clear")
    @visible_object("moderation_item", "item_id")
    def clear(item_id: int):
        return _decide(item_id, "cleared", ClearSchema)

    @blp.post("/moderation/<int:item_id>/reject")
    @visible_object("moderation_item", "item_id")
    def reject(item_id: int):
        return _decide(item_id, "rejected", RejectSchema)

    return [blp]
