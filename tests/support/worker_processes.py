"""Worker processes started by tests (``python -m tests.support.worker_main`` and the like), and waiting on them."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_worker(procs, database_url: str, tmp_path: Path, name: str, *args: str,
                 module: str = "tests.support.worker_main", **env: str) -> subprocess.Popen:
    full_env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": database_url, "LOG_LEVEL": "INFO",
                "TEST_WORKER_READY": str(tmp_path / f"{name}.ready"), **env}
    cmd = [sys.executable, "-m", module, *args]
    if module == "tests.support.worker_main":
        cmd += ["--worker-id", name]
    log = (tmp_path / f"{name}.log").open("wb")
    p = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    procs.append(p)
    return p


def wait_for(pred: Callable[[], object], what: str, *, timeout: float = 60.0, procs=()) -> object:
    """``pred()`` once it is true; a worker process starting on a loaded 2-core machine may take
    tens of seconds to import the application, hence the generous ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a worker exited ({p.returncode}) while waiting for {what}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
