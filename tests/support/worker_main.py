"""``python -m tests.support.worker_main``: the worker process of ``flask --app wsgi worker``, with the
test handlers registered. Settings come from the environment (``DATABASE_URL``).

``TEST_WORKER_READY`` names a file written once the app is built, just before the loop.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--tick", type=float, default=0.05)
    parser.add_argument("--lease-seconds", type=float, default=15.0)
    parser.add_argument("--worker-id", default=None)
    args = parser.parse_args(argv)

    import tests.support.timer_handlers  # noqa: F401  (registers test.hit)
    from app import create_app
    from app.worker_cli import run_worker
    from tests.engines.dispatch.scenario import SCENARIO as DISPATCH_TEST_SCENARIO
    from tests.engines.workflow.scenario import SCENARIO as WORKFLOW_TEST_SCENARIO

    app = create_app(extra_scenarios=(WORKFLOW_TEST_SCENARIO, DISPATCH_TEST_SCENARIO))
    ready = os.environ.get("TEST_WORKER_READY")
    if ready:
        Path(ready).write_text(str(os.getpid()))
    with app.app_context():  # as under ``flask worker``: handlers may decrypt (the keyring is the app's)
        return run_worker(app, once=args.once, batch_size=args.batch_size, tick_seconds=args.tick,
                          lease_seconds=args.lease_seconds, worker_id=args.worker_id)


if __name__ == "__main__":
    sys.exit(main())
