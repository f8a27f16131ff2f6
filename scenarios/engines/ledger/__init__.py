"""The ledger engine: accounts, balanced append-only entries, payment intents and refunds.

Amounts are integers in fen (points count in whole points). Tables: models.py; posting a
movement (two entries in one transaction, the cached balance moved by one conditional update):
postings.py; payment intents and refunds, every state change a compare-and-set: payments.py;
who sees a payment: visibility.py; the
engine-wide HTTP API (``/api/v1/payments/<id>``): routes.py; WeChat Pay API v3: wechatpay.py;
paying through it, its notifications and the query job: settlement.py; the provider chosen at
start-up: setup.py; daily figures: figures.py; reconciliation: reconcile.py; periodic jobs:
jobs.py; the staff console's pages: console.py.

``ENGINE`` is what the platform loads for it (by name: importing this package loads nothing
else of the engine).
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="ledger",
    models=("scenarios.engines.ledger.models",),
    jobs=("scenarios.engines.ledger.jobs",),  # expiry, the query job, reconciliation, verification
    blueprints=("scenarios.engines.ledger.routes:blueprints",),
    setup="scenarios.engines.ledger.setup:setup",
    personal_data="scenarios.engines.ledger.personal_data:PERSONAL_DATA",
    console=("scenarios.engines.ledger.console:blueprints",),  # daily figures, reconciliation differences
)
