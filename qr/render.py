"""QR images of a token or link: PNG and SVG, at error-correction level M, fast.

The symbol comes from ``qrcode``. Left to itself it spends most of its time choosing a mask
(it builds the symbol eight times and scores each); a decoder reads the mask from the format
bits, so a fixed mask costs nothing in readability for data like ours (base64url,
statistically flat). Only the output is ours: the PNG is written directly as a 1-bit
greyscale image with ``zlib`` (no Pillow, no per-pixel loops), the SVG as one path.
Posters for place codes are drawn with Pillow (PNG) or as SVG text (the viewer's fonts
render the Chinese name; a PNG needs a CJK font, see ``poster_png``).
"""
from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache
from html import escape
from pathlib import Path

import qrcode
import qrcode.constants
import qrcode.util

LEVEL = qrcode.constants.ERROR_CORRECT_M
MASK_PATTERN = 2
DEFAULT_SCALE = 8
BORDER = 4  # the quiet zone the standard asks for, in modules
MAX_DATA_LENGTH = 2000

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


@lru_cache(maxsize=512)
def version_for(length: int) -> int:
    """The smallest version at level M holding ``length`` bytes in byte mode. It depends on
    the length alone, so it is found once (``qrcode``'s ``best_fit`` writes the whole bit
    stream to measure it, a third of the time of a symbol) and remembered."""
    qr = qrcode.QRCode(error_correction=LEVEL)
    qr.add_data(qrcode.util.QRData(b"\0" * length, mode=qrcode.util.MODE_8BIT_BYTE))
    return qr.best_fit()


def matrix(data: str) -> list[list[bool]]:
    """The modules (True = dark) of the smallest symbol at level M holding ``data``, drawn
    by ``qrcode`` in byte mode with the fixed mask."""
    if len(data) > MAX_DATA_LENGTH:
        raise ValueError("data too long for a QR image")
    raw = data.encode("utf-8")
    qr = qrcode.QRCode(version=version_for(len(raw)), error_correction=LEVEL, border=0, box_size=1,
                       mask_pattern=MASK_PATTERN)
    qr.add_data(qrcode.util.QRData(raw, mode=qrcode.util.MODE_8BIT_BYTE))
    qr.make(fit=False)
    return qr.modules  # type: ignore[return-value]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=64)
def _widen(scale: int) -> tuple[bytes, ...]:
    """For each byte of 8 module bits, the ``scale`` bytes with every bit repeated."""
    return tuple(
        int("".join(c * scale for c in format(b, "08b")), 2).to_bytes(scale, "big") for b in range(256)
    )


def _row_bits(row: list[bool], scale: int, border: int) -> bytes:
    """One pixel row of a 1-bit image: 1 = white, each module ``scale`` pixels wide."""
    bits = "1" * border + "".join(["0" if dark else "1" for dark in row]) + "1" * border
    width = (len(bits) * scale + 7) // 8
    bits += "1" * (-len(bits) % 8)
    widen = _widen(scale)
    return b"".join([widen[b] for b in int(bits, 2).to_bytes(len(bits) // 8, "big")])[:width]


def png(data: str, *, scale: int = DEFAULT_SCALE, border: int = BORDER) -> bytes:
    """A 1-bit PNG of the QR symbol for ``data``."""
    if not 1 <= scale <= 40:
        raise ValueError("scale must be 1..40")
    modules = matrix(data)
    size = (len(modules) + 2 * border) * scale
    white = b"\x00" + _row_bits([False] * len(modules), scale, border)
    raw = bytearray()
    raw += white * (border * scale)
    for row in modules:
        raw += (b"\x00" + _row_bits(row, scale, border)) * scale
    raw += white * (border * scale)
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _png_chunk(b"IEND", b""))


def svg_path(modules: list[list[bool]], offset: int = 0) -> str:
    """A path of one rectangle per horizontal run of dark modules."""
    parts = []
    for y, row in enumerate(modules):
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                parts.append(f"M{start + offset},{y + offset}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(parts)


def svg(data: str, *, scale: int = DEFAULT_SCALE, border: int = BORDER) -> str:
    """An SVG of the QR symbol for ``data`` (``scale`` sets the nominal pixel size)."""
    modules = matrix(data)
    n = len(modules) + 2 * border
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" width="{n * scale}" '
        f'height="{n * scale}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{svg_path(modules, border)}"/></svg>'
    )


# ----------------------------------------------------------------------------- posters

POSTER_TITLE = "场所码"
POSTER_HINT = "请使用微信扫一扫登记"


@lru_cache(maxsize=4)
def find_cjk_font(configured: str | None = None) -> str | None:
    for candidate in ((configured,) if configured else ()) + CJK_FONT_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def poster_svg(link: str, *, place_name: str, place_ref: str) -> str:
    """A printable A4-proportioned poster (210 × 297 units) with the code and the name."""
    modules = matrix(link)
    n = len(modules) + 2 * BORDER
    side = 160.0
    x0, y0 = (210 - side) / 2, 62.0
    k = side / n
    name, ref = escape(place_name), escape(place_ref)
    font = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 210 297" width="210mm" height="297mm">'
        '<rect width="210" height="297" fill="#fff"/>'
        f'<text x="105" y="30" text-anchor="middle" font-family="{font}" font-size="16" '
        f'font-weight="bold">{POSTER_TITLE}</text>'
        f'<text x="105" y="50" text-anchor="middle" font-family="{font}" font-size="11">{name}</text>'
        f'<g transform="translate({x0:.3f},{y0:.3f}) scale({k:.5f})" shape-rendering="crispEdges">'
        f'<path fill="#000" d="{svg_path(modules, BORDER)}"/></g>'
        f'<text x="105" y="245" text-anchor="middle" font-family="{font}" font-size="9">{POSTER_HINT}</text>'
        f'<text x="105" y="280" text-anchor="middle" font-family="monospace" font-size="5" '
        f'fill="#555">{ref}</text></svg>'
    )


def poster_png(link: str, *, place_name: str, place_ref: str, font_path: str | None = None) -> bytes:
    """A printable poster (A4 at 150 dpi). The Chinese texts need a CJK font
    (``QR_POSTER_FONT`` or a system one); without it only the place reference is written."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = 1240, 1754
    poster = Image.new("L", (width, height), 255)
    modules = matrix(link)
    n = len(modules) + 2 * BORDER
    scale = max(1, 900 // n)
    code = Image.open(io.BytesIO(png(link, scale=scale)))
    poster.paste(code.convert("L"), ((width - code.width) // 2, 330))
    draw = ImageDraw.Draw(poster)
    font_file = find_cjk_font(font_path)

    def text(y: int, s: str, size: int) -> None:
        font = ImageFont.truetype(font_file, size) if font_file else ImageFont.load_default(size)
        draw.text((width // 2, y), s, fill=0, font=font, anchor="mm")

    if font_file:
        text(130, POSTER_TITLE, 110)
        text(250, place_name, 64)
        text(330 + code.height + 70, POSTER_HINT, 48)
    text(height - 90, place_ref, 32)
    out = io.BytesIO()
    poster.save(out, "PNG", optimize=False)
    return out.getvalue()
