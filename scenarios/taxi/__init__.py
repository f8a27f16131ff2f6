"""一键叫车 (L26): residents of the pilot communities call a taxi with one tap from their
community's pick-up point; the nearest free driver of the partner taxi companies is offered it
for 20 seconds, then the next; drivers (staff of their company, role ``driver``) go on duty,
report positions, accept, arrive, start and complete with the fare. Taxi companies see their
drivers and rides; 区交通委 the figures per community and day.

Only what is its own lives here: the pilot communities (pilot.py), who rides from where
(policy.py), its fields (schemas.py), its states after acceptance and demo data (demo.py).
Everything else is the dispatch engine.
"""
from __future__ import annotations

from datetime import timedelta

from scenarios.engines.dispatch.config import DispatchConfig, Stage, dispatch_scenario
from scenarios.taxi.policy import origin, vehicle
from scenarios.taxi.schemas import TaxiCompleteSchema, TaxiRideRequestSchema, TaxiVehicleSchema

TRANSPORT = "310116-bureau-transport"  # 区交通委

CONFIG = DispatchConfig(
    slug="taxi",
    title_zh="一键叫车",
    job_noun="rides",
    agent_org_type="taxi_company",
    agent_roles=("driver",),
    origin=origin,
    request_schema=TaxiRideRequestSchema,
    private_fields=("destination", "location"),
    stages=(
        Stage("arrived", "accepted", "arriving", "At the pick-up point: the resident is told the car is waiting "
              "(state `arriving`: the passenger is on their way to it).", stamp="arrived_at"),
        Stage("start", "arriving", "in_trip", "The passenger is aboard: the trip starts.", stamp="started_at"),
        Stage("complete", "in_trip", "completed", "The trip ends, with the fare in fen.", schema=TaxiCompleteSchema),
    ),
    batch_size=1,
    offer_timeout=timedelta(seconds=20),
    radii_m=(3000, 6000, 10000),
    max_offers=8,
    max_rounds=10,
    position_max_age=timedelta(seconds=60),
    position_retention=timedelta(days=7),
    requester_cancel_from=("requested", "offered", "accepted", "arriving"),
    agent_cancel_from=("accepted", "arriving"),
    overseer_orgs=(TRANSPORT,),
    notify_channel="auto",
    templates={"offer": "taxi_offer", "accepted": "taxi_accepted", "arrived": "taxi_arrived",
               "unserved": "taxi_unserved", "cancelled": "taxi_cancelled"},
    agent_details_schema=TaxiVehicleSchema,
    agent_view=vehicle,
)

SCENARIO = dispatch_scenario(
    CONFIG,
    title_en="One-tap taxi",
    seed_refs=("L26",),
    roles=("resident", "taxi_company:driver", "taxi_company:manager", "taxi_company:staff", "bureau:supervisor",
           "bureau:staff"),
    demo="scenarios.taxi.demo:load",
    console=("scenarios.taxi.console:blueprints",),
)
