"""rural-rental (出租房屋"旅馆式"管理, L34): villagers register houses and rooms; the village
committee inspects them (only its own village's); passed houses' rooms are listed and searched
on the listing engine (green-card houses first); the landlord submits each tenancy and the
committee approves it on the approval engine (租前审批) without a room ever holding more tenants
than its limit. Its own tables: models.py; its rules: service.py; its endpoints: routes.py.
"""
from __future__ import annotations

from app.places.facts import provide
from app.scenario import lazy
from scenarios.engines.approval.config import ApprovalConfig
from scenarios.engines.approval.config import register as register_approval
from scenarios.engines.listing.config import ListingConfig, listing_scenario
from scenarios.rural_rental.schemas import TenancyFormSchema

SLUG = "rural-rental"


def _committee_moderates(session, *, principal, data):  # rooms are listed by inspection, not by this route
    from app.errors import ApiError
    raise ApiError("forbidden")


CONFIG = ListingConfig(slug=SLUG, title_zh="出租房屋", categories=("room",),
                       moderator_for=_committee_moderates, moderator_roles=("committee",), price_required=True)

TENANCY = register_approval(ApprovalConfig(
    slug=SLUG, title_zh="出租房屋租前审批", form_schema=TenancyFormSchema,
    reviewer_for=lazy("scenarios.rural_rental.service:reviewer_for"),
    rules=(lazy("scenarios.rural_rental.service:room_of_landlord"),
           lazy("scenarios.rural_rental.service:tenants_verified"),
           lazy("scenarios.rural_rental.rental_requests:request_accepted")),
    reviewer_roles=("committee",), review_hours=16,
    on_decision=lazy("scenarios.rural_rental.service:on_tenancy_decision"),
    on_resubmit=lazy("scenarios.rural_rental.service:on_tenancy_resubmit")))

provide("rental", lazy("scenarios.rural_rental.facts:village_rental"))

SCENARIO = listing_scenario(
    CONFIG, title_en="Rural rental housing", seed_refs=("L34",), engines=("listing", "approval"),
    roles=("resident", "village_committee:committee"), models=("scenarios.rural_rental.models",),
    jobs=("scenarios.rural_rental.jobs",),
    blueprints=("scenarios.rural_rental.routes:blueprints",), demo="scenarios.rural_rental.demo:load",
    console=("scenarios.rural_rental.console:blueprints",),
    personal_data="scenarios.rural_rental.personal_data:PERSONAL_DATA",
)
