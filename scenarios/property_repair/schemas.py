"""property-repair's own request fields: where (a residence) and its details."""
from __future__ import annotations

from marshmallow.validate import Length

from app.api import Schema, fields


class PropertyRepairLocationSchema(Schema):
    """Where the problem is: one of the caller's verified residences (the room comes from it)."""

    community_code = fields.String(validate=Length(min=1, max=64), metadata={
        "description": "a community where you have a verified residence (optional with one residence)"})
    residence_id = fields.Integer(metadata={"description": "which of your residences (needed with several)"})


class PropertyRepairDetailsSchema(Schema):
    public_area = fields.Boolean(load_default=False, metadata={
        "description": "the problem is in a shared area (stairwell, lift, courtyard), not inside the flat"})
    preferred_time = fields.String(load_default=None, allow_none=True, validate=Length(max=50), metadata={
        "description": "when a technician may come, free text (e.g. 工作日晚上)"})
