"""State changes of listing entries: create (a draft), submit, publish, reject, withdraw.

Services take the session, the clock, the acting principal and the scenario's config; each
change is a compare-and-set on the expected state (two moderators deciding at once: one
wins, the other gets 409 ``listing_state_changed``) and leaves an ``ls_events`` row. Text is
checked by the platform's moderation on submit: an entry whose text is refused cannot be
published.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.api import flatten_messages
from app.clock import Clock
from app.errors import ApiError
from app.moderation import service as moderation
from auth.principal import Principal
from scenarios.engines.listing.config import ListingConfig
from scenarios.engines.listing.models import SUBJECT, LsEntry, LsEvent


def _search_text(title: str, text: str, address: str) -> str:
    return " ".join(part for part in (title, text, address) if part).lower()[:2400]


def validate_details(config: ListingConfig, details: Any) -> dict:
    """The scenario's ``details`` loaded by its schema (422 ``validation_error`` naming ``details.<field>``)."""
    if config.details_schema is None:
        return dict(details or {})
    try:
        return config.details_schema().load(details or {})
    except ma.ValidationError as exc:
        raise ApiError("validation_error", errors=flatten_messages(exc.messages, "details")) from exc


def _check_fields(config: ListingConfig, data: dict) -> None:
    if data["category"] not in config.categories:
        raise ApiError("listing_unknown_category", errors={"category": [f"可选：{'、'.join(config.categories)}"]})
    price = data.get("price_fen")
    if config.price_required and (price is None or price <= 0):
        raise ApiError("price_not_positive", errors={"price_fen": ["须为大于 0 的整数（分）"]})
    if price is not None and price < 0:
        raise ApiError("price_not_positive", errors={"price_fen": ["不能为负数"]})
    if (data.get("lat") is None) != (data.get("lon") is None):
        raise ApiError("validation_error", errors={"lat": ["经纬度须同时提供"]})
    if len(data.get("photos") or ()) > config.max_photos:
        raise ApiError("validation_error", errors={"photos": [f"最多 {config.max_photos} 张"]})


def _event(session: Session, entry: LsEntry, *, action: str, before: str | None, clock: Clock,
           principal: Principal, note: str | None = None) -> None:
    session.add(LsEvent(entry_id=entry.id, action=action, from_state=before, to_state=entry.state,
                        account_id=principal.account_id, note=note, at=clock.now()))


def create(session: Session, *, clock: Clock, principal: Principal, config: ListingConfig,
           data: dict) -> LsEntry:
    """A draft entry owned by the caller, moderated by the organisation the scenario names."""
    _check_fields(config, data)
    details = validate_details(config, data.get("details"))
    if config.may_create is not None:
        config.may_create(session, principal=principal, data={**data, "details": details})
    org_id = config.moderator_for(session, principal=principal, data={**data, "details": details})
    now = clock.now()
    entry = LsEntry(
        scenario=config.slug, owner_account_id=principal.account_id, owner_person_id=principal.person_id,
        moderator_org_id=org_id, category=data["category"], title=data["title"], text=data.get("text") or "",
        address=data.get("address") or "", lat=data.get("lat"), lon=data.get("lon"),
        price_fen=data.get("price_fen"), photos=list(data.get("photos") or ()), details=details,
        search_text=_search_text(data["title"], data.get("text") or "", data.get("address") or ""),
        rank=0, state="draft", created_at=now, updated_at=now)
    session.add(entry)
    session.flush()
    _event(session, entry, action="create", before=None, clock=clock, principal=principal)
    return entry


def _cas(session: Session, entry: LsEntry, *, expected: tuple[str, ...], to: str, clock: Clock,
         **values: Any) -> None:
    """Move ``entry`` to ``to`` only if it is still in one of ``expected`` (409 otherwise)."""
    now = clock.now()
    changed = session.execute(
        sa.update(LsEntry).where(LsEntry.id == entry.id, LsEntry.state.in_(expected))
        .values(state=to, updated_at=now, **values).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        session.refresh(entry)
        raise ApiError("listing_state_changed", detail={"state": entry.state})
    session.refresh(entry)


def _is_owner(principal: Principal, entry: LsEntry) -> bool:
    return principal.is_resident and principal.account_id == entry.owner_account_id


def is_moderator(principal: Principal, config: ListingConfig, entry: LsEntry) -> bool:
    return (principal.is_staff and principal.org_id == entry.moderator_org_id
            and principal.role in config.moderator_roles)


def submit(session: Session, *, clock: Clock, principal: Principal, config: ListingConfig, entry: LsEntry,
           **_: Any) -> LsEntry:
    """The owner sends a draft (or a rejected entry) for moderation; its text is checked first."""
    if not _is_owner(principal, entry):
        raise ApiError("forbidden")
    before = entry.state
    moderation.withdraw(session, subject_type=SUBJECT, subject_id=entry.id)
    verdict = moderation.submit(session, subject_type=SUBJECT, subject_id=entry.id, clock=clock,
                                texts=(entry.title, entry.text), author_account_id=principal.account_id)
    if verdict == "rejected":
        raise ApiError("listing_text_refused", errors={"text": ["含有不允许发布的内容"]})
    _cas(session, entry, expected=("draft", "rejected", "withdrawn"), to="submitted", clock=clock, reason=None)
    _event(session, entry, action="submit", before=before, clock=clock, principal=principal)
    return entry


def publish(session: Session, *, clock: Clock, principal: Principal, config: ListingConfig, entry: LsEntry,
            **_: Any) -> LsEntry:
    """The moderating organisation publishes a submitted entry (not while its text awaits review)."""
    if not is_moderator(principal, config, entry):
        raise ApiError("forbidden")
    if moderation.subject_state(session, subject_type=SUBJECT, subject_id=entry.id) != "cleared":
        raise ApiError("listing_moderation_pending")
    _cas(session, entry, expected=("submitted",), to="published", clock=clock, published_at=clock.now())
    _event(session, entry, action="publish", before="submitted", clock=clock, principal=principal)
    return entry


def reject(session: Session, *, clock: Clock, principal: Principal, config: ListingConfig, entry: LsEntry,
           reason: str, **_: Any) -> LsEntry:
    """The moderating organisation refuses a submitted entry, or takes a published one down, with a reason."""
    if not is_moderator(principal, config, entry):
        raise ApiError("forbidden")
    before = entry.state
    _cas(session, entry, expected=("submitted", "published"), to="rejected", clock=clock, reason=reason)
    _event(session, entry, action="reject", before=before, clock=clock, principal=principal, note=reason)
    return entry


def withdraw(session: Session, *, clock: Clock, principal: Principal, config: ListingConfig, entry: LsEntry,
             **_: Any) -> LsEntry:
    """The owner takes their entry off (submitted or published)."""
    if not _is_owner(principal, entry):
        raise ApiError("forbidden")
    before = entry.state
    _cas(session, entry, expected=("draft", "submitted", "published"), to="withdrawn", clock=clock)
    _event(session, entry, action="withdraw", before=before, clock=clock, principal=principal)
    return entry


def set_rank(session: Session, entry_ids: list[int], rank: int) -> int:
    """A scenario's recommendation (green-card houses first): entries with a higher rank come first."""
    if not entry_ids:
        return 0
    result = session.execute(sa.update(LsEntry).where(LsEntry.id.in_(entry_ids)).values(rank=rank)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def history(session: Session, entry: LsEntry) -> list[LsEvent]:
    return list(session.scalars(sa.select(LsEvent).where(LsEvent.entry_id == entry.id).order_by(LsEvent.id)))
