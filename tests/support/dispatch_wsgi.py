"""``gunicorn tests.support.dispatch_wsgi:app``: the real application with the engines' test
scenarios mounted (the dispatch race tests drive ``dp-test`` through real HTTP)."""
from __future__ import annotations

from app import create_app
from tests.engines.dispatch.scenario import SCENARIO as DISPATCH_TEST_SCENARIO
from tests.engines.workflow.scenario import SCENARIO as WORKFLOW_TEST_SCENARIO

app = create_app(extra_scenarios=(WORKFLOW_TEST_SCENARIO, DISPATCH_TEST_SCENARIO))
