"""The pilot communities of one-tap taxi (一键叫车) and their pick-up points, as data.

Eight to start (one per town or subdistrict that volunteered); adding one is a line here. A
pick-up point is a public place at the community's gate where a taxi may stop, so it can be
shown to drivers: never a resident's address.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PickupPoint:
    community: str  # the community's code
    name: str
    lat: float  # WGS84
    lon: float


PILOT: tuple[PickupPoint, ...] = (
    PickupPoint("310116001-c001", "瑞欣花园南门", 30.729202, 121.335974),
    PickupPoint("310116101-c001", "竹润华庭东门", 30.906891, 121.199092),
    PickupPoint("310116103-c001", "清锦华庭北门", 30.800063, 121.280344),
    PickupPoint("310116104-c001", "清盛华庭南门", 30.873981, 121.284238),
    PickupPoint("310116105-c001", "福馨园正门", 30.833138, 121.207005),
    PickupPoint("310116109-c001", "清金小区西门", 30.72104, 121.315867),
    PickupPoint("310116112-c001", "龙柳新城南门", 30.791436, 121.414656),
    PickupPoint("310116113-c001", "悦阳小区正门", 30.766059, 121.36006),
)

BY_COMMUNITY: dict[str, PickupPoint] = {p.community: p for p in PILOT}
