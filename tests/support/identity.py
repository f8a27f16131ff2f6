"""Fixtures of the identity tests (a pytest plugin: ``tests/conftest.py`` lists it in ``pytest_plugins``).

``ctx`` and ``reset_rate_limits`` are not autouse: the modules that want them for every test
say so with ``pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")``.
"""
from __future__ import annotations

import pytest

from tests.support.fake_providers import FakeProviders, provider_settings


@pytest.fixture
def ctx(app):
    """An app context for factories used outside requests (they need the data keys).

    It is the context of a stand-in app sharing the real app's extensions: a context of the
    real app would be reused by the test client's requests, which would then share ``g``
    (and its database session) with each other.
    """
    from flask import Flask

    stand_in = Flask("identity-tests")
    stand_in.extensions = app.extensions
    with stand_in.app_context():
        yield app


@pytest.fixture
def reset_rate_limits(app):
    """Counters start empty for each test (limits count real time, not the test clock)."""
    from auth.ratelimit import reset

    reset(app)
    yield
    reset(app)


@pytest.fixture
def settings_override(app):
    """Change settings (``Settings.extra``) for one test."""
    extra = app.extensions["settings"].extra
    saved = dict(extra)

    def override(**values: str) -> None:
        extra.update(values)

    yield override
    extra.clear()
    extra.update(saved)


@pytest.fixture(scope="session")
def fake_server():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def providers(settings_override, fake_server) -> FakeProviders:
    settings_override(**provider_settings(fake_server))
    return fake_server
