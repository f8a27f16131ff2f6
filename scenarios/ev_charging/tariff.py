"""A pile's tariff: an energy price and a service fee per kWh, in fen, with optional time-of-use
bands (峰谷电价) that set the energy price between two Beijing times of day.

Energy is counted in Wh and accrued in milli-fen (fen per kWh × Wh = thousandths of a fen), each
increment at the price in force when the device reported it, so a session crossing from a peak
into a valley band pays each part at its own price. The fee is rounded once, at stop, half up.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any

from app.errors import ApiError
from app.fields import CST

DAY_MINUTES = 24 * 60


def check_bands(bands: Iterable[Mapping[str, Any]]) -> list[dict[str, int]]:
    """Bands as stored: ``from_minute < to_minute`` within a day, not overlapping (a night band
    crossing midnight is two bands). 422 ``validation_error`` on ``tou`` otherwise."""
    out: list[dict[str, int]] = []
    for band in bands:
        start, end, price = band["from_minute"], band["to_minute"], band["energy_fen_per_kwh"]
        if not (0 <= start < end <= DAY_MINUTES) or price < 0:
            raise ApiError("validation_error", errors={"tou": ["时段须在一天之内（0–1440 分钟）且价格不为负。"]})
        out.append({"from_minute": start, "to_minute": end, "energy_fen_per_kwh": price})
    out.sort(key=lambda b: b["from_minute"])
    for a, b in pairwise(out):
        if b["from_minute"] < a["to_minute"]:
            raise ApiError("validation_error", errors={"tou": ["时段不能重叠。"]})
    return out


def energy_price(base_fen: int, bands: Iterable[Mapping[str, int]], at: datetime) -> int:
    """Fen per kWh of energy at ``at``: the band's price inside a band, else ``base_fen``."""
    local = at.astimezone(CST)
    minute = local.hour * 60 + local.minute
    for band in bands:
        if band["from_minute"] <= minute < band["to_minute"]:
            return int(band["energy_fen_per_kwh"])
    return base_fen


def price_per_kwh(pile: Any, at: datetime) -> int:
    """Energy plus service, fen per kWh, at ``at``."""
    return energy_price(pile.energy_fen_per_kwh, pile.tou or (), at) + pile.service_fen_per_kwh


def accrue_milli_fen(pile: Any, wh: int, at: datetime) -> int:
    """The fee of ``wh`` delivered at ``at``, in thousandths of a fen."""
    return wh * price_per_kwh(pile, at)


def round_fen(milli_fen: int) -> int:
    """Milli-fen to fen, half up (amounts are never negative)."""
    return (milli_fen + 500) // 1000
