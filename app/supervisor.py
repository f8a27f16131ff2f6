"""One supervising process for ``make run``: gunicorn and the worker as its children.

A child that dies when not asked to is started again after a delay: ``RESTART_DELAY_SECONDS``,
doubling at each crash up to ``RESTART_DELAY_MAX_SECONDS``, back to the start once a run has
lasted ``HEALTHY_SECONDS``. Each crash is logged (one JSON line on stderr, like the app's).
Only ``MAX_CRASHES`` crashes of one child within ``RESTART_WINDOW_SECONDS`` make the
supervisor stop everything and exit non-zero (128+N when that child was killed by signal N,
as a shell reports it): a crashed worker must not take the API down, a child that cannot run
must not be retried for ever. Each number can be overridden by an environment variable
(``SUPERVISOR_MAX_CRASHES``, ``SUPERVISOR_RESTART_WINDOW_SECONDS``,
``SUPERVISOR_RESTART_DELAY_SECONDS``, ``SUPERVISOR_RESTART_DELAY_MAX_SECONDS``,
``SUPERVISOR_HEALTHY_SECONDS``).

Each child leads a process group of its own, so what a dead child leaves behind (gunicorn's
workers when its master was killed, still holding the port) is stopped before it starts again:
SIGTERM, then SIGKILL after ``LEFTOVER_SECONDS``. (So Ctrl-C in a terminal reaches only the
supervisor, not its children directly: it stops them as it does on SIGTERM.)

SIGINT or SIGTERM stops all children and waits for them (``STOP_SECONDS``, then SIGKILL).
Children, restarted ones too, get PR_SET_PDEATHSIG, so even a SIGKILL of the supervisor leaves
no orphan.

The children share one ``PROMETHEUS_MULTIPROC_DIR`` (app/metrics.py's multiprocess mode): the
one in the environment when set (used as it is: it must exist, and whoever sets it wipes it
between runs), else ``instance/prometheus``, emptied here at start as prometheus-client
requires (so run one supervisor per checkout, or give the others a directory of their own).
"""
from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# How long children get to stop; gunicorn's own graceful timeout must fit inside it, or a
# slow request makes us SIGKILL its master and strand its workers.
STOP_SECONDS = 20
GUNICORN_GRACEFUL_SECONDS = 15
# The restart policy (each overridable by the environment variable named in the comment).
MAX_CRASHES = 5  # SUPERVISOR_MAX_CRASHES: this many crashes of one child within the window: give up
RESTART_WINDOW_SECONDS = 60.0  # SUPERVISOR_RESTART_WINDOW_SECONDS
RESTART_DELAY_SECONDS = 0.5  # SUPERVISOR_RESTART_DELAY_SECONDS: before the first restart
RESTART_DELAY_MAX_SECONDS = 10.0  # SUPERVISOR_RESTART_DELAY_MAX_SECONDS: the doubling stops here
HEALTHY_SECONDS = 30.0  # SUPERVISOR_HEALTHY_SECONDS: a run this long resets the delay
# What a dead child left in its process group gets between SIGTERM and SIGKILL (and then at
# most KILLED_SECONDS to be gone) before the child starts again.
LEFTOVER_SECONDS = 5.0
KILLED_SECONDS = 1.0
METRICS_DIR = ROOT / "instance" / "prometheus"
TICK_SECONDS = 0.2

log = logging.getLogger("app.supervisor")


@dataclass(frozen=True)
class Policy:
    """When to restart a crashed child, and when to give up."""

    max_crashes: int = MAX_CRASHES
    window: float = RESTART_WINDOW_SECONDS
    delay: float = RESTART_DELAY_SECONDS
    max_delay: float = RESTART_DELAY_MAX_SECONDS
    healthy: float = HEALTHY_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Policy:
        def number(name: str, default: float, kind: type = float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SystemExit(f"supervisor: {name} must be a {kind.__name__} > 0, not {raw!r}") from None
            if value <= 0:
                raise SystemExit(f"supervisor: {name} must be a {kind.__name__} > 0, not {raw!r}")
            return value

        return cls(
            max_crashes=int(number("SUPERVISOR_MAX_CRASHES", MAX_CRASHES, int)),
            window=number("SUPERVISOR_RESTART_WINDOW_SECONDS", RESTART_WINDOW_SECONDS),
            delay=number("SUPERVISOR_RESTART_DELAY_SECONDS", RESTART_DELAY_SECONDS),
            max_delay=number("SUPERVISOR_RESTART_DELAY_MAX_SECONDS", RESTART_DELAY_MAX_SECONDS),
            healthy=number("SUPERVISOR_HEALTHY_SECONDS", HEALTHY_SECONDS),
        )


class Crashes:
    """One child's recent crashes under a policy: how long to wait before restarting it."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.times: deque[float] = deque()
        self.next_delay = policy.delay

    def crashed(self, now: float, ran: float) -> float | None:
        """Count a crash at ``now`` after a run of ``ran`` seconds: the delay before the next
        start, or None when this is the ``max_crashes``-th within the window (give up)."""
        while self.times and now - self.times[0] > self.policy.window:
            self.times.popleft()
        self.times.append(now)
        if len(self.times) >= self.policy.max_crashes:
            return None
        if ran >= self.policy.healthy:
            self.next_delay = self.policy.delay
        delay = self.next_delay
        self.next_delay = min(delay * 2, self.policy.max_delay)
        return delay


def _die_with_parent(parent: int) -> None:
    """Runs in the child before exec: SIGTERM it when the supervisor dies, however it dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the supervisor died before prctl: the signal will never come
        os._exit(1)


def commands(port: str) -> list[list[str]]:
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    return [
        [str(BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"),  # no server name in answers
         "--bind", f"127.0.0.1:{port}", "--workers", workers,
         "--graceful-timeout", str(GUNICORN_GRACEFUL_SECONDS),
         # gunicorn ≥ 25 opens a control socket at one fixed path per user: a second server
         # (tests, make bench) would take it over and unlink it on exit. We do not use gunicornc.
         "--no-control-socket",
         "--access-logfile", "-", "--access-logformat", '{"gunicorn":"%(m)s %(U)s %(s)s"}', "wsgi:app"],
        [str(BIN / "flask"), "--app", "wsgi", "worker"],
    ]


def children_environment(environ: Mapping[str, str], metrics_dir: Path = METRICS_DIR) -> dict[str, str]:
    """The children's environment: ``PROMETHEUS_MULTIPROC_DIR`` as given (its owner creates and
    wipes it; importing ``app`` here already needed it), else ``metrics_dir``, emptied
    (prometheus-client: the directory must be wiped between runs)."""
    env = dict(environ)
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        return env
    if metrics_dir.exists():
        shutil.rmtree(metrics_dir)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a process other than a zombie is left in the process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()  # state, ppid, pgrp, …
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_code(returncode: int) -> int:
    """A child's status as the supervisor's: killed by signal N gives the shell's 128+N."""
    return returncode if returncode > 0 else 128 - returncode if returncode < 0 else 1


class Child:
    """One supervised command: its current process, its crashes, its pending restart."""

    def __init__(self, name: str, cmd: list[str], env: Mapping[str, str], policy: Policy) -> None:
        self.name, self.cmd, self.env = name, cmd, dict(env)
        self.crashes = Crashes(policy)
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.groups: list[int] = []  # process groups this child has led (leftovers may remain)
        self.restart_at: float | None = None
        self.leftovers_until = 0.0
        self.leftovers_killed = False

    def start(self, supervisor: int) -> None:
        self.restart_at = None
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, process_group=0,
                                     preexec_fn=lambda: _die_with_parent(supervisor))
        self.started = time.monotonic()
        self.groups.append(self.proc.pid)

    def live_groups(self) -> list[int]:
        self.groups = [g for g in self.groups if _group_alive(g)]
        return self.groups

    def check(self, supervisor: int, now: float) -> int | None:
        """Notice a death, restart when due. Returns the supervisor's exit code when giving up."""
        if self.proc is not None:
            returncode = self.proc.poll()
            if returncode is None:
                return None
            pid, ran, self.proc = self.proc.pid, now - self.started, None
            delay = self.crashes.crashed(now, ran)
            fields = {"child": self.name, "pid": pid, "returncode": returncode, "ran_seconds": round(ran, 1),
                      "crashes": len(self.crashes.times), "window_seconds": self.crashes.policy.window}
            status = f"{returncode} ({_signal_name(-returncode)})" if returncode < 0 else str(returncode)
            if delay is None:
                log.error(f"{self.name} exited with {status}, crash {len(self.crashes.times)} within "
                          f"{self.crashes.policy.window:g} s: stopping everything", extra=fields)
                return exit_code(returncode)
            log.warning(f"{self.name} exited with {status}; restarting in {delay:g} s",
                        extra={**fields, "restart_in_seconds": delay})
            _signal_group(pid, signal.SIGTERM)  # what it left behind (gunicorn's workers)
            self.restart_at, self.leftovers_until = now + delay, now + LEFTOVER_SECONDS
            self.leftovers_killed = False
        if self.restart_at is None or now < self.restart_at:
            return None
        if self.live_groups() and now < self.leftovers_until + KILLED_SECONDS:
            if now >= self.leftovers_until and not self.leftovers_killed:
                self.leftovers_killed = True
                for group in self.groups:
                    log.warning(f"{self.name}: what its last run left behind ignored SIGTERM: SIGKILL",
                                extra={"child": self.name, "process_group": group})
                    _signal_group(group, signal.SIGKILL)
            return None
        self.start(supervisor)
        log.info(f"{self.name} restarted", extra={"child": self.name, "pid": self.proc.pid})
        return None


def stop_all(children: list[Child]) -> None:
    """SIGTERM every child (and what dead ones left behind), wait, SIGKILL what remains."""
    for child in children:
        leader = child.proc.pid if child.proc is not None and child.proc.poll() is None else None
        if leader is not None:
            child.proc.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers gracefully
        for group in child.live_groups():
            if group != leader:  # what a dead leader left behind
                _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
    while any(child.live_groups() for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    for child in children:
        for group in child.live_groups():
            _signal_group(group, signal.SIGKILL)


def main() -> int:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    port = os.environ.get("PORT", "8000")
    policy = Policy.from_env(os.environ)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # before the children exist, so a signal during start-up still stops them cleanly
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    me = os.getpid()
    env = children_environment(os.environ)
    children = [Child(name, cmd, env, policy) for name, cmd in zip(("gunicorn", "worker"), commands(port), strict=True)]
    code = 0
    try:
        for child in children:
            if stopping:
                break
            child.start(me)
        while not stopping:
            now = time.monotonic()
            for child in children:
                if (given_up := child.check(me, now)) is not None:
                    code, stopping = given_up, True
                    break
            time.sleep(TICK_SECONDS)
    finally:
        stop_all(children)
    return code


if __name__ == "__main__":
    sys.exit(main())
