"""An organisation's devices (sentinels, gates, scanners, wearables…) for its staff: the list,
creating one (its secret shown once, on the answer's page only, never again), disabling or
re-enabling — the API's services (``auth.devices``, ``auth.staff_admin.managed_org``) behind
the visibility and limits of ``/api/v1/orgs/<code>/devices``."""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, g, redirect, url_for

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render
from app.db import get_session
from auth import devices, staff_admin
from auth.models import DEVICE_KINDS
from auth.ratelimit import rate_limit
from auth.roles import STAFF_MANAGERS
from auth.schemas import DeviceCreateSchema, DevicePatchSchema
from auth.visibility import visible_object

KIND_TITLES = {"sentinel": "数字哨兵", "gate": "道闸", "scanner": "扫码枪", "locker": "快件箱", "charger": "充电桩",
               "sensor": "传感器/手环", "kiosk": "自助终端", "camera": "摄像头", "meter": "计量表"}
assert set(KIND_TITLES) == set(DEVICE_KINDS)


def _manages(principal) -> bool:
    return principal.is_staff and principal.role in STAFF_MANAGERS


@cache  # built once: its views (and their rate limits) are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    blp = console_blueprint("devices", __name__, nav=(NavItem("本机构设备", "console_devices.mine", _manages),))

    def page(code: str, *, created: dict[str, Any] | None = None) -> str:
        session = get_session()
        org = devices.require_device_access(session, g.principal, code)
        rows = paginate(session, devices.of_org(org), {"page": 1, "page_size": 200})["items"]
        return render("console/devices.html", org=org, items=[devices.describe(d) for d in rows], kinds=KIND_TITLES,
                      may_create=_manages(g.principal), created=created)

    @blp.get("/devices")
    def mine():
        return redirect(url_for("console_devices.org_devices", code=g.principal.org_code))

    @blp.get("/orgs/<code>/devices")
    @visible_object("organisation", "code")
    def org_devices(code: str):
        return page(code)

    @blp.post("/orgs/<code>/devices")
    @visible_object("organisation", "code")
    @rate_limit("manage")
    def create(code: str):
        """A new device; its secret is on this answer's page only (stored as its SHA-256)."""
        session = get_session()
        org = staff_admin.managed_org(session, g.principal, code)
        args = form_args(DeviceCreateSchema)
        device, secret = devices.create_device(session, org=org, kind=args["kind"], name=args["name"])
        session.commit()
        return page(code, created={**devices.describe(device), "secret": secret})

    @blp.post("/orgs/<code>/devices/<device_id>")
    @visible_object("device", "code", "device_id")
    def change(code: str, device_id: str):
        session = get_session()
        org = devices.require_device_access(session, g.principal, code)
        devices.change(devices.device_of_org(session, org, device_id), form_args(DevicePatchSchema))
        session.commit()
        return redirect(url_for("console_devices.org_devices", code=code))

    return [blp]
