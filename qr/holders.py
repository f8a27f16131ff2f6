"""What a scanner may learn about a code's holder: a masked name and the real-name level.

Nothing else leaves here: no phone, no ID number, no person id. Only the name column is
read (and decrypted); the other personal columns are not even loaded. The QR layer keeps
holders opaque (``Holder("person", 42)``); this is the one place that turns a person
holder into what a door or a gate shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qr.service import Holder

PERSON = "person"


@dataclass(frozen=True)
class HolderView:
    masked_name: str | None
    real_name_level: str


@cache
def _person_view() -> sa.Select:
    """Built once: verify is on the hot path."""
    from auth.models import Person

    return sa.select(Person.name, Person.real_name_level).where(Person.id == sa.bindparam("id"))


def holder_view(session: Session, holder: Holder | None,
                facts: tuple[str | None, str] | None = None) -> HolderView | None:
    """The masked view of a person holder; None for other holders (a place) or none.
    ``facts``: the person's (name, real-name level) when the caller already read them
    (``Verified.holder_facts``), which saves the query."""
    if holder is None or holder.type != PERSON:
        return None
    from auth.pii import mask_name

    if facts is not None:
        return HolderView(masked_name=mask_name(facts[0]), real_name_level=facts[1])
    row = session.connection().execute(_person_view(), {"id": holder.id}).first()
    if row is None:
        return HolderView(masked_name=None, real_name_level="none")
    return HolderView(masked_name=mask_name(row.name), real_name_level=row.real_name_level)


def describe(view: HolderView | None) -> dict | None:
    if view is None:
        return None
    return {"masked_name": view.masked_name, "real_name_level": view.real_name_level}
