"""Helpers, fakes and fixture modules shared by the tests (fixtures are registered by tests/conftest.py)."""
