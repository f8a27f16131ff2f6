"""What a scan is about: who scans (``Scanner``), whose code it is (``Holder``) and what a
verified code says (``Verified``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SCANNER_KINDS = ("device", "staff", "resident", "service")


@dataclass(frozen=True)
class Scanner:
    """Who scans: a device, a staff member, a resident (a landlord scanning a tenant), or
    a service acting on its own. Ids are internal ids, never personal data."""

    kind: str = "service"
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCANNER_KINDS:
            raise ValueError(f"unknown scanner kind {self.kind!r}")


@dataclass(frozen=True)
class Holder:
    """An opaque reference to whoever holds a code, e.g. ("person", 42)."""

    type: str
    id: int


@dataclass(frozen=True)
class Verified:
    kind: str  # "personal" or "pass"
    purpose: str
    ref: str | None
    sub: str  # the token's pseudonym: a handle for this scan only
    holder: Holder | None
    pass_id: int | None
    jti: str
    expires_at: datetime
    # A person holder's stored name and real-name level when the verify statement read them
    # along (PostgreSQL personal codes): ``qr.holders`` then needs no query of its own.
    holder_facts: tuple[str | None, str] | None = None
