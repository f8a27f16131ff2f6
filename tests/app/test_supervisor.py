"""``python -m app.supervisor`` (what ``make run`` ends with) leaves no process behind.

Each test starts the real supervisor (gunicorn with two workers and ``flask worker``) on a
free port and a migrated SQLite file, waits for /healthz, notes every descendant from
/proc, then stops the supervisor: SIGTERM must stop them all within a bounded time; SIGKILL
(no chance to clean up) must too, through PR_SET_PDEATHSIG.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_WORKERS = 2
# gunicorn master + its workers + the flask worker
EXPECTED_DESCENDANTS = 1 + WEB_WORKERS + 1

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every live descendant of ``root``."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) and st[1] != "Z":
            children.setdefault(st[0], []).append(int(entry.name))
            starts[int(entry.name)] = st[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found[pid] = starts[pid]
            todo.append(pid)
    return found


def _alive(procs: dict[int, int]) -> dict[int, int]:
    """Those still running (same pid and start time, not a zombie)."""
    alive = {}
    for pid, start in procs.items():
        st = _stat(pid)
        if st and st[2] == start and st[1] != "Z":
            alive[pid] = start
    return alive


def _cmdlines(pids) -> list[str]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            out.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return out


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our own http URL)
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    from alembic import command

    from app.migrations_state import alembic_config

    url = f"sqlite:///{tmp_path_factory.mktemp('supervisor') / 'run.db'}"
    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")
    return url


@pytest.fixture(scope="module")
def worker_command() -> None:
    """The supervisor runs ``flask --app wsgi worker``; without it there is nothing to test."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.skip("`flask --app wsgi worker` does not exist yet (branch timers)")


@pytest.fixture
def supervisor(
    worker_command: None, migrated_sqlite: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen, dict[int, int], Path]]:
    """A running supervisor, its /healthz answering, its descendants as {pid: start}, its log."""
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": migrated_sqlite,
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(WEB_WORKERS),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # its own session, so the safety net below can kill the whole group if a test fails
    log = tmp_path / "supervisor.log"  # a file, not a pipe: a full pipe would block the children
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.supervisor"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    seen: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"supervisor exited with {proc.returncode}: {_tail(log)}"
            seen.update(_descendants(proc.pid))
            if _healthy(f"http://127.0.0.1:{port}/healthz") and len(_alive(seen)) >= EXPECTED_DESCENDANTS:
                break
            assert time.monotonic() < deadline, f"not up within 60 s; descendants: {_cmdlines(seen)}"
            time.sleep(0.2)
        seen = _alive(seen)
        yield proc, seen, log
    finally:
        left = _alive(seen)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_gone(procs: dict[int, int], seconds: float) -> dict[int, int]:
    deadline = time.monotonic() + seconds
    while (alive := _alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def test_sigterm_stops_the_supervisor_and_all_its_children(supervisor):
    proc, children, log = supervisor
    commands = " ".join(_cmdlines(children))
    assert "gunicorn" in commands and "worker" in commands, commands

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        pytest.fail(f"supervisor still running 25 s after SIGTERM; children: {_cmdlines(_alive(children))}")
    took = time.monotonic() - started

    assert proc.returncode == 0, _tail(log)
    left = _wait_gone(children, 2)
    assert not left, f"left behind after SIGTERM: {_cmdlines(left)}"
    assert took < 25


def test_sigkill_of_the_supervisor_takes_its_children_down(supervisor):
    proc, children, _log = supervisor
    direct = {pid: s for pid, s in children.items() if (st := _stat(pid)) and st[0] == proc.pid}
    assert len(direct) == 2, _cmdlines(children)  # gunicorn master and flask worker

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)

    left = _wait_gone(children, 25)
    assert not left, f"orphans after SIGKILL of the supervisor: {_cmdlines(left)}"


def test_when_the_worker_dies_the_supervisor_stops_gunicorn_and_fails(supervisor):
    proc, children, log = supervisor
    worker = [pid for pid in children if (st := _stat(pid)) and st[0] == proc.pid
              and "worker" in " ".join(_cmdlines([pid])) and "gunicorn" not in " ".join(_cmdlines([pid]))]
    assert len(worker) == 1, _cmdlines(children)

    os.kill(worker[0], signal.SIGKILL)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        pytest.fail("supervisor kept running after its worker died")

    assert proc.returncode == 128 + signal.SIGKILL, _tail(log)
    assert "exited with -9" in _tail(log)
    left = _wait_gone(children, 2)
    assert not left, f"left behind: {_cmdlines(left)}"
