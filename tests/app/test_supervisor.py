"""``python -m app.supervisor`` (what ``make run`` ends with): restarts, gives up, leaves no process behind.

The process tests start the real supervisor (gunicorn with two workers and ``flask worker``) on a
free port, a migrated SQLite file of their own and a metrics directory of their own, wait for
/healthz, note every descendant from /proc, then act on it: SIGTERM must stop them all within
a bounded time; SIGKILL (no chance to clean up) must too, through PR_SET_PDEATHSIG; a killed
worker or gunicorn is started again while the rest keeps running; a child crashing again and
again makes the supervisor give up, stopping everything. The restart policy's arithmetic and
the metrics directory are also tested without processes.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.supervisor import Crashes, Policy, children_environment, exit_code

ROOT = Path(__file__).resolve().parents[2]
WEB_WORKERS = 2
# gunicorn master + its workers + the flask worker
EXPECTED_DESCENDANTS = 1 + WEB_WORKERS + 1
METRICS_TOKEN = "supervisor-test-metrics-token"

slow = pytest.mark.slow


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


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def _cmdlines(pids) -> list[str]:
    return [f"{pid}: {line}" for pid in pids if (line := _cmdline(pid))]


def _is_gunicorn(pid: int) -> bool:
    return "gunicorn" in _cmdline(pid)


def _is_worker(pid: int) -> bool:
    line = _cmdline(pid)
    return "flask" in line and "worker" in line and "gunicorn" not in line


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _supervisor_lines(log: Path) -> list[dict]:
    """The supervisor's own JSON log lines."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("logger") == "app.supervisor":
                lines.append(entry)
    return lines


def _get(url: str, timeout: float = 2) -> int:
    """The status of GET ``url``; raises OSError when it cannot connect or read."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (our own http URL)
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _healthy(url: str) -> bool:
    try:
        return _get(url) == 200
    except OSError:
        return False


def _wait_for(what: str, predicate: Callable[[], object], seconds: float, poll: float = 0.05) -> object:
    deadline = time.monotonic() + seconds
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(poll)
    return result


def _wait_gone(procs: dict[int, int], seconds: float) -> dict[int, int]:
    deadline = time.monotonic() + seconds
    while (alive := _alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@dataclass
class Running:
    proc: subprocess.Popen
    port: int
    log: Path
    database: Path
    metrics_dir: Path
    seen: dict[int, int] = field(default_factory=dict)  # every descendant ever noticed

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def refresh(self) -> dict[int, int]:
        """Note the current descendants (kept in ``seen`` for the final check); returns them."""
        now = _descendants(self.proc.pid)
        self.seen.update(now)
        return now

    def direct(self, kind: Callable[[int], bool]) -> list[int]:
        """The supervisor's own children of a kind (``_is_gunicorn``, ``_is_worker``)."""
        return [pid for pid in self.refresh() if (st := _stat(pid)) and st[0] == self.proc.pid and kind(pid)]

    def stop_and_check_nothing_left(self) -> None:
        self.refresh()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            pytest.fail(f"supervisor still running 25 s after SIGTERM; children: {_cmdlines(_alive(self.seen))}")
        assert self.proc.returncode == 0, _tail(self.log)
        left = _wait_gone(self.seen, 2)
        assert not left, f"left behind after SIGTERM: {_cmdlines(left)}"


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied by each test (its workers' leases stay its own)."""
    from alembic import command

    from app.migrations_state import alembic_config

    path = tmp_path_factory.mktemp("supervisor") / "template.db"
    cfg = alembic_config(f"sqlite:///{path}")
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")
    return path


@pytest.fixture(scope="module")
def worker_command() -> None:
    """The supervisor runs ``flask --app wsgi worker``; without it there is nothing to test."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.skip("`flask --app wsgi worker` does not exist yet (branch timers)")


@pytest.fixture
def start_supervisor(
    worker_command: None, migrated_sqlite: Path, tmp_path: Path
) -> Iterator[Callable[..., Running]]:
    """``start_supervisor(**env)``: a running supervisor, its /healthz answering, all its children up."""
    started: list[Running] = []

    def start(**extra_env: str) -> Running:
        database = tmp_path / f"run{len(started)}.db"
        shutil.copyfile(migrated_sqlite, database)
        metrics_dir = tmp_path / f"prometheus{len(started)}"
        metrics_dir.mkdir()
        port = _free_port()
        env = {
            **os.environ,
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{database}",
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": str(WEB_WORKERS),
            # a directory of this test's own: the default (instance/prometheus) is wiped at start
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "METRICS_TOKEN": METRICS_TOKEN,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **extra_env,
        }
        # its own session, so the safety net below can kill the whole group if a test fails
        log = tmp_path / f"supervisor{len(started)}.log"  # a file, not a pipe: a full pipe would block
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "app.supervisor"], cwd=ROOT, env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        running = Running(proc, port, log, database, metrics_dir)
        started.append(running)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"supervisor exited with {proc.returncode}: {_tail(log)}"
            if _healthy(running.url("/healthz")) and len(running.refresh()) >= EXPECTED_DESCENDANTS:
                break
            assert time.monotonic() < deadline, f"not up within 60 s; descendants: {_cmdlines(running.seen)}"
            time.sleep(0.2)
        running.seen = _alive(running.seen)  # not gunicorn's short-lived boot processes, if any
        return running

    try:
        yield start
    finally:
        for running in started:
            if running.proc.poll() is None:
                running.refresh()
            left = _alive(running.seen)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.proc.pid, signal.SIGKILL)
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            running.proc.wait(timeout=10)


@pytest.fixture
def supervisor(start_supervisor: Callable[..., Running]) -> tuple[subprocess.Popen, dict[int, int], Path]:
    """A running supervisor with the default policy, its descendants as {pid: start}, its log."""
    running = start_supervisor()
    return running.proc, running.seen, running.log


# ---------------------------------------------------------------- stopping


@slow
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


@slow
def test_sigkill_of_the_supervisor_takes_its_children_down(supervisor):
    proc, children, _log = supervisor
    direct = {pid: s for pid, s in children.items() if (st := _stat(pid)) and st[0] == proc.pid}
    assert len(direct) == 2, _cmdlines(children)  # gunicorn master and flask worker

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)

    left = _wait_gone(children, 25)
    assert not left, f"orphans after SIGKILL of the supervisor: {_cmdlines(left)}"


# ---------------------------------------------------------------- restarts

ENQUEUE = """
import sys
from wsgi import app
from app.notify.service import Recipient, enqueue
db, clock = app.extensions["db"], app.extensions["clock"]
with db.transaction() as session:
    assert enqueue(session, event_key=sys.argv[1], template="supervisor-test", clock=clock,
                   recipients=[Recipient.account(1)]) == 1
"""


def _delivery(database: Path, event_key: str) -> tuple[str, str] | None:
    """(timer state, outbox state) of the notification enqueued under ``event_key``."""
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as conn:
        return conn.execute(
            "SELECT t.state, o.state FROM notify_outbox o JOIN timers t ON t.subject_type = 'outbox'"
            " AND t.subject_id = CAST(o.id AS TEXT) AND t.kind = 'notify.deliver' WHERE o.event_key = ?",
            (event_key,)).fetchone()


class Client(threading.Thread):
    """Requests the given paths in turn until stopped, noting each answer or connection error."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.urls = urls
        self.answers: list[tuple[float, str, int | str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.done.is_set():
            url = self.urls[i % len(self.urls)]
            i += 1
            try:
                outcome: int | str = _get(url, timeout=10)
            except OSError as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            self.answers.append((time.monotonic(), url, outcome))
            time.sleep(0.02)

    def stop(self) -> list[tuple[float, str, int | str]]:
        self.done.set()
        self.join(timeout=15)
        return self.answers


@slow
def test_a_killed_worker_is_restarted_while_the_api_keeps_answering_and_due_timers_fire(start_supervisor):
    running = start_supervisor()
    [worker] = running.direct(_is_worker)
    [gunicorn] = running.direct(_is_gunicorn)
    client = Client([running.url("/healthz"), running.url("/readyz")])  # /readyz reads the database
    client.start()
    try:
        _wait_for("the client's first answers", lambda: len(client.answers) >= 5, 30)
        killed_at = time.monotonic()
        os.kill(worker, signal.SIGKILL)

        # a notification due now: only a worker started after the kill can deliver it
        event_key = f"supervisor-{uuid.uuid4().hex}"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{running.database}", "APP_ENV": "development",
               "LOG_LEVEL": "WARNING"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([sys.executable, "-c", ENQUEUE, event_key], cwd=ROOT, env=env, check=True, timeout=60)

        [new_worker] = _wait_for("a new worker", lambda: [p for p in running.direct(_is_worker) if p != worker], 20)
        # the dead worker's SQLite lease (15 s) expires first, then the new one takes it and fires
        _wait_for("the timer fired", lambda: _delivery(running.database, event_key) == ("fired", "sent"), 60, 0.2)
        fired_at = time.monotonic()
        _wait_for("answers after the delivery", lambda: client.answers[-1][0] > fired_at + 0.5, 10)
    finally:
        answers = client.stop()

    assert running.proc.poll() is None, _tail(running.log)
    failed = [a for a in answers if a[2] != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed, e.g. {failed[:3]}"
    during = [a for a in answers if killed_at <= a[0] <= fired_at]
    assert {a[1] for a in during} == set(client.urls), "the client must have kept asking both"
    assert running.direct(_is_gunicorn) == [gunicorn], "gunicorn must not have been touched"
    assert new_worker != worker and _is_worker(new_worker)
    [restart] = [e for e in _supervisor_lines(running.log) if "restart_in_seconds" in e]
    assert restart["child"] == "worker" and restart["pid"] == worker and restart["returncode"] == -9, restart
    assert "exited with -9 (SIGKILL); restarting in 0.5 s" in restart["msg"], restart

    running.stop_and_check_nothing_left()  # the restarted worker too


@slow
def test_a_killed_gunicorn_is_restarted_after_its_orphaned_workers_are_stopped(start_supervisor):
    running = start_supervisor()
    [master] = running.direct(_is_gunicorn)
    [worker] = running.direct(_is_worker)
    old_workers = {pid: s for pid, s in running.seen.items() if (st := _stat(pid)) and st[0] == master}
    assert len(old_workers) == WEB_WORKERS, _cmdlines(running.seen)

    os.kill(master, signal.SIGKILL)
    _wait_for("a new gunicorn", lambda: [p for p in running.direct(_is_gunicorn) if p != master], 30)
    # started only once the old master's workers (still listening on the port) are gone
    assert not _alive(old_workers), f"old workers alive beside the new master: {_cmdlines(_alive(old_workers))}"
    _wait_for("/healthz from the new gunicorn", lambda: _healthy(running.url("/healthz")), 60, 0.2)
    assert _get(running.url("/readyz")) == 200

    assert running.proc.poll() is None, _tail(running.log)
    assert running.direct(_is_worker) == [worker], "the worker must not have been touched"
    [restart] = [e for e in _supervisor_lines(running.log) if "restart_in_seconds" in e]
    assert restart["child"] == "gunicorn" and restart["pid"] == master, restart

    # the restarted master has PR_SET_PDEATHSIG too: a SIGKILL of the supervisor takes it down
    running.refresh()
    running.proc.send_signal(signal.SIGKILL)
    running.proc.wait(timeout=5)
    left = _wait_gone(running.seen, 25)
    assert not left, f"orphans after SIGKILL of the supervisor: {_cmdlines(left)}"


@slow
def test_a_child_crashing_again_and_again_makes_the_supervisor_stop_everything_and_fail(start_supervisor):
    running = start_supervisor(SUPERVISOR_MAX_CRASHES="3", SUPERVISOR_RESTART_DELAY_SECONDS="0.1")
    killed: list[int] = []
    deadline = time.monotonic() + 60
    while running.proc.poll() is None:
        assert time.monotonic() < deadline, f"supervisor still running after {len(killed)} kills: {_tail(running.log)}"
        for pid in running.direct(_is_worker):
            if pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.02)

    assert len(killed) == 3, (killed, _tail(running.log))  # restarted after the 1st and 2nd, not the 3rd
    assert running.proc.returncode == 128 + signal.SIGKILL, _tail(running.log)
    lines = _supervisor_lines(running.log)
    restarts = [e for e in lines if "restart_in_seconds" in e]
    assert [e["restart_in_seconds"] for e in restarts] == [0.1, 0.2], lines  # the delay doubles
    assert [e["pid"] for e in restarts] == killed[:2]
    [gave_up] = [e for e in lines if e["level"] == "ERROR"]
    assert gave_up["child"] == "worker" and gave_up["pid"] == killed[2] and gave_up["crashes"] == 3, gave_up
    assert "stopping everything" in gave_up["msg"]
    left = _wait_gone(running.seen, 2)
    assert not left, f"left behind: {_cmdlines(left)}"  # gunicorn and its workers included


# ---------------------------------------------------------------- metrics


def _requests_counted(text: str, route: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "jinshan_http_requests_total" and sample.labels.get("route") == route)


@slow
def test_the_children_share_one_prometheus_multiprocess_directory(start_supervisor):
    running = start_supervisor()
    [master] = running.direct(_is_gunicorn)
    [worker] = running.direct(_is_worker)
    web = [pid for pid in running.seen if (st := _stat(pid)) and st[0] == master]
    for _ in range(12):
        assert _get(running.url("/readyz")) == 200

    def written() -> set[int]:  # prometheus-client's files are named <kind>_<pid>.db
        return {int(p.stem.rsplit("_", 1)[1]) for p in running.metrics_dir.glob("*.db")}

    # each process writes its file when it imports app.metrics (the worker may still be at it);
    # gunicorn's side is any of its workers: on a loaded machine one may have been replaced
    # (timed out) after serving, and its replacement has no file until it serves
    _wait_for(f"files from the worker {worker} and gunicorn's {web}: {written()}",
              lambda: worker in written() and bool(written() - {worker}), 60, 0.2)
    scrape = urllib.request.Request(running.url("/metrics"),  # noqa: S310 (our own http URL)
                                    headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(scrape, timeout=10) as resp:  # noqa: S310 (our own http URL)
        text = resp.read().decode()
    assert _requests_counted(text, "/readyz") == 12  # summed over gunicorn's workers
    running.stop_and_check_nothing_left()


# ---------------------------------------------------------------- the policy, without processes


def test_the_restart_delay_doubles_up_to_its_cap_and_resets_after_a_healthy_run():
    crashes = Crashes(Policy(max_crashes=100, window=60, delay=0.5, max_delay=3, healthy=30))
    delays = [crashes.crashed(now=t, ran=1) for t in range(5)]
    assert delays == [0.5, 1, 2, 3, 3]
    assert crashes.crashed(now=40, ran=30) == 0.5  # ran healthily: back to the first delay
    assert crashes.crashed(now=41, ran=1) == 1


def test_the_supervisor_gives_up_only_at_the_nth_crash_within_the_window():
    crashes = Crashes(Policy(max_crashes=3, window=60, delay=0.5, max_delay=10, healthy=30))
    assert crashes.crashed(now=0, ran=1) is not None
    assert crashes.crashed(now=50, ran=1) is not None
    assert crashes.crashed(now=100, ran=1) is not None  # the first one is out of the window
    assert crashes.crashed(now=101, ran=1) is None  # 50, 100, 101: three within 60 s

    spaced = Crashes(Policy(max_crashes=2, window=10, delay=0.5, max_delay=10, healthy=30))
    assert all(spaced.crashed(now=t * 11.0, ran=11) is not None for t in range(20))


def test_the_policy_comes_from_the_environment_and_refuses_nonsense():
    assert Policy.from_env({}) == Policy()
    policy = Policy.from_env({"SUPERVISOR_MAX_CRASHES": "2", "SUPERVISOR_RESTART_WINDOW_SECONDS": "5",
                              "SUPERVISOR_RESTART_DELAY_SECONDS": "0.1", "SUPERVISOR_RESTART_DELAY_MAX_SECONDS": "1",
                              "SUPERVISOR_HEALTHY_SECONDS": "3"})
    assert policy == Policy(max_crashes=2, window=5, delay=0.1, max_delay=1, healthy=3)
    for name, value in [("SUPERVISOR_MAX_CRASHES", "2.5"), ("SUPERVISOR_MAX_CRASHES", "0"),
                        ("SUPERVISOR_RESTART_DELAY_SECONDS", "-1"), ("SUPERVISOR_RESTART_WINDOW_SECONDS", "soon")]:
        with pytest.raises(SystemExit, match=name):
            Policy.from_env({name: value})


def test_exit_codes_follow_the_shell():
    assert [exit_code(rc) for rc in (-9, -15, 3, 0)] == [137, 143, 3, 1]


def test_the_default_metrics_directory_is_emptied_and_given_to_the_children(tmp_path: Path):
    default = tmp_path / "instance" / "prometheus"
    default.mkdir(parents=True)
    (default / "counter_123.db").write_bytes(b"stale")
    env = children_environment({"PATH": "/bin"}, default)
    assert env == {"PATH": "/bin", "PROMETHEUS_MULTIPROC_DIR": str(default)}
    assert default.is_dir() and not any(default.iterdir())

    fresh = tmp_path / "elsewhere" / "prometheus"
    assert children_environment({}, fresh)["PROMETHEUS_MULTIPROC_DIR"] == str(fresh) and fresh.is_dir()


def test_a_metrics_directory_given_by_the_environment_is_used_as_it_is(tmp_path: Path):
    given = tmp_path / "mine"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"theirs")
    default = tmp_path / "default"
    env = children_environment({"PROMETHEUS_MULTIPROC_DIR": str(given)}, default)
    assert env == {"PROMETHEUS_MULTIPROC_DIR": str(given)}
    assert (given / "counter_123.db").read_bytes() == b"theirs" and not default.exists()


# ---------------------------------------------------------------- what the server says of itself


@slow
def test_answers_name_no_server_software_or_version(start_supervisor):
    """gunicorn reads gunicorn.conf.py (the supervisor passes it): ``Server: jinshan``, no version."""
    running = start_supervisor()
    with urllib.request.urlopen(running.url("/healthz"), timeout=10) as r:  # noqa: S310 (our own server)
        assert r.headers.get_all("Server") == ["jinshan"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
