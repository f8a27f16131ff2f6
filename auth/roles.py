"""The one role catalogue: which roles exist in which type of organisation.

Staff hold roles through memberships (``auth.models.Membership``); a membership's role must
be in its organisation's list. ``STAFF_MANAGERS`` are the roles that manage an organisation's
own staff and devices. Scenarios name the roles they need from here (``roles_for``).
"""
from __future__ import annotations

from auth.organisations import ORG_TYPES

_OPERATOR = ("manager", "staff")

ROLE_CATALOGUE: dict[str, tuple[str, ...]] = {
    "district": ("admin", "staff"),
    "town": ("admin", "staff", "road_chief"),
    "subdistrict": ("admin", "staff"),
    "industrial_zone": ("admin", "staff"),
    "neighbourhood_committee": ("committee", "grid_worker", "volunteer"),
    "village_committee": ("committee", "grid_worker", "volunteer"),
    "bureau": ("supervisor", "staff", "road_chief"),
    "housing_office": ("manager", "staff"),
    "property_company": ("manager", "technician"),
    "hospital": ("admin", "doctor", "clerk", "followup", "department_head"),
    "community_health_centre": ("admin", "doctor", "clerk", "followup", "department_head"),
    "venue_operator": _OPERATOR,
    "parking_operator": _OPERATOR,
    "charging_operator": _OPERATOR,
    "taxi_company": ("manager", "staff", "driver"),
    "call_centre": ("manager", "staff", "operator", "call_taker"),
    "school": ("manager", "staff", "teacher"),
    "employer": ("manager", "staff"),
    "merchant": ("manager", "staff"),
    "cultural_centre": ("manager", "staff", "trainer"),
    "locker_operator": _OPERATOR,
}

ROLE_TITLES: dict[str, str] = {
    "admin": "管理员",
    "staff": "工作人员",
    "committee": "委员",
    "grid_worker": "网格员",
    "volunteer": "志愿者",
    "supervisor": "监管人员",
    "manager": "经理",
    "technician": "维修工",
    "doctor": "医生",
    "clerk": "窗口人员",
    "driver": "司机",
    "operator": "接线员",
    "teacher": "教师",
    "trainer": "培训师",
    "road_chief": "路长",
    "call_taker": "热线受理员",
    "followup": "随访专员",
    "department_head": "科主任",
}

# Roles that manage their own organisation's staff and devices.
STAFF_MANAGERS = frozenset({"admin", "manager", "committee"})

assert set(ROLE_CATALOGUE) == set(ORG_TYPES), "every organisation type needs its roles"
assert all(r in ROLE_TITLES for roles in ROLE_CATALOGUE.values() for r in roles)


def roles_for(org_type: str) -> tuple[str, ...]:
    return ROLE_CATALOGUE.get(org_type, ())


def is_valid_role(org_type: str, role: str) -> bool:
    return role in roles_for(org_type)


def all_roles() -> frozenset[str]:
    return frozenset(r for roles in ROLE_CATALOGUE.values() for r in roles)
