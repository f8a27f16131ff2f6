"""parcel-locker (智能快件箱取件, L1): locker operators' lockers (devices) at communities, with
cells of sizes; a courier's delivery stores a parcel in a free cell for a recipient found by
phone, who is told and picks up with a single-use pass the locker verifies (or a relative they
name does); overdue after 24 h a reminder, after 72 h the operator retrieves it.

Not a workflow scenario: nobody handles a parcel under an SLA; it is custody of a cell moved by
devices. Not the booking engine's unit either: a cell is not booked for a time slot by the one
who uses it. Its own small state machine on the platform's parts: the QR layer's single-use
pass, timers, the outbox, and a partial unique index (a cell holds one stored parcel).
Rules: ``service.py``; routes: ``routes.py``; the timer: ``jobs.py``.
"""
from __future__ import annotations

from app.scenario import Scenario

SCENARIO = Scenario(
    slug="parcel-locker",
    title_zh="智能快件箱取件",
    title_en="Parcel lockers",
    seed_refs=("L1",),
    engines=("qr",),
    roles=("resident", "locker_operator:manager", "locker_operator:staff", "device:locker"),
    models=("scenarios.parcel_locker.models",),
    jobs=("scenarios.parcel_locker.jobs",),
    personal_data="scenarios.parcel_locker.personal_data:PERSONAL_DATA",
    blueprints=("scenarios.parcel_locker.routes:blueprints",),
    console=("scenarios.parcel_locker.console:blueprints",),
    demo="scenarios.parcel_locker.demo:load",
)
