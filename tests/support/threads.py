"""Calls started at the same instant from threads of their own: the smallest race."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(*calls: Callable[[], T], timeout: float = 10.0) -> list[T]:
    """Run ``calls`` in threads released together by a barrier; their results in order.

    The first error a call raised is raised again here; a call still running after
    ``timeout`` seconds fails the test.
    """
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if any(t.is_alive() for t in threads):
        raise AssertionError(f"a call was still running after {timeout} s")
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
