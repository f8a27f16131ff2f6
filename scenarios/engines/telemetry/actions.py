"""The telemetry engine's HTTP API as data: one row per route, mounted at ``/api/v1/<slug>``
and served by one generic view (routes.py). A row names the method and path, who calls it
(a device as itself, or staff), the arguments' schema and where they are, the answer's
schema, the handler (handlers.py), the object in the URL (visibility first: 404; then the
handler decides 403), and whether it writes (committed; a POST honours ``Idempotency-Key``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenarios.engines.telemetry import handlers
from scenarios.engines.telemetry.models import SOURCE
from scenarios.engines.telemetry.schemas import (
    TelemetryAlertArgs,
    TelemetryAlertSchema,
    TelemetryBindSchema,
    TelemetryLatestArgs,
    TelemetryOutcomeSchema,
    TelemetryOutcomesSchema,
    TelemetryRangeArgs,
    TelemetryReadingBatchSchema,
    TelemetryReadingRowSchema,
    TelemetryReadingSchema,
    TelemetrySourceSchema,
)

DEVICE, STAFF, STAFF_OR_DEVICE = ("device",), ("staff",), ("staff", "device")
"""Who may call a route at all (the handler decides the rest)."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: str
    callers: tuple[str, ...]
    schema: type
    location: str
    answer: type
    handler: Callable[..., Any]
    summary: str
    errors: str = ""
    paged: bool = False
    """``answer`` is an item schema; the route answers a page of them."""
    object_type: str | None = None
    """The object whose id is the path's ``<int:{object_arg}>`` (``auth.visibility``)."""
    object_arg: str = ""
    writes: bool = False


ROUTES: tuple[Route, ...] = (
    Route("PUT", "/devices/me/state", "device_state", DEVICE, TelemetryReadingSchema, "json", TelemetryOutcomeSchema,
          handlers.put_state,
          "The device's latest state of a kind (one reading; `at` defaults to now). A reading with the same "
          "device, kind and `at` as one stored is the same reading (`duplicate`); an older one than the "
          "latest is kept in the history without replacing the latest.",
          "`telemetry_unknown_kind`, `reading_out_of_range`, `reading_from_future`, `validation_error` (422); "
          "`telemetry_wrong_device_kind`, `telemetry_not_bound`, `telemetry_not_your_subject` (403)",
          writes=True),
    Route("POST", "/devices/me/readings", "device_readings", DEVICE, TelemetryReadingBatchSchema, "json",
          TelemetryOutcomesSchema, handlers.post_readings,
          "A batch of readings, each with its own `at` (all or nothing: a bad one refuses the batch and is "
          "named by its index, `readings.<i>.value.<field>`).",
          "`telemetry_batch_too_large` and those of `PUT /devices/me/state`", writes=True),
    Route("POST", "/telemetry/bindings", "telemetry_bind", STAFF, TelemetryBindSchema, "json", TelemetrySourceSchema,
          handlers.bind,
          "Bind a device of your organisation to the subject it reports a kind on (binding again moves it).",
          "`telemetry_unknown_kind` (422), `telemetry_wrong_device_kind`, `telemetry_not_your_subject` (403), "
          "`not_found` (404)", writes=True),
    Route("GET", "/telemetry/latest", "telemetry_latest", STAFF, TelemetryLatestArgs, "query", TelemetrySourceSchema,
          handlers.latest,
          "Your organisation's devices' latest value per kind and subject, with online/offline (offline: "
          "the value is unknown).", paged=True),
    Route("GET", "/telemetry/sources/<int:source_id>/readings", "telemetry_readings", STAFF_OR_DEVICE,
          TelemetryRangeArgs, "query", TelemetryReadingRowSchema, handlers.readings,
          "A source's readings in a time range (`since` ≤ at < `until`), newest first (the scenario's staff "
          "roles of the owning organisation; the device itself sees the source but may not read it: 403).",
          "`forbidden` (403)", paged=True,
          object_type=SOURCE, object_arg="source_id"),
    Route("GET", "/telemetry/alerts", "telemetry_alerts", STAFF, TelemetryAlertArgs, "query", TelemetryAlertSchema,
          handlers.alert_list,
          "Your organisation's alerts (`state`: open, closed or all), newest first: thresholds crossed and "
          "devices gone silent, one per episode.", paged=True),
)
