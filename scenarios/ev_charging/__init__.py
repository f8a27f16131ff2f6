"""ev-charging (公共充电桩预约, L2): the district's public charging piles with the state their devices
report (free, charging, fault; offline when silent), nearby search, reservation of a pile for a
30-minute arrival window, charging sessions started and stopped by the pile's device or by the
resident scanning the pile's place code, the fee from the pile's tariff paid through the ledger,
and the operators' view of piles, sessions and revenue per day.

Engines: booking (a pile is a whole-unit resource; its slots are the arrival windows; a
no-show releases it at the window's end), telemetry (the pile's status and energy readings,
``telemetry.py``), ledger (the fee, ``payments.py``), qr (the pile's place code). Own tables:
``models.py``; rules: ``piles.py``, ``sessions.py``, ``tariff.py``; routes: ``routes.py``.
"""
from __future__ import annotations

from datetime import timedelta

from app.scenario import Scenario, lazy
from scenarios.engines.booking.config import BookingConfig

CONFIG = BookingConfig(
    slug="ev-charging",
    title_zh="公共充电桩预约",
    pass_purpose="ev_charging",  # noqa: S106 (a QR purpose, not a password)
    owner_types=("charging_operator",),
    manager_roles=("manager",),
    checkin_roles=("manager", "staff"),
    needs_confirm=False,
    max_places=1,
    per_person_per_day=3,
    open_at_once=1,
    days_ahead=1,
    window_days=2,
    cancel_deadline=lambda starts_at: starts_at + timedelta(minutes=30),
    cancel_rule_zh="到达时段结束后不能取消",
    reminder_minutes=15,
    no_show_minutes=30,  # held for the whole arrival window, then released
    offer_minutes=10,
    act_scope="apply",
    personal_code_entry=False,
    may_reserve=lazy("scenarios.ev_charging.piles:may_reserve"),
)

SCENARIO = Scenario(
    slug=CONFIG.slug,
    title_zh=CONFIG.title_zh,
    title_en="Public EV charging",
    seed_refs=("L2",),
    engines=("booking", "telemetry", "ledger", "qr"),
    roles=("resident", "charging_operator:manager", "charging_operator:staff", "device:charger"),
    models=("scenarios.ev_charging.models",),
    jobs=("scenarios.ev_charging.telemetry", "scenarios.ev_charging.payments"),
    personal_data="scenarios.ev_charging.personal_data:PERSONAL_DATA",
    blueprints=("scenarios.ev_charging.routes:blueprints",),
    console=("scenarios.ev_charging.console:blueprints",),
    demo="scenarios.ev_charging.demo:load",
    config=CONFIG,
)
