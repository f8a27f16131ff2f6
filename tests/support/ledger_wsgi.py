"""``gunicorn tests.support.ledger_wsgi:app``: the real application with the ledger's test
scenario mounted (its hooks record what the ledger calls; tests/engines/ledger/test_race.py)."""
from __future__ import annotations

from app import create_app
from tests.engines.ledger.scenario import SCENARIO as LEDGER_TEST_SCENARIO

app = create_app(extra_scenarios=(LEDGER_TEST_SCENARIO,))
