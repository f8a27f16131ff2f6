"""Who sees a listing entry (``ls_entry``, registered with ``auth.visibility``): a published
entry, everyone signed in; any other, its owner and the moderating organisation's staff."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.visibility import register
from scenarios.engines.listing.models import SUBJECT, LsEntry


def _entry(session: Session, key: Any) -> LsEntry | None:
    return session.get(LsEntry, key) if isinstance(key, int) and 0 < key < 2**63 else None


def sees_entry(session: Session, principal: Principal, entry: LsEntry) -> bool:
    if entry.state == "published" and principal.kind in ("resident", "staff"):
        return True
    if principal.is_resident:
        return principal.account_id == entry.owner_account_id
    return principal.is_staff and principal.org_id == entry.moderator_org_id


def register_object_types() -> None:
    register(SUBJECT, load=_entry, visible=sees_entry,
             description="a listing entry (published: everyone signed in; else its owner and moderators)")
