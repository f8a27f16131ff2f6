"""``python -m tests.support.pg_probe URL``: exit 0 when a PostgreSQL server answers at URL.

``make test`` uses it to run the PostgreSQL pass on the server .ci/run uses (127.0.0.1:5432)
when TEST_DATABASE_URL is not set, instead of silently skipping the race tests.
"""
from __future__ import annotations

import sys

import psycopg


def reachable(url: str, timeout: int = 2) -> bool:
    """True when a connection to ``url`` opens (and so the test databases can be created)."""
    try:
        with psycopg.connect(url, connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


if __name__ == "__main__":
    sys.exit(0 if reachable(sys.argv[1]) else 1)
