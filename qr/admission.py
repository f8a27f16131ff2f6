"""Which purposes a scanner may admit at ``POST /api/v1/qr/verify``: configuration, not code.

A device admits by (its organisation's type, its kind); the most specific rule wins:
``(org_type, kind)``, then ``("*", kind)``, then ``(org_type, "*")``; no rule, nothing.
A staff member admits what any device of their acting organisation could admit (the union
over device kinds), so a doorman with a phone can stand in for a broken gate.

The defaults below follow one convention: a pass's purpose is the package name of the
scenario that issues it (``venue_booking`` for venue-booking). Place codes
(``place_checkin``) are scanned by residents, never verified here.

``QR_ADMISSION`` (JSON) adds or replaces rules: ``{"venue_operator/gate": ["personal",
"venue_booking"], "*/kiosk": []}``; an empty list withdraws a default rule.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from app.config import ConfigError, Settings
from auth.models import DEVICE_KINDS
from qr.models import PERSONAL_PURPOSE, PLACE_CHECKIN_PURPOSE
from qr.passes import PURPOSE_RE

ANY = "*"
Rule = tuple[str, str]  # (organisation type or "*", device kind or "*")

DEFAULT_RULES: dict[Rule, frozenset[str]] = {
    # 数字哨兵 at the door of any place: the resident's personal code only.
    (ANY, "sentinel"): frozenset({PERSONAL_PURPOSE}),
    # Gates and hand-held scanners of those who run places with bookable entry.
    ("venue_operator", "gate"): frozenset({PERSONAL_PURPOSE, "venue_booking"}),
    ("venue_operator", "scanner"): frozenset({PERSONAL_PURPOSE, "venue_booking"}),
    ("cultural_centre", "scanner"): frozenset({PERSONAL_PURPOSE, "culture_events", "elder_digital_class"}),
    ("school", "gate"): frozenset({PERSONAL_PURPOSE, "campus_safety", "school_enrollment"}),
    ("school", "scanner"): frozenset({PERSONAL_PURPOSE, "campus_safety", "skills_exam"}),
    ("hospital", "kiosk"): frozenset({PERSONAL_PURPOSE, "hospital_appointment"}),
    ("hospital", "scanner"): frozenset({PERSONAL_PURPOSE, "hospital_appointment"}),
    ("community_health_centre", "kiosk"): frozenset({PERSONAL_PURPOSE, "hospital_appointment", "rehab"}),
    ("community_health_centre", "scanner"): frozenset({PERSONAL_PURPOSE, "hospital_appointment", "rehab"}),
    ("parking_operator", "gate"): frozenset({"parking"}),
    ("charging_operator", "charger"): frozenset({"ev_charging"}),
    ("merchant", "scanner"): frozenset({"smart_commerce"}),
    # Lockers admit nothing here: a pickup pass is verified at POST /api/v1/parcel-locker/pickups,
    # which marks the parcel picked up in the same transaction (here it would be used up, the parcel not).
}


def parse_rules(raw: str | None) -> dict[Rule, frozenset[str]]:
    """``QR_ADMISSION`` → rules; a malformed value stops the process (ConfigError)."""
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError("QR_ADMISSION must be a JSON object") from exc
    if not isinstance(data, dict):
        raise ConfigError("QR_ADMISSION must be a JSON object")
    rules: dict[Rule, frozenset[str]] = {}
    for key, purposes in data.items():
        org_type, sep, kind = str(key).partition("/")
        if not sep or not org_type or not kind or (kind != ANY and kind not in DEVICE_KINDS):
            raise ConfigError(f"QR_ADMISSION: {key!r} is not 'org_type/device_kind'")
        if not isinstance(purposes, list) or not all(
                isinstance(p, str) and PURPOSE_RE.fullmatch(p) and p != PLACE_CHECKIN_PURPOSE for p in purposes):
            raise ConfigError(f"QR_ADMISSION: {key!r} needs a list of purposes (not place_checkin)")
        rules[(org_type, kind)] = frozenset(purposes)
    return rules


class Admission:
    """The rules in force: defaults overridden by ``QR_ADMISSION``."""

    def __init__(self, rules: Mapping[Rule, frozenset[str]]) -> None:
        self.rules = dict(rules)
        self._staff: dict[str, frozenset[str]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        return cls({**DEFAULT_RULES, **parse_rules(settings.get("QR_ADMISSION"))})

    def for_device(self, org_type: str | None, kind: str | None) -> frozenset[str]:
        org_type, kind = org_type or "", kind or ""
        for rule in ((org_type, kind), (ANY, kind), (org_type, ANY)):
            if rule in self.rules:
                return self.rules[rule]
        return frozenset()

    def for_staff(self, org_type: str | None) -> frozenset[str]:
        org_type = org_type or ""
        cached = self._staff.get(org_type)
        if cached is None:
            cached = frozenset().union(*(self.for_device(org_type, k) for k in DEVICE_KINDS))
            self._staff[org_type] = cached
        return cached


def current_admission() -> Admission:
    """The app's rules, parsed once per process."""
    from flask import current_app

    admission = current_app.extensions.get("qr_admission")
    if admission is None:
        admission = current_app.extensions["qr_admission"] = Admission.from_settings(
            current_app.extensions["settings"])
    return admission
