"""The registry itself (auth/visibility.py); the rule over every route is test_visibility_matrix.py."""
from __future__ import annotations

import pytest

from app.errors import ApiError
from auth.principal import Principal
from auth.visibility import load_visible, object_type, open_object, register

RESIDENT = Principal("resident", account_id=7, person_id=7)
OTHER = Principal("resident", account_id=8, person_id=8)
ROWS = {1: {"owner": 7}}


def _load(session, key):
    return ROWS.get(key)


def _mine(session, principal, row):
    return row["owner"] == principal.account_id


def test_hidden_and_missing_raise_the_same_error():
    register("test_row", load=_load, visible=_mine)
    assert load_visible(None, RESIDENT, "test_row", 1) == {"owner": 7}
    with pytest.raises(ApiError) as hidden:
        load_visible(None, OTHER, "test_row", 1)
    with pytest.raises(ApiError) as missing:
        load_visible(None, RESIDENT, "test_row", 2)
    assert hidden.value.code == missing.value.code == "not_found"
    assert hidden.value.status == missing.value.status == 404


def test_a_type_is_registered_once_with_one_rule():
    register("test_row", load=_load, visible=_mine)  # again, the same functions: harmless
    with pytest.raises(ValueError, match="already registered"):
        register("test_row", load=_load, visible=lambda s, p, o: True)  # a second rule: refused
    with pytest.raises(LookupError, match="not registered"):
        object_type("no_such_type")


def test_an_open_object_says_why():
    with pytest.raises(ValueError, match="unknown reason"):
        open_object("test_open", "because")
