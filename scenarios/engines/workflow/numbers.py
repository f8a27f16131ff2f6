"""Ticket numbers that say nothing about volume: the scenario's prefix, the filing day (China
time) and a random block of ``BLOCK`` Crockford base32 characters (40 bits; no I, L, O, U, so
a number read out on the phone is not misheard). A sequential number would tell anyone holding
two tickets how many a company or the district received in between.

Numbers are unique (``wf_tickets.number``); a collision, about one in a trillion a day per
prefix, is retried with a new block (``MAX_ATTEMPTS``)."""
from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BLOCK = 8
MAX_ATTEMPTS = 8


def random_block() -> str:
    """``BLOCK`` characters drawn from ``ALPHABET`` by the operating system's CSPRNG."""
    return "".join(secrets.choice(ALPHABET) for _ in range(BLOCK))


def new_number(head: str) -> str:
    """``head`` (prefix and day) followed by a fresh random block."""
    return f"{head}{random_block()}"


class NumberExhausted(RuntimeError):
    """``MAX_ATTEMPTS`` numbers in a row were taken: the random source is broken."""
