"""Public, read-only API of the district's places: towns, communities, villages.

Coordinates are WGS84. Lists are paginated with the metadata in the body.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response
from flask.views import MethodView
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from app.api import Blueprint, PageArgs, Schema, fields, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.places import service
from app.places.directory import CommunityDirectory, unknown_town
from app.places.models import Community, Village
from auth.organisations import TOWN_LEVEL_TYPES, Organisation
from auth.visibility import PUBLIC, open_object

Q_MAX = 100


# ------------------------------------------------------------------ schemas

class PlacePointSchema(Schema):
    lat = fields.Float(required=True, metadata={"description": "WGS84 latitude"})
    lon = fields.Float(required=True, metadata={"description": "WGS84 longitude"})


class PlaceOrgRefSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class ManagingOrganisationSchema(PlaceOrgRefSchema):
    type = fields.String(required=True, metadata={"description": "property_company or housing_office (fallback)"})


class TownSchema(Schema):
    code = fields.String(required=True, metadata={"example": "310116101"})
    name = fields.String(required=True, metadata={"example": "朱泾镇"})
    type = fields.String(required=True, metadata={"description": "town, subdistrict or industrial_zone"})
    centre = fields.Nested(PlacePointSchema, allow_none=True)


class TownListSchema(Schema):
    items = fields.List(fields.Nested(TownSchema), required=True)


class CommunityArgs(PageArgs):
    town = fields.String(metadata={"description": "town code, e.g. 310116101"}, validate=ma.validate.Length(max=64))
    q = fields.String(
        metadata={"description": "text in the name or address (case-insensitive, literal)"},
        validate=ma.validate.Length(min=1, max=Q_MAX),
    )


class CommunitySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True, metadata={"description": "WGS84"})
    lon = fields.Float(required=True, metadata={"description": "WGS84"})
    households = fields.Integer(allow_none=True)
    generated = fields.Boolean(required=True, metadata={"description": "true when the row is made-up demo data"})
    town = fields.Nested(PlaceOrgRefSchema, required=True)


class BuildingSchema(Schema):
    number = fields.String(required=True, metadata={"description": "3 for 3号楼"})
    floors = fields.Integer(required=True)
    rooms_per_floor = fields.Integer(
        required=True, metadata={"description": "rooms are numbered floor + two digits: 302, 1203"}
    )


class CommunityDetailSchema(CommunitySchema):
    committee = fields.Nested(PlaceOrgRefSchema, allow_none=True)
    buildings = fields.List(fields.Nested(BuildingSchema), required=True)
    managing_organisation = fields.Nested(ManagingOrganisationSchema, required=True)
    managed_by_fallback = fields.Boolean(
        required=True, metadata={"description": "no property company today: the town's housing office is in charge"}
    )


class VillageArgs(PageArgs):
    town = fields.String(metadata={"description": "town code"}, validate=ma.validate.Length(max=64))
    demonstration = fields.Boolean(metadata={"description": "only the demonstration villages (示范村)"})


class VillageSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    town = fields.Nested(PlaceOrgRefSchema, required=True)
    committee = fields.Nested(PlaceOrgRefSchema, required=True)
    lat = fields.Float(required=True, metadata={"description": "WGS84"})
    lon = fields.Float(required=True, metadata={"description": "WGS84"})
    house_count = fields.Integer(required=True, metadata={"description": "houses are numbered 1..house_count"})
    demonstration = fields.Boolean(required=True)
    generated = fields.Boolean(required=True)
    attributes = fields.Dict(keys=fields.String())


# ------------------------------------------------------------------ helpers

def _check_town_if_empty(session: Session, town: str | None, page: dict[str, Any]) -> None:
    """An empty page for a town filter: was the town code wrong? (one query, only then)."""
    if town and page["total"] == 0 and service.find_town(session, town) is None:
        raise unknown_town(town)


def cache_seconds(settings: Any) -> float:
    """``PLACES_CACHE_SECONDS``: 30 by default, 0 (no snapshot) under ``APP_ENV=test``."""
    default = "0" if getattr(settings, "app_env", "") == "test" else "30"
    raw = settings.get("PLACES_CACHE_SECONDS", default) if settings is not None else default
    try:
        return max(0.0, float(raw or default))
    except ValueError:
        raise ValueError(f"PLACES_CACHE_SECONDS must be a number of seconds, not {raw!r}") from None


# ------------------------------------------------------------------ blueprint

def create_blueprint(directory: CommunityDirectory | None = None) -> Blueprint:
    directory = directory or CommunityDirectory(ttl=0)
    blp = Blueprint("places", __name__, url_prefix="/api/v1",
                    description="Towns, residential communities and villages of Jinshan (public, read-only)")

    @blp.route("/towns")
    class Towns(MethodView):
        @blp.response(200, TownListSchema)
        def get(self):
            """The district's 10 towns and subdistricts and its industrial zone."""
            session = get_session()
            towns = session.scalars(
                sa.select(Organisation).where(Organisation.type.in_(TOWN_LEVEL_TYPES)).order_by(Organisation.code)
            )
            return {"items": [
                {"code": t.code, "name": t.name, "type": t.type, "centre": (t.attributes or {}).get("centre")}
                for t in towns
            ]}

    @blp.route("/communities")
    class Communities(MethodView):
        @blp.arguments(CommunityArgs, location="query")
        @blp.response(200, page_of(CommunitySchema))
        def get(self, args):
            """Residential communities (小区), by town and text, ordered by code."""
            body = directory.page_json(get_session(), args)
            return Response(body, mimetype="application/json")

    @blp.route("/communities/<string:code>")
    class CommunityDetail(MethodView):
        @open_object("community", PUBLIC)
        @blp.response(200, CommunityDetailSchema)
        @blp.alt_response(404, description="No community with this code")
        def get(self, code: str):
            """One community with its buildings and who manages it today."""
            session = get_session()
            community = session.scalar(
                sa.select(Community)
                .options(joinedload(Community.town), joinedload(Community.committee),
                         joinedload(Community.fallback_owner), selectinload(Community.buildings))
                .where(Community.code == code)
            )
            if community is None:
                raise ApiError("not_found")
            managing = service.managing_organisation(session, community, service.local_date(current_clock()))
            return {
                "code": community.code, "name": community.name, "address": community.address,
                "lat": community.lat, "lon": community.lon, "households": community.households,
                "generated": community.generated, "town": community.town, "committee": community.committee,
                "buildings": sorted(community.buildings, key=service.building_sort_key),
                "managing_organisation": managing,
                "managed_by_fallback": managing.id == community.fallback_owner_id,
            }

    @blp.route("/villages")
    class Villages(MethodView):
        @blp.arguments(VillageArgs, location="query")
        @blp.response(200, page_of(VillageSchema))
        def get(self, args):
            """Villages: 星火村 (the smart-village pilot) and the demonstration villages."""
            session = get_session()
            stmt = (
                sa.select(Village)
                .join(Village.town)
                .options(contains_eager(Village.town), joinedload(Village.committee))
                .order_by(Village.code)
            )
            town = args.get("town")
            if town:
                stmt = stmt.where(Organisation.code == town)
            if "demonstration" in args:
                stmt = stmt.where(Village.demonstration.is_(args["demonstration"]))
            page = paginate(session, stmt, args)
            _check_town_if_empty(session, town, page)
            return page

    @blp.route("/villages/<string:code>")
    class VillageDetail(MethodView):
        @open_object("village", PUBLIC)
        @blp.response(200, VillageSchema)
        @blp.alt_response(404, description="No village with this code")
        def get(self, code: str):
            """One village."""
            village = get_session().scalar(
                sa.select(Village)
                .options(joinedload(Village.town), joinedload(Village.committee))
                .where(Village.code == code)
            )
            if village is None:
                raise ApiError("not_found")
            return village

    return blp


def blueprints(settings: Any) -> list[Blueprint]:
    return [create_blueprint(CommunityDirectory(ttl=cache_seconds(settings)))]
