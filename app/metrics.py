"""Prometheus metrics (``prometheus-client``), served at ``GET /metrics`` to whoever holds the
bearer token ``METRICS_TOKEN`` (unset: the route answers 404, as if it did not exist) and, when
``METRICS_ALLOW`` (comma-separated IPs/CIDRs) is set, calls from one of those addresses (the
client address, after ``app.proxies``); anyone else gets the same 404.

- Per request: ``jinshan_http_requests_total{route,method,status}`` and the latency histogram
  ``jinshan_http_request_duration_seconds{route,method}`` (``route`` is the URL rule, never the
  path: ids stay out of the labels).
- Authentication's cache: ``jinshan_auth_cache_lookups_total{result}`` (hit, miss, bypass) and
  ``jinshan_auth_cache_invalidation_lag_seconds`` (from the changing transaction to the
  process dropping the entry).
- SLA: ``jinshan_sla_breaches_total{scenario,kind}`` (engines count their escalations).
- Read from the database when scraped (so every process answers the same): timers due,
  the age of the oldest overdue one, and the outbox backlog by channel.

Under gunicorn each worker is its own process: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory shared by the web processes and the worker (``make run`` does), and every scrape
sums them (prometheus-client's multiprocess mode).
"""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.orm import Session

from app.proxies import address_in, parse_networks

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("jinshan_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram("jinshan_http_request_duration_seconds", "Time to answer a request", ["route", "method"],
                    buckets=LATENCY_BUCKETS)
AUTH_LOOKUPS = Counter("jinshan_auth_cache_lookups_total", "Authentication cache lookups", ["result"])
AUTH_LAG = Histogram("jinshan_auth_cache_invalidation_lag_seconds",
                     "From a committed change of an account, membership, family or device to this process dropping it",
                     buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
SLA_BREACHES = Counter("jinshan_sla_breaches_total", "SLA targets missed (escalations)", ["scenario", "kind"])

_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_PENDING = "metrics_after_commit"


def count_after_commit(session: Session, counter: Any, amount: float = 1.0) -> None:
    """Increment ``counter`` (a labelled child) when ``session``'s transaction commits, not before:
    work rolled back (a failed batch re-run timer by timer, a killed worker) is not counted."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        sa.event.listen(session, "after_commit", _flush_counts)
        sa.event.listen(session, "after_rollback", _drop_counts)
    pending.append((counter, amount))


def _flush_counts(session: Session) -> None:
    for counter, amount in session.info.pop(_PENDING, []):
        counter.inc(amount)
    session.info[_PENDING] = []


def _drop_counts(session: Session) -> None:
    session.info[_PENDING] = []


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request (the labelled children are kept: label lookup is the cost)."""
    key = (route, method, status)
    pair = _children.get(key)
    if pair is None:
        if len(_children) > 10_000:  # bounded: routes are finite, but be safe
            _children.clear()
        pair = _children[key] = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
    pair[0].inc()
    pair[1].observe(seconds)


class DatabaseCollector:
    """Gauges read from the database at scrape time: what no single process knows."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app.notify.models import OutboxMessage
        from app.timers import PENDING, Timer

        db, clock = self.app.extensions["db"], self.app.extensions["clock"]
        now: datetime = clock.now()
        due = GaugeMetricFamily("jinshan_timers_due", "Pending timers whose time has come")
        oldest = GaugeMetricFamily("jinshan_timers_oldest_overdue_seconds",
                                   "Age of the oldest pending timer past its time (0: none)")
        backlog = GaugeMetricFamily("jinshan_outbox_backlog", "Notifications not yet delivered",
                                    labels=["channel"])
        with db.transaction(write=False) as session:
            count, first = session.execute(sa.select(sa.func.count(), sa.func.min(Timer.due_at)).where(
                Timer.state == PENDING, Timer.due_at <= now)).one()
            rows = session.execute(sa.select(OutboxMessage.channel, sa.func.count())
                                   .where(OutboxMessage.state == "pending").group_by(OutboxMessage.channel)).all()
        due.add_metric([], count or 0)
        oldest.add_metric([], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)
        for channel, n in rows:
            backlog.add_metric([channel], n)
        yield due
        yield oldest
        yield backlog


def exposition(app: Flask) -> bytes:
    """Every metric in the text format: the processes' (summed across gunicorn's workers and
    the worker in multiprocess mode), then the database's gauges."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        from prometheus_client import REGISTRY as processes
    database = CollectorRegistry()
    database.register(DatabaseCollector(app))
    return generate_latest(processes) + generate_latest(database)


def install(app: Flask) -> None:
    """``GET /metrics`` (bearer ``METRICS_TOKEN``; 404 without it) and the per-request counts."""
    parse_networks(app.extensions["settings"].get("METRICS_ALLOW"), setting="METRICS_ALLOW")  # fail at start

    @app.get("/metrics")
    def metrics() -> Response:
        token = app.extensions["settings"].get("METRICS_TOKEN") or ""
        given = request.headers.get("Authorization", "")
        if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            abort(404)
        allowed = parse_networks(app.extensions["settings"].get("METRICS_ALLOW"), setting="METRICS_ALLOW")
        if allowed and not address_in(request.remote_addr, allowed):
            abort(404)
        return Response(exposition(app), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
