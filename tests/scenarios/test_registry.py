"""The registry: what it names exists and loads, declarations are checked when made, and
importing an engine loads no scenario."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from app.scenario import Engine, Scenario, check_role, load
from scenarios import registry
from scenarios.registry import ENGINES, SCENARIOS, check

ROOT = Path(__file__).resolve().parents[2]


def test_engines_are_the_engine_packages_on_disk():
    on_disk = {p.name for p in (ROOT / "scenarios" / "engines").iterdir() if (p / "__init__.py").exists()}
    assert set(ENGINES) == on_disk
    for name, engine in ENGINES.items():
        assert importlib.import_module(f"scenarios.engines.{name}").ENGINE is engine


def test_every_name_a_declaration_gives_loads():
    for owner in (*ENGINES.values(), *SCENARIOS):
        for module in owner.models + owner.jobs:
            assert importlib.import_module(module)
        for target in owner.blueprints:
            assert callable(load(target))
    for scenario in SCENARIOS:
        if scenario.demo:
            assert callable(load(scenario.demo))
    for engine in ENGINES.values():
        for target in (engine.scenario_blueprints, engine.install):
            assert target is None or callable(load(target))


@pytest.mark.parametrize("role", ["resident", "device:sentinel", "property_company:technician", "bureau:supervisor",
                                  "village_committee:committee"])
def test_known_roles(role):
    check_role(role)


@pytest.mark.parametrize("role", ["operator.manager", "device.sentinel", "device:teleporter", "property_company:admin",
                                  "nowhere:staff", "staff", "", "resident:x"])
def test_unknown_roles_fail_when_the_scenario_is_declared(role):
    with pytest.raises(ValueError, match="unknown role"):
        Scenario("x", "x", "x", ("L1",), (), ("resident", role))


def test_declared_roles_are_all_known():
    for scenario in SCENARIOS:
        for role in scenario.roles:
            check_role(role)


def test_names_not_imports():
    with pytest.raises(ValueError):
        Scenario("x", "x", "x", ("L1",), (), (), models=(".relative",))
    with pytest.raises(ValueError):
        Scenario("x", "x", "x", ("L1",), (), (), demo="scenarios.x.demo")  # a module, not a function
    with pytest.raises(ValueError):
        Engine("e", jobs=("has space",))


def test_the_registry_refuses_unknown_engines_and_a_slug_twice():
    with pytest.raises(ValueError, match="teleport"):
        check([Scenario("x", "x", "x", ("L1",), ("teleport",), ())])
    with pytest.raises(ValueError, match="twice"):
        check([SCENARIOS[0], SCENARIOS[0]])
    check(SCENARIOS)
    assert registry.by_slug("property-repair") is SCENARIOS[0] and registry.by_slug("nope") is None


def test_importing_an_engine_loads_no_scenario_and_no_registry():
    code = ("import sys, scenarios.engines.workflow.models, scenarios.engines.workflow.service; "
            "print(sorted(m for m in sys.modules if m.startswith('scenarios.') "
            "and not m.startswith('scenarios.engines')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_workflow_scenario_is_declared_from_its_config():
    from scenarios.property_repair import CONFIG, SCENARIO

    assert (SCENARIO.slug, SCENARIO.title_zh, SCENARIO.engines, SCENARIO.config) == (
        CONFIG.slug, CONFIG.title_zh, ("workflow",), CONFIG)
