"""parking (停车预约 / 错峰共享 / 无感支付, L26, L27): the district's car parks on one map with
their tariff and the free spaces the operators' devices report; reservations of an arrival
window (the booking engine); 错峰共享 monthly contracts for a shared car park's hours; entry and
exit by plate (the cameras are telemetry devices) with the fee from the tariff, charged through
the ledger; debts when the barrier let a car go unpaid; operators' figures per day.

Its engines' configurations: config.py; its tables: models.py; rules: lots.py (map, nearby,
occupancy), contracts.py, reservations.py, gate.py (entries, exits, fees, debts), figures.py;
endpoints: routes.py; the staff console's pages: console.py.
"""
from __future__ import annotations

from app.scenario import Scenario
from scenarios.parking.config import BOOKING

SLUG = "parking"

SCENARIO = Scenario(
    slug=SLUG, title_zh="停车预约与错峰共享", title_en="Parking: reservations, off-peak sharing, pay on exit",
    seed_refs=("L26", "L27"), engines=("booking", "telemetry", "ledger", "qr"),
    roles=("resident", "parking_operator:manager", "parking_operator:staff", "device:camera", "device:sensor",
           "device:gate", "bureau:supervisor"),
    models=("scenarios.parking.models",),
    jobs=("scenarios.parking.jobs",),
    blueprints=("scenarios.parking.routes:blueprints",),
    console=("scenarios.parking.console:blueprints",),
    demo="scenarios.parking.demo:load",
    personal_data="scenarios.parking.personal_data:PERSONAL_DATA",
    config=BOOKING,
)
