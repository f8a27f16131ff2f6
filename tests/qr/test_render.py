"""QR images decode back to what they encode (zxing-cpp reads them), and quickly."""
from __future__ import annotations

import base64
import io
import json
import os
import re

import qrcode
import qrcode.util
from PIL import Image, ImageDraw

from qr import render
from tests.support.qr import read_qr


def token_like(n: int = 400) -> str:
    return base64.urlsafe_b64encode(os.urandom(n)).decode().rstrip("=")[:n]


def decode_png(data: bytes) -> list[str]:
    return [r.text for r in read_qr(data)]


def test_png_decodes_to_the_token():
    for n in (60, 200, 400, 700):
        token = token_like(n)
        data = render.png(token)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        img = Image.open(io.BytesIO(data))
        assert img.mode == "1" and img.size[0] == img.size[1]
        assert decode_png(data) == [token]


def test_png_of_a_real_personal_code_decodes(session, clock, keyring):
    from qr.service import issue_personal

    token = issue_personal(session, holder_type="person", holder_id=1, clock=clock, keyring=keyring).token
    assert 300 < len(token) < 450
    assert decode_png(render.png(token)) == [token]


def test_version_and_level_are_what_the_standard_needs():
    token = token_like(400)
    modules = render.matrix(token)
    assert len(modules) == 4 * 15 + 17  # version 15 at level M, as the architecture says
    ref = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=render.MASK_PATTERN,
                        border=0)
    ref.add_data(qrcode.util.QRData(token.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    ref.make(fit=True)
    assert ref.modules == modules  # the fast path draws exactly what qrcode would


def test_mask_is_fixed_whatever_the_data():
    """No mask search: a decoder finds level M, MASK_PATTERN and version 15 in the symbol."""
    for _ in range(3):
        (result,) = read_qr(render.png(token_like(386)))
        extra = result.extra if isinstance(result.extra, dict) else json.loads(result.extra)
        assert (result.ec_level, extra["DataMask"], extra["Version"]) == ("M", render.MASK_PATTERN, "15")


def test_png_of_utf8_data_decodes():
    link = "https://jsq.jinshan.example/p/" + token_like(40)
    assert decode_png(render.png(link)) == [link]
    assert decode_png(render.png("场所码-金山")) == ["场所码-金山"]


def svg_to_png(svg: str) -> bytes:
    """Draw the SVG's path (rectangles only) with Pillow, to decode it."""
    n = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    scale = 6
    img = Image.new("L", (n * scale, n * scale), 255)
    draw = ImageDraw.Draw(img)
    for x, y, w in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\3z", svg):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_svg_decodes_to_the_token():
    token = token_like(400)
    svg = render.svg(token)
    assert svg.startswith("<svg") and 'shape-rendering="crispEdges"' in svg
    assert decode_png(svg_to_png(svg)) == [token]


def test_posters_carry_the_link_and_the_name():
    link = "https://jsq.jinshan.example/p/" + token_like(330)
    poster = render.poster_png(link, place_name="金山万达广场", place_ref="venue:mall-3")
    img = Image.open(io.BytesIO(poster))
    assert img.size == (1240, 1754)
    assert decode_png(poster) == [link]
    svg = render.poster_svg(link, place_name="<金山> & 万达", place_ref="venue:mall-3")
    assert "&lt;金山&gt; &amp; 万达" in svg and "venue:mall-3" in svg and "<金山>" not in svg


def test_remembered_versions_draw_the_same_symbol_as_qrcode_s_own_fit():
    for n in (1, 17, 60, 180, 386, 401, 650, 1200):
        token = token_like(n)
        q = qrcode.QRCode(error_correction=render.LEVEL, border=0, box_size=1, mask_pattern=render.MASK_PATTERN)
        q.add_data(qrcode.util.QRData(token.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
        q.make(fit=True)
        assert render.matrix(token) == q.modules, n
        assert render.version_for(n) == q.version
