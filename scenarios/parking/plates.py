"""Vehicle plates (号牌): the mainland formats, one normal form, the colours, the mask.

A plate is a province's abbreviation, the issuing office's letter and five characters (7 in
all: blue, yellow, black or white plates) or six (8: new-energy green or yellow-green plates).
Letters I and O are never used. Input may carry the dot or spaces people type (``沪A·12345``,
``沪 a12345``): the normal form drops them and upper-cases, and is what is stored, encrypted,
and hashed for lookups (``parking.plate``). Masked for everyone but its owner: ``沪A1***5``.
"""
from __future__ import annotations

import re

from app.errors import ApiError

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_ALNUM = "A-HJ-NP-Z0-9"
ORDINARY = re.compile(f"[{PROVINCES}][A-HJ-NP-Z][{_ALNUM}]{{4}}[{_ALNUM}学警挂领]")
"""7 characters; a learner's (学), police (警) or trailer (挂) plate ends with its character."""
NEW_ENERGY = re.compile(f"[{PROVINCES}][A-HJ-NP-Z](?:[A-HJK][{_ALNUM}]{{5}}|[0-9]{{5}}[A-HJK])")
"""8 characters: a small car's plate has its energy letter third, a large vehicle's last."""

COLOURS = ("blue", "yellow", "black", "white", "green", "yellow_green")
COLOURS_7 = ("blue", "yellow", "black", "white")
COLOURS_8 = ("green", "yellow_green")
_TYPED = re.compile(r"[\s·•.\-]")
PURPOSE = "parking.plate"
FORMAT_ZH = "号牌格式不正确：7 位（新能源 8 位），如 沪A12345、沪AD12345。"


def normalise(raw: str) -> str:
    """``沪a·12345`` → ``沪A12345`` (no check: see ``parse``)."""
    return _TYPED.sub("", raw).upper()


def parse(raw: object, colour: object = None, *, field: str = "plate") -> tuple[str, str]:
    """The normal form and colour of a typed or read plate, else 422 ``plate_invalid`` on ``field``.

    ``colour`` missing: blue for 7 characters, green for 8."""
    plate = normalise(raw) if isinstance(raw, str) else ""
    if ORDINARY.fullmatch(plate):
        allowed, default = COLOURS_7, "blue"
    elif NEW_ENERGY.fullmatch(plate):
        allowed, default = COLOURS_8, "green"
    else:
        raise ApiError("plate_invalid", errors={field: [FORMAT_ZH]})
    colour = colour or default
    if colour not in allowed:
        raise ApiError("plate_invalid", errors={f"{field}_colour" if field == "plate" else "colour":
                                                [f"{len(plate)} 位号牌的颜色只能是 {'、'.join(allowed)}。"]})
    return plate, str(colour)


def mask(plate: str | None) -> str | None:
    """``沪A12345`` → ``沪A1***5``; ``沪AD12345`` → ``沪AD****5``."""
    if not plate:
        return plate
    return plate[:3] + "*" * (len(plate) - 4) + plate[-1]


def lookup(plate: str) -> str:
    """The keyed lookup hash of a normal-form plate (``auth.pii``; rotation keeps it)."""
    from auth import pii

    return pii.lookup_hash(PURPOSE, plate)
