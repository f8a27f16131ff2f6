"""The export hook: each engine or scenario contributes its part of a person's data by name.

An ``Engine`` or ``Scenario`` names its ``PersonalData`` in the registry (``personal_data=
"package.module:PERSONAL_DATA"``); the application factory hands them all to ``install``. A
part says which tables it covers and how to collect a person's rows from them. A table that
holds personal data (a foreign key to ``persons`` or ``accounts``, or an encrypted column) must
be covered by some part or be listed in ``NOT_EXPORTED`` with its reason:
``tests/app/privacy/test_parts.py`` fails otherwise, so a new scenario cannot forget.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.privacy.retention import Keep


@dataclass(frozen=True)
class Subject:
    """Whose data is collected: the person and their accounts (a person without an account,
    such as a child, has none)."""

    person_id: int
    account_ids: tuple[int, ...]
    clock: Clock


Rows = list[dict[str, Any]]
Collect = Callable[[Session, Subject], Mapping[str, Rows]]


@dataclass(frozen=True)
class Section:
    """One section of the export: its key in ``data.json`` and its Chinese title."""

    key: str
    title_zh: str


@dataclass(frozen=True)
class PersonalData:
    """A part of the export. ``collect(session, subject)`` returns ``{section key: rows}``;
    other people's personal data in the rows is masked by the part (``auth.pii.mask_*``).
    ``retention``: how long each of its tables keeps personal data (``app.privacy.retention``)."""

    name: str
    tables: tuple[str, ...]
    sections: tuple[Section, ...]
    collect: Collect
    retention: tuple[Keep, ...] = ()


PARTS: dict[str, PersonalData] = {}

PERSON_TABLES = ("persons", "accounts")

NOT_EXPORTED: dict[str, str] = {
    "refresh_tokens": "login credentials (hashes), not information about the person",
    "verification_codes": "one-time codes (hashes), deleted within minutes",
    "upload_quota_days": "a daily counter of uploads, deleted the next day",
    "staff_known_addresses": "sign-in addresses of staff accounts, kept for throttling only",
    "wf_sla_policies": "who changed an SLA policy: a staff member's work, not their personal data",
    "escalation_chains": "who changed an escalation chain: a staff member's work, not their personal data",
    "road_notices": "who published a road notice: a staff member's work",
    "sv_notices": "who published a village notice: a committee member's work",
    "data_exports": "the exports themselves (the files are the export)",
    "sms_messages": "an SMS record holds a phone number and no person: found only through the outbox",
}
"""Tables holding a person or account reference that the export leaves out, and why."""


def install(parts: Iterable[PersonalData]) -> None:
    """Register the parts the registry names (again with the same part is harmless)."""
    for part in parts:
        old = PARTS.get(part.name)
        if old is not None and old != part:
            raise ValueError(f"personal data part {part.name!r} is already registered")
        PARTS[part.name] = part


def covered_tables() -> set[str]:
    return {table for part in PARTS.values() for table in part.tables}


def person_data_tables(metadata: sa.MetaData) -> set[str]:
    """Tables holding personal data: a foreign key to a person or an account, or an encrypted column."""
    from auth.pii import EncryptedText

    found = set()
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText) or any(
                    fk.column.table.name in PERSON_TABLES for fk in column.foreign_keys):
                found.add(table.name)
    return found


def plain(obj: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A row's columns as JSON values (times in ISO 8601), without ``exclude``."""
    skip = set(exclude)
    out: dict[str, Any] = {}
    for column in sa.inspect(type(obj)).columns:
        if column.key in skip:
            continue
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime | date) else value
    return out


def collect(session: Session, subject: Subject) -> dict[str, dict[str, Any]]:
    """Every part's sections for ``subject``: ``{section key: {"title_zh", "part", "rows"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for part in sorted(PARTS.values(), key=lambda p: (p.name != "platform", p.name)):
        found = part.collect(session, subject)
        for section in part.sections:
            out[section.key] = {"title_zh": section.title_zh, "part": part.name,
                                "rows": list(found.get(section.key, []))}
    return out
