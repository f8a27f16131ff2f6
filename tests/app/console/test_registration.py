"""Engines and scenarios name their console pages on their declaration; the factory loads
them by name (nothing imported behind the registry's back)."""
from __future__ import annotations

import pytest

from app import console_pages
from app.scenario import Scenario


def test_a_declaration_names_its_pages_and_the_factory_loads_them(app):
    scenario = Scenario(slug="console-test", title_zh="测试", title_en="Test", seed_refs=(), engines=(),
                        roles=("resident",), console=("tests.app.console.test_registration:pages",))
    factories = console_pages([scenario])
    names = [f.__qualname__ for f in factories]
    assert "lazy(scenarios.engines.workflow.console:blueprints)" in names
    assert names[-1] == "lazy(tests.app.console.test_registration:pages)"
    assert [b.name for b in factories[-1]()] == ["console_console_test"]
    assert "console_workflow" in app.blueprints


def test_a_console_name_must_be_a_module_name():
    with pytest.raises(ValueError):
        Scenario(slug="console-bad", title_zh="测试", title_en="Test", seed_refs=(), engines=(), roles=(),
                 console=("not a module",))


def pages():
    from app.console.pages import console_blueprint

    return [console_blueprint("console_test", __name__, url_prefix="/console/test")]
