"""One rule for 404 and 403: visibility is decided first, in one place, for every object type.

An object a caller may not see is a 404 ``not_found``, with the very body of an id that does
not exist, and no sooner (a hidden object costs its rule's queries, a missing one does not, so
every 404 decided here is held to ``NOT_FOUND_FLOOR_MS``: ``not_found_floor``); one they may
see but not change is a 403 ``forbidden``. So every route with an object's id in its URL
first loads the object through this registry (``load_visible``, or the ``visible_object`` view
decorator), and only then asks whether the caller may do what the route does.

Each object type registers once (at import or app start) a ``load(session, key)`` (the object
by the id in the URL, or None) and a ``visible(session, principal, obj)``. auth registers its
own types (organisations, staff members, devices, residences, relations); the platform
registers uploads and moderation items; each engine registers its own (the workflow engine:
tickets) and scenarios their special objects. auth imports no engine: engines call
``register``. An object under another (a device under ``/orgs/<code>``) is looked up only once
its parent is visible. ``visible_object`` also marks the view (``view._visible_object``), so a test can
walk the URL map and fail on a route with an id whose object type is not declared.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session

from app.errors import ApiError
from auth.principal import Principal, current_principal

Loader = Callable[[Session, Any], Any]
Rule = Callable[[Session, Principal, Any], bool]


@dataclass(frozen=True)
class ObjectType:
    """How to find an object by the id in its URL, and who may see it."""

    name: str
    load: Loader
    visible: Rule
    description: str = ""


_TYPES: dict[str, ObjectType] = {}


def register(name: str, *, load: Loader, visible: Rule, description: str = "") -> ObjectType:
    """Declare an object type (again with the same functions is harmless: apps are built often)."""
    new = ObjectType(name, load, visible, description)
    old = _TYPES.get(name)
    if old is not None and (old.load, old.visible) != (new.load, new.visible):
        raise ValueError(f"object type {name!r} is already registered with other rules")
    _TYPES[name] = new
    return new


def object_types() -> Mapping[str, ObjectType]:
    return dict(_TYPES)


def object_type(name: str) -> ObjectType:
    try:
        return _TYPES[name]
    except KeyError:
        raise LookupError(f"object type {name!r} is not registered (auth.visibility.register)") from None


def is_visible(session: Session, principal: Principal, name: str, obj: Any) -> bool:
    """Whether ``principal`` may see ``obj`` (of type ``name``); False for None."""
    return obj is not None and bool(object_type(name).visible(session, principal, obj))


def load_visible(session: Session, principal: Principal, name: str, key: Any) -> Any:
    """The object of type ``name`` with URL id ``key``, if the caller may see it; else 404.

    A missing object and an invisible one raise the same error (same body, same code path):
    nothing tells them apart.
    """
    kind = object_type(name)
    obj = kind.load(session, key)
    if obj is None or not kind.visible(session, principal, obj):
        raise ApiError("not_found")
    return obj


DEFAULT_NOT_FOUND_FLOOR_MS = 10


def not_found_floor() -> float:
    """Seconds a 404 decided here takes at least (``NOT_FOUND_FLOOR_MS``; 10 ms, 0 under
    ``APP_ENV=test`` unless set): a hidden object costs a few more queries than a missing one
    (its visibility rule runs), and the floor keeps that difference out of the answer's time."""
    settings = current_app.extensions["settings"]
    raw = settings.get("NOT_FOUND_FLOOR_MS")
    if raw is None:
        return 0.0 if settings.app_env == "test" else DEFAULT_NOT_FOUND_FLOOR_MS / 1000
    try:
        return max(0.0, min(float(raw), 1000.0)) / 1000
    except ValueError:
        return DEFAULT_NOT_FOUND_FLOOR_MS / 1000


def _hold_until(deadline: float) -> None:
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)


def _authenticated() -> Principal:
    principal = current_principal()
    if principal.is_anonymous:
        err = g.get("auth_error")
        if err is not None:
            raise err
        raise ApiError("unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="jinshan"'})
    return principal


def visible_object(name: str, *url_args: str, anonymous: bool = False) -> Callable[[Callable], Callable]:
    """View decorator: 401 without credentials (unless ``anonymous``), then 404 unless the object
    of type ``name`` named by the URL arguments ``url_args`` is visible to the caller (one argument:
    its value is the key; several, e.g. an organisation's code and a device id: their tuple).

    Put it outermost among the guards (before role checks, which may then answer 403, and
    before the body is parsed), so visibility is decided first. The loaded object is in
    ``g.visible_objects[name]`` for the view.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from app.db import get_session

            principal = current_principal() if anonymous else _authenticated()
            key = kwargs[url_args[0]] if len(url_args) == 1 else tuple(kwargs[a] for a in url_args)
            started = time.monotonic()
            try:
                obj = load_visible(get_session(), principal, name, key)
            except ApiError:
                _hold_until(started + not_found_floor())  # hidden or missing: the same time
                raise
            g.setdefault("visible_objects", {})[name] = obj
            return view(*args, **kwargs)

        wrapper._visible_object = (name, url_args)  # type: ignore[attr-defined]
        _document_not_found(wrapper)
        return wrapper

    return decorator


def _document_not_found(wrapper: Callable) -> None:
    """Say in the spec that a hidden object is answered like a missing one (unless the view
    already documents its 404)."""
    from app.api import ErrorSchema

    doc = deepcopy(getattr(wrapper, "_apidoc", {}))
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    if 404 not in responses and "404" not in responses:
        responses[404] = [{"description": "`not_found`: no such object, or not visible to you (the same answer)",
                           "schema": ErrorSchema, "content_type": None}]
    wrapper._apidoc = doc  # type: ignore[attr-defined]


PUBLIC, SIGNED_URL = "public", "signed_url"


def _everyone(session: Session, principal: Principal, obj: Any) -> bool:
    return True


def _no_lookup(session: Session, key: Any) -> Any:
    return key


def open_object(name: str, how: str) -> Callable[[Callable], Callable]:
    """Mark a view whose object needs no visibility decision, saying why: ``PUBLIC`` (reference
    data anyone may read, such as a community; the view's own lookup gives the 404) or
    ``SIGNED_URL`` (the URL's signature is the permission: a photo's content for an ``<image>``
    that sends no credentials). Registers ``name`` as visible to everyone."""
    if how not in (PUBLIC, SIGNED_URL):
        raise ValueError(f"unknown reason {how!r}")
    register(name, load=_no_lookup, visible=_everyone, description=how)

    def decorator(view: Callable) -> Callable:
        view._visible_object = (name, ())  # type: ignore[attr-defined]
        view._visibility = how  # type: ignore[attr-defined]
        return view

    return decorator


def loaded(name: str) -> Any:
    """The object ``visible_object`` loaded for this request."""
    return g.visible_objects[name]


__all__ = [
    "PUBLIC",
    "SIGNED_URL",
    "ObjectType",
    "is_visible",
    "load_visible",
    "loaded",
    "not_found_floor",
    "object_type",
    "object_types",
    "open_object",
    "register",
    "visible_object",
]
