"""``app.upstream.client_for`` under request threads (gunicorn's gthread worker)."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from app.upstream import client_for


def test_threads_asking_at_once_share_one_client() -> None:
    """One client per configuration and process: a second one would carry its own breaker."""
    app = SimpleNamespace(extensions={"db": object(), "clock": object()})
    built: list[object] = []

    def build(config: Any, database: Any, clock: Any) -> object:
        time.sleep(0.01)  # long enough for the other threads to miss the cache meanwhile
        client = object()
        built.append(client)
        return client

    start = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(client_for(app, "test_api", "config", build))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert got == built * 8
