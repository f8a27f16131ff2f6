"""CPU time spent per request, read from ``/proc`` around a wrk run.

Requests per second drift with whatever else shares the machine; the CPU seconds the
app's processes and the database's processes spend per request drift far less, and say
where a request's cost lies (Python in gunicorn, or PostgreSQL). Linux only: elsewhere
every reading is None and the report leaves the column empty.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone, or not ours to read
        return None
    return text.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes so far (those that vanished count 0)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's workers under its master)."""
    found: list[int] = []
    task_dir = PROC / str(pid) / "task"
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


_TITLE = re.compile(r"^postgres: (?:[^:]+: )?(.*)$")
"""A PostgreSQL process's title: ``postgres: [cluster: ]<what>``; a backend's ``<what>`` is
``user database host(port) state``, an autovacuum worker's ``autovacuum worker database``."""


def serves_database(title: str, database: str) -> bool:
    """Whether the process of this title (``/proc/<pid>/cmdline``) works for ``database`` or for
    the whole server (postmaster, WAL writer, checkpointer…): not a backend of another database."""
    match = _TITLE.match(title.strip())
    if match is None:
        return True  # the postmaster
    words = match.group(1).split()
    if words[:2] == ["autovacuum", "worker"]:
        return database in words[2:]
    if len(words) >= 3 and ("(" in words[2] or words[2] == "[local]"):
        return words[1] == database  # user database host(port) state
    return True


def postgres_pids(database: str | None = None) -> list[int]:
    """Every PostgreSQL server process on this machine (backends, WAL writer, checkpointer); with
    ``database``, not the backends of other databases (other tests on a shared server)."""
    pids = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if not (comm == "postgres" or comm.startswith("postgres:")):
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if database is None or serves_database(title, database):
            pids.append(int(entry.name))
    return pids


class CpuMeter:
    """Reads the app's and the database's CPU seconds; ``stop`` gives milliseconds per request."""

    def __init__(self, master_pid: int | None, with_database: bool, database: str | None = None) -> None:
        self.master_pid = master_pid
        self.with_database = with_database and PROC.is_dir()
        self.database = database  # count only its backends (and the server's own processes)
        self._start: tuple[float, float] | None = None
        self._pids: tuple[list[int], list[int]] = ([], [])

    def start(self) -> None:
        if self.master_pid is None or not PROC.is_dir():
            return
        app = [self.master_pid, *children(self.master_pid)]
        db = postgres_pids(self.database) if self.with_database else []
        self._pids = (app, db)
        self._start = (cpu_seconds(app), cpu_seconds(db))

    def stop(self, requests: int) -> tuple[float | None, float | None]:
        if self._start is None or requests <= 0:
            return None, None
        app, db = self._pids
        app_ms = (cpu_seconds(app) - self._start[0]) * 1000 / requests
        db_ms = (cpu_seconds(db) - self._start[1]) * 1000 / requests if self.with_database else None
        self._start = None
        return app_ms, db_ms
