"""Micro-benchmarks of the QR layer: ``python -m bench.qr_micro`` (prints a Markdown table).

Medians over many repetitions, in microseconds, of: signing a personal code (PyJWT); decoding and
verifying one without the database (what ``verify`` does before it touches a row: our shape
and header checks around PyJWT); a bare ``jwt.decode`` and a bare Ed25519 signature check of
the same token, for comparison; a whole ``verify`` with its database work
on a temporary SQLite file (subject lookup, jti insert, scan record, commit); the PNG and
SVG images of a ~400-character token, and naive ``qrcode`` (mask search, Pillow) for
comparison. ``QR_BENCH_REPEAT`` scales the repetitions (default 1).
"""
from __future__ import annotations

import base64
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jwt  # noqa: E402
import qrcode  # noqa: E402
import qrcode.constants  # noqa: E402

from app.clock import SystemClock  # noqa: E402
from app.db import Database  # noqa: E402
from app.models import metadata  # noqa: E402
from qr import render, tokens  # noqa: E402
from qr.config import QrConfig  # noqa: E402
from qr.keys import Keyring, init_keys  # noqa: E402
from qr.service import issue_personal, verify  # noqa: E402


def median_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(50, n)):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def main() -> int:
    repeat = float(os.environ.get("QR_BENCH_REPEAT", "1"))
    n_fast, n_img, n_db = int(5000 * repeat), int(200 * repeat), int(1000 * repeat)
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        metadata.create_all(db.engine, tables=[t for name, t in metadata.tables.items() if name.startswith("qr_")])
        keyring = Keyring(db, os.urandom(32), clock, QrConfig())
        with db.transaction() as s:
            init_keys(s, kek=keyring._kek, clock=clock)
        key = keyring.signing_key(clock.now())

        with db.transaction() as s:
            token = issue_personal(s, holder_type="person", holder_id=1, clock=clock, keyring=keyring).token
        now = clock.now()
        signing_input, _, sig_b64 = token.rpartition(".")
        signing_input = signing_input.encode()
        signature = base64.urlsafe_b64decode(sig_b64 + "==")
        results: list[tuple[str, float]] = [
            ("sign (personal code, no DB)", median_us(lambda: tokens.issue(
                keyring, now=now, sub="s" * 22, jti="j" * 22, pur="personal", exp=now), n_fast)),
            ("verify: decode only (shape, header, PyJWT decode, claims)",
             median_us(lambda: tokens.decode(token, keyring, now=now), n_fast)),
            ("bare jwt.decode, for comparison", median_us(lambda: jwt.decode(
                token, key.public, algorithms=["EdDSA"], options={"verify_exp": False, "verify_iat": False}), n_fast)),
            ("bare Ed25519 signature check, for comparison",
             median_us(lambda: key.public.verify(signature, signing_input), n_fast)),
        ]

        batch = []
        with db.transaction() as s:
            for _ in range(n_db + 50):
                batch.append(issue_personal(s, holder_type="person", holder_id=1, clock=clock, keyring=keyring).token)
        it = iter(batch)

        def full_verify() -> None:
            with db.transaction() as s:
                verify(s, next(it), clock=clock, allowed_purposes={"personal"}, keyring=keyring)

        results.append(("verify with DB work + commit (SQLite file)", median_us(full_verify, n_db)))

        def issue_one() -> None:
            with db.transaction() as s:
                issue_personal(s, holder_type="person", holder_id=1, clock=clock, keyring=keyring)

        results.append(("issue personal code + commit (SQLite file)", median_us(issue_one, n_db)))
        db.dispose()

    def naive() -> None:
        img = qrcode.make(token, error_correction=qrcode.constants.ERROR_CORRECT_M)
        img.save(io.BytesIO())

    results += [
        (f"render PNG ({len(token)}-char token)", median_us(lambda: render.png(token), n_img)),
        ("render SVG", median_us(lambda: render.svg(token), n_img)),
        ("qrcode matrix alone (fixed mask)", median_us(lambda: render.matrix(token), n_img)),
        ("naive qrcode PNG, for comparison", median_us(naive, max(10, n_img // 10))),
    ]
    print("| operation | median |")
    print("| --- | ---: |")
    for name, us in results:
        print(f"| {name} | {us / 1000:.2f} ms |" if us >= 1000 else f"| {name} | {us:.0f} µs |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
