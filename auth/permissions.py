"""The one permission layer: may this principal see or act on what an organisation owns?

A staff principal reaches an organisation in one of four ways:

- ``member``: it acts for that organisation itself;
- ``ancestor``: it acts for an organisation above it in the jurisdiction tree (``parent``
  links: a town over its neighbourhood and village committees);
- ``supervisor``: it acts for the organisation that supervises it or one of its ancestors
  (``supervisor`` links: 区房管局 over property companies);
- ``district``: it acts for the district, whose jurisdiction is all of Jinshan.

Not reachable → 404 ``not_found`` (the object is not visible, and we do not confirm that it
exists). Reachable but the acting role is not among the allowed ones → 403 ``forbidden``.
Residents and devices never reach an organisation through this layer: their own objects
are checked by the services that own them.
"""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from app.errors import ApiError
from auth.organisations import Organisation
from auth.principal import Principal

MAX_DEPTH = 12
ALL_VIA = frozenset({"member", "ancestor", "supervisor", "district"})


def org_chain(session: Session, org: Organisation) -> list[Organisation]:
    """``org`` and its ancestors, nearest first (cycles and runaway depth are cut)."""
    chain, seen = [org], {org.id}
    current = org
    while current.parent_id is not None and len(chain) < MAX_DEPTH and current.parent_id not in seen:
        parent = session.get(Organisation, current.parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.id)
        current = parent
    return chain


def reach(principal: Principal, org: Organisation, *, session: Session | None = None) -> str | None:
    """How the principal reaches ``org`` (see the module docstring), or None."""
    if principal.kind != "staff" or principal.org_id is None:
        return None
    if principal.org_id == org.id:
        return "member"
    session = session or object_session(org)
    assert session is not None, "pass session= for a detached organisation"
    chain = org_chain(session, org)
    if principal.org_id in {o.id for o in chain[1:]}:
        return "ancestor"
    if principal.org_id in {o.supervisor_id for o in chain if o.supervisor_id is not None}:
        return "supervisor"
    if principal.org_type == "district":
        return "district"
    return None


def can_see(principal: Principal, org: Organisation, *, session: Session | None = None) -> bool:
    return reach(principal, org, session=session) is not None


def require_visible(principal: Principal, org: Organisation, *, session: Session | None = None) -> str:
    """The way the principal reaches ``org``; 404 when it does not."""
    how = reach(principal, org, session=session)
    if how is None:
        raise ApiError("not_found")
    return how


def require_role_in(
    principal: Principal,
    owning_org: Organisation | Iterable[Organisation],
    roles: Iterable[str],
    *,
    session: Session | None = None,
    via: Iterable[str] = ALL_VIA,
) -> Organisation:
    """Allow the principal to act on what ``owning_org`` owns, with one of ``roles``.

    ``owning_org`` may be several organisations (a residence is in the charge of a property
    company and a neighbourhood committee): the first one through which the principal is
    allowed wins. ``via`` restricts the ways of reaching (e.g. only ``{"member"}``).
    Returns the organisation through which access was granted.
    """
    orgs = [owning_org] if isinstance(owning_org, Organisation) else list(owning_org)
    allowed_roles, allowed_via = set(roles), set(via)
    visible = False
    for org in orgs:
        how = reach(principal, org, session=session)
        if how is None:
            continue
        visible = True
        if how in allowed_via and principal.role in allowed_roles:
            return org
    raise ApiError("forbidden" if visible else "not_found")


def org_by_code(session: Session, code: str) -> Organisation:
    """The active organisation with ``code``; 404 otherwise."""
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code, Organisation.active.is_(True)))
    if org is None:
        raise ApiError("not_found")
    return org


def require_org_role(session: Session, principal: Principal, code: str, roles: Iterable[str],
                     *, via: Iterable[str] = ALL_VIA) -> Organisation:
    """For routes under ``/orgs/<code>/…``: the organisation, visible and allowed, or 404/403."""
    org = org_by_code(session, code)
    require_role_in(principal, org, roles, session=session, via=via)
    return org
