"""``flask --app wsgi worker [--once] [--batch-size N]``: the worker process.

SIGTERM or SIGINT lets the current batch finish and commit, then the process exits 0.
"""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask, current_app

from app.worker import Worker


@contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM/SIGINT ask the worker to stop after its current batch (restored afterwards)."""

    def handler(signum: int, _frame: Any) -> None:
        worker.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_worker(app: Flask, *, once: bool = False, **worker_kw: Any) -> int:
    """Run the worker on the app's database and clock. Returns the process exit code."""
    worker = Worker(app.extensions["db"], app.extensions["clock"], **worker_kw)
    with stop_on_signals(worker):
        if not once:
            worker.run_forever()
            return 0
        try:
            count = worker.run_once()
            if worker.uses_lease and not worker.holds_lease:
                click.echo("another worker holds the lease: nothing done", err=True)
            else:
                click.echo(f"handled {count} timer(s)" + (" (more are due)" if worker.backlog else ""))
        finally:
            worker.release_lease()
    return 0


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass (fire what is due now) and exit.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Timers claimed per transaction.")
@click.option("--tick", type=click.FloatRange(0.01, 1.0), default=1.0, show_default=True,
              help="Seconds between passes when idle (at most 1).")
@click.option("--lease-seconds", type=click.FloatRange(1.0, 3600.0), default=15.0, show_default=True,
              help="SQLite only: how long the lease lasts without renewal.")
def worker_cmd(once: bool, batch_size: int, tick: float, lease_seconds: float) -> None:
    """Fire due timers and run housekeeping jobs until SIGTERM/SIGINT."""
    code = run_worker(current_app._get_current_object(), once=once, batch_size=batch_size,  # type: ignore[attr-defined]
                      tick_seconds=tick, lease_seconds=lease_seconds)
    raise SystemExit(code)


def register(app: Flask) -> None:
    app.cli.add_command(worker_cmd)
