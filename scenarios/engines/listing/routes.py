"""HTTP API of a listing scenario, mounted at ``/api/v1/<slug>``, built from its config.

``GET /listings`` searches published entries; ``POST /listings`` makes a draft
(``Idempotency-Key``); ``GET /listings/mine`` the caller's own; ``GET /listings/review`` the
moderating organisation's queue; ``GET /listings/<id>``; the actions of ``actions.ACTIONS``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.action_routes import Action, mount
from app.api import Blueprint, ErrorSchema, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import Principal, current_principal, require_auth, require_resident, require_staff
from auth.visibility import loaded, visible_object
from scenarios.engines.listing import search
from scenarios.engines.listing import service as svc
from scenarios.engines.listing.actions import ACTIONS
from scenarios.engines.listing.config import ListingConfig
from scenarios.engines.listing.models import SUBJECT, LsEntry
from scenarios.engines.listing.schemas import (
    ListingCreateSchema,
    ListingMineArgs,
    ListingSchema,
    ListingSearchArgs,
)
from scenarios.engines.listing.visibility import register_object_types


def entry_view(session, entry: LsEntry, principal: Principal, config: ListingConfig, *,
               lat: float | None = None, lon: float | None = None, with_history: bool = False) -> dict[str, Any]:
    mine = principal.is_resident and principal.account_id == entry.owner_account_id
    view = {c: getattr(entry, c) for c in ("id", "scenario", "category", "place", "title", "text", "address",
                                          "lat", "lon", "price_fen", "photos", "details", "state", "reason", "rank",
                                          "published_at")}
    view["mine"] = mine
    view["distance_m"] = search.distance_m(entry, lat, lon)
    if with_history and (mine or svc.is_moderator(principal, config, entry)
                         or (principal.is_staff and principal.org_id == entry.moderator_org_id)):
        view["history"] = [{"action": e.action, "from_state": e.from_state, "to_state": e.to_state,
                            "note": e.note, "at": e.at} for e in svc.history(session, entry)]
    return view


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _of_scenario(config: ListingConfig) -> LsEntry:
    entry = loaded(SUBJECT)
    if entry.scenario != config.slug:
        raise ApiError("not_found")
    return entry


def make_blueprint(config: ListingConfig) -> Blueprint:
    register_object_types()
    slug = config.slug
    blp = Blueprint(f"{slug}-listings", __name__, url_prefix=f"/api/v1/{slug}",
                    description=f"{config.title_zh}: listings ({slug}), on the listing engine.")

    @blp.route("/listings")
    class Listings(MethodView):
        @require_auth(kinds=("resident", "staff"))
        @blp.arguments(ListingSearchArgs, location="query")
        @blp.response(200, page_of(ListingSchema, f"{config.schema_prefix}ListingPageSchema"))
        def get(self, args):
            """Published entries: ``q`` (text), ``category``, ``price_min``/``price_max`` (fen), ``lat``,
            ``lon`` and ``radius_m`` (WGS84; nearest first); recommended entries first."""
            session = get_session()
            page_args = {"page": args.pop("page"), "page_size": args.pop("page_size")}
            if args.get("radius_m") is not None and (args.get("lat") is None or args.get("lon") is None):
                raise ApiError("validation_error", errors={"radius_m": ["须同时提供 lat 和 lon"]})
            search.custom_plans(session)
            page = search.page(session, config, args, page_args)
            principal = current_principal()
            return search.answer({**page, "items": [entry_view(session, e, principal, config, lat=args.get("lat"),
                                                               lon=args.get("lon")) for e in page["items"]]})

        @idempotent
        @require_resident
        @blp.arguments(ListingCreateSchema)
        @blp.response(201, ListingSchema)
        @_err(blp, 422, "`listing_unknown_category`, `price_not_positive`, `validation_error` (``details.<field>``)")
        def post(self, args):
            """A draft entry of yours; ``submit`` it for moderation."""
            session = get_session()
            principal = current_principal()
            entry = svc.create(session, clock=current_clock(), principal=principal, config=config, data=args)
            answer = entry_view(session, entry, principal, config, with_history=True)
            session.commit()
            return answer

    @blp.route("/listings/mine")
    class Mine(MethodView):
        @require_resident
        @blp.arguments(ListingMineArgs, location="query")
        @blp.response(200, page_of(ListingSchema, f"{config.schema_prefix}ListingPageSchema"))
        def get(self, args):
            """Your entries in every state, newest first."""
            session = get_session()
            principal = current_principal()
            stmt = sa.select(LsEntry).where(LsEntry.scenario == slug, LsEntry.owner_account_id == principal.account_id)
            state = args.pop("state")
            if state:
                stmt = stmt.where(LsEntry.state == state)
            page = paginate(session, stmt.order_by(LsEntry.id.desc()), args)
            return {**page, "items": [entry_view(session, e, principal, config) for e in page["items"]]}

    @blp.route("/listings/review")
    class Review(MethodView):
        @require_staff
        @blp.arguments(ListingMineArgs, location="query")
        @blp.response(200, page_of(ListingSchema, f"{config.schema_prefix}ListingPageSchema"))
        def get(self, args):
            """Your organisation's entries to moderate (``state``, default ``submitted``), oldest first."""
            session = get_session()
            principal = current_principal()
            state = args.pop("state") or "submitted"
            stmt = (sa.select(LsEntry).where(LsEntry.scenario == slug, LsEntry.moderator_org_id == principal.org_id,
                                             LsEntry.state == state).order_by(LsEntry.updated_at, LsEntry.id))
            page = paginate(session, stmt, args)
            return {**page, "items": [entry_view(session, e, principal, config) for e in page["items"]]}

    @blp.route("/listings/<int:listing_id>")
    class Item(MethodView):
        @visible_object(SUBJECT, "listing_id")
        @require_auth
        @blp.response(200, ListingSchema)
        def get(self, listing_id: int):
            """An entry (published: everyone signed in; else its owner and moderators), with its history
            for them."""
            session = get_session()
            return entry_view(session, _of_scenario(config), current_principal(), config, with_history=True)

    for action in ACTIONS:
        _action_view(blp, config, action)
    return blp


def _action_view(blp: Blueprint, config: ListingConfig, action: Action) -> None:
    def run(action: Action, args: dict[str, Any], listing_id: int) -> dict[str, Any]:
        session = get_session()
        principal = current_principal()
        entry = action.service(session, clock=current_clock(), principal=principal, config=config,
                               entry=_of_scenario(config), **args)
        answer = entry_view(session, entry, principal, config, with_history=True)
        session.commit()
        return answer

    mount(blp, action, rule=f"/listings/<int:listing_id>/{action.path}", endpoint=f"listing_{action.path}",
          view_name=f"{config.schema_prefix}Listing{action.path.capitalize()}View", run=run,
          wraps=(_err(blp, 409, action.errors),
                 _err(blp, 403, "Not yours to do (the owner submits and withdraws; moderators decide)"),
                 blp.response(200, ListingSchema), blp.arguments(action.schema), require_auth,
                 visible_object(SUBJECT, "listing_id"), idempotent))


def scenario_blueprints(config: ListingConfig) -> list[Blueprint]:
    """The engine's ``scenario_blueprints``: a scenario's listing endpoints."""
    return [make_blueprint(config)]
