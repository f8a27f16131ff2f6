"""Which call centre answers, and where an alarm is served from (for the engine's ``origin``)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from auth.models import Device
from auth.organisations import Organisation
from scenarios.elderly_sos.models import SosDevice, SosEnrolment

CALL_CENTRE = "310116-sos-call-centre"
"""The district's elderly emergency call centre (its operators answer every alarm)."""
CIVIL_AFFAIRS = "310116-bureau-civil-affairs"
"""区民政局: enrols anyone in the district and supervises the call centre."""
DISTRICT_CENTRE = (30.7417, 121.3412)
"""Where an alarm of nobody known is placed (the district's centre): the operator calls back."""


def call_centre(session: Session, device: SosDevice | None = None) -> Organisation:
    """The device's own call centre, else the district's."""
    if device is not None:
        org = session.scalar(sa.select(Organisation).join(Device, Device.organisation_id == Organisation.id)
                             .where(Device.id == device.device_id))
        if org is not None and org.type == "call_centre":
            return org
    org = session.scalar(sa.select(Organisation).where(Organisation.code == CALL_CENTRE))
    if org is None:
        raise ApiError("sos_no_call_centre")
    return org


def home_point(enrolment: SosEnrolment | None) -> tuple[float, float]:
    """The person's home (decrypted), else the district's centre."""
    if enrolment is not None and enrolment.home_point:
        lat, lon = (float(x) for x in enrolment.home_point.split(","))
        return lat, lon
    return DISTRICT_CENTRE
