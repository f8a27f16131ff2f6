"""Photo uploads: what is accepted, what is stripped, where it is stored, who may see it.

Route tests call with real credentials of real accounts (``auth_headers``). Every image is
made with Pillow.
"""
from __future__ import annotations

import io
import json
import resource
import struct
import threading
import time
import warnings
import zlib
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from app import create_app
from app.errors import ApiError
from app.storage import files, images
from app.storage.images import EXTENSIONS, MAX_BYTES, clean_image
from app.storage.models import Upload
from app.storage.service import claim_photos, describe, store_image
from app.storage.urls import signature, signed_url
from auth.devices import create_device
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for

# ---------------------------------------------------------------- images made with Pillow


def make_image(fmt: str, size: tuple[int, int] = (64, 48), *, mode: str = "RGB",
               color: object = (200, 30, 30), **save_kw: object) -> bytes:
    im = Image.new(mode, size, color)
    buf = io.BytesIO()
    im.save(buf, fmt, **save_kw)
    return buf.getvalue()


def two_halves(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    im = Image.new("RGB", size, (255, 0, 0))
    im.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return im


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    exif[ExifTags.Base.Model] = "Secret Model 9"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 44.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 20.0, 30.25)
    return exif


SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="30,44.2N"/>'
       b"</rdf:RDF></x:xmpmeta>")


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG made by Pillow whose header is then patched to declare ``width`` x ``height``."""
    png = make_image("PNG", (8, 8), mode="L", color=0)
    assert png[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + png[24:29]
    return png[:8] + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + png[33:]


def stored_path(settings, upload: Upload, variant: str = "full") -> Path:
    if variant == "thumb":
        return files.path_for(settings.upload_dir, upload.thumb_sha256, EXTENSIONS[upload.thumb_content_type])
    return files.path_for(settings.upload_dir, upload.sha256, EXTENSIONS[upload.content_type])


def assert_no_metadata(data: bytes) -> None:
    im = Image.open(io.BytesIO(data))
    assert len(im.getexif()) == 0
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "Description"):
        assert key not in im.info, key
    assert b"Exif\x00\x00" not in data
    assert b"ns.adobe.com" not in data
    assert b"TestPhone" not in data and b"Secret Model" not in data


# ---------------------------------------------------------------- an app with a test principal


_WHO: dict[str, object] = {}


@pytest.fixture(scope="module")
def storage_app(settings, migrated_db, _clock):
    return create_app(settings, database=migrated_db, clock=_clock)


@pytest.fixture(autouse=True)
def principals(storage_app, session, clock):
    """Real accounts, created on demand: ``acct(n)`` is resident number n's account id."""
    _WHO.clear()
    _WHO.update(session=session, clock=clock, app=storage_app)
    yield
    _WHO.clear()


def _resident(n: int):
    key = f"resident:{n}"
    if key not in _WHO:
        _WHO[key] = make_resident(_WHO["session"])
    return _WHO[key]


def acct(n: int) -> int:
    return _resident(n).id


def auth_headers(who: str) -> dict[str, str]:
    """``resident:N``, ``staff:N`` or ``device:N`` → real credentials for that caller."""
    with _WHO["app"].app_context():
        return _credentials(who)


def _credentials(who: str) -> dict[str, str]:
    session, clock = _WHO["session"], _WHO["clock"]
    kind, _, n = who.partition(":")
    if kind == "resident":
        return bearer(token_for(session, clock, _resident(int(n))))
    org = make_org(session, "property_company")
    if kind == "staff":
        return bearer(token_for(session, clock, make_staff(session, org, "manager"), org))
    device, secret = create_device(session, org=org, kind="sentinel", name=f"d{n}")
    session.flush()
    return basic(device.uid, secret)


@pytest.fixture
def web(storage_app, db, clock):
    return storage_app.test_client()


@pytest.fixture
def ctx(storage_app, db, clock):
    with storage_app.app_context():
        yield


def post_upload(web, data: bytes, *, who: str | None = "resident:1", filename: str = "photo.jpg",
                content_type: str = "image/jpeg", headers: dict | None = None):
    hdrs = auth_headers(who) if who else {}
    hdrs.update(headers or {})
    return web.post("/api/v1/uploads", data={"file": (io.BytesIO(data), filename, content_type)},
                    headers=hdrs, content_type="multipart/form-data")


def row(session, public_id: str) -> Upload:
    return session.scalar(sa.select(Upload).where(Upload.public_id == public_id))


def count_files(root: str) -> int:
    return sum(1 for p in Path(root).rglob("*") if p.is_file())


# ---------------------------------------------------------------- accepted formats


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
])
def test_jpeg_png_webp_accepted(web, session, settings, fmt, content_type):
    # The client's name and type are lies on purpose: only decoding decides.
    resp = post_upload(web, make_image(fmt, (64, 48)), filename="x.bin", content_type="application/octet-stream")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"id", "content_type", "width", "height", "bytes", "url", "thumb_url"}
    assert (body["content_type"], body["width"], body["height"]) == (content_type, 64, 48)
    upload = row(session, body["id"])
    assert upload.owner_account_id == acct(1)
    stored = stored_path(settings, upload).read_bytes()
    assert body["bytes"] == len(stored) == upload.bytes
    assert Image.open(io.BytesIO(stored)).format == fmt
    thumb = Image.open(stored_path(settings, upload, "thumb"))
    assert thumb.format == "JPEG" and thumb.size == (64, 48)  # small images are not enlarged


def test_thumbnail_is_at_most_320px_and_transparency_kept_in_png(ctx, session, clock, tmp_path):
    im = Image.new("RGBA", (1000, 500), (0, 128, 0, 0))
    im.paste((0, 128, 0, 255), (0, 0, 500, 500))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    upload = store_image(session, data=buf.getvalue(), owner_account_id=acct(3), clock=clock, upload_dir=tmp_path)
    full = Image.open(files.path_for(tmp_path, upload.sha256, "png"))
    assert full.mode == "RGBA" and full.getpixel((900, 10))[3] == 0
    thumb = Image.open(files.path_for(tmp_path, upload.thumb_sha256, "jpg"))
    assert thumb.size == (320, 160)
    assert thumb.getpixel((300, 80)) == (255, 255, 255)  # transparency flattened on white


@pytest.mark.parametrize(("mode", "fmt", "color", "stored_mode", "pixel"), [
    ("I;16", "PNG", 40000, "L", 156),  # 16-bit grey is scaled to 8 bits, not clipped to white
    ("CMYK", "JPEG", (0, 100, 100, 0), "RGB", None),
    ("LA", "PNG", (100, 50), "LA", (100, 50)),
    ("1", "PNG", 1, "1", 255),
    ("L", "JPEG", 128, "L", 128),
    ("RGBA", "WEBP", (10, 200, 10, 0), "RGBA", None),
])
def test_unusual_modes_are_stored_sensibly(mode, fmt, color, stored_mode, pixel):
    clean = clean_image(make_image(fmt, (30, 20), mode=mode, color=color))
    stored = Image.open(io.BytesIO(clean.full.data))
    assert stored.format == fmt and stored.mode == stored_mode and stored.size == (30, 20)
    if pixel is not None:
        assert stored.getpixel((0, 0)) == pixel
    assert Image.open(io.BytesIO(clean.thumb.data)).mode in ("RGB", "L")


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_keep_their_first_frame(fmt):
    buf = io.BytesIO()
    first, second = Image.new("RGB", (30, 20), (255, 0, 0)), Image.new("RGB", (30, 20), (0, 0, 255))
    first.save(buf, fmt, save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(buf.getvalue())).n_frames == 2
    stored = Image.open(io.BytesIO(clean_image(buf.getvalue()).full.data))
    assert getattr(stored, "n_frames", 1) == 1
    assert stored.convert("RGB").getpixel((0, 0))[0] > 240


# ---------------------------------------------------------------- metadata and orientation


def test_gps_exif_stripped_from_jpeg(web, session, settings):
    src = io.BytesIO()
    two_halves((80, 60)).save(src, "JPEG", exif=gps_exif(), icc_profile=SRGB_ICC, comment=b"shot at home", xmp=XMP)
    source = Image.open(io.BytesIO(src.getvalue()))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really carries GPS
    assert b"TestPhone" in src.getvalue() and "icc_profile" in source.info

    resp = post_upload(web, src.getvalue())
    assert resp.status_code == 201, resp.get_json()
    upload = row(session, resp.get_json()["id"])
    for variant in ("full", "thumb"):
        data = stored_path(settings, upload, variant).read_bytes()
        assert_no_metadata(data)
        assert b"shot at home" not in data


def test_png_and_webp_metadata_stripped(ctx, session, clock, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "my flat is room 1203")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    png = io.BytesIO()
    two_halves().save(png, "PNG", pnginfo=info, exif=gps_exif(), icc_profile=SRGB_ICC)
    webp = io.BytesIO()
    two_halves().save(webp, "WEBP", exif=gps_exif(), xmp=XMP, icc_profile=SRGB_ICC)
    for data, ext in ((png.getvalue(), "png"), (webp.getvalue(), "webp")):
        assert b"TestPhone" in data
        upload = store_image(session, data=data, owner_account_id=acct(3), clock=clock, upload_dir=tmp_path)
        stored = files.path_for(tmp_path, upload.sha256, ext).read_bytes()
        assert_no_metadata(stored)
        assert b"room 1203" not in stored


def with_iptc(jpeg: bytes, caption: bytes) -> bytes:
    """``jpeg`` with a Photoshop APP13 segment right after SOI holding an IPTC caption (2:120)
    and a location (2:92), as news and phone apps write them (Pillow cannot write IPTC)."""
    iptc = b"".join(b"\x1c\x02" + bytes([tag]) + struct.pack(">H", len(v)) + v
                    for tag, v in ((120, caption), (92, b"Jinshan Rd 1203")))
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)
    payload = b"Photoshop 3.0\x00" + resource
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_iptc_app13_stripped_from_jpeg():
    src = io.BytesIO()
    two_halves((80, 60)).save(src, "JPEG")
    data = with_iptc(src.getvalue(), b"shot at my flat")
    from PIL import IptcImagePlugin

    iptc = IptcImagePlugin.getiptcinfo(Image.open(io.BytesIO(data)))
    assert iptc and iptc[(2, 120)] == b"shot at my flat"  # the input really carries IPTC
    cleaned = clean_image(data)
    for out in (cleaned.full.data, cleaned.thumb.data):
        assert b"\xff\xed" not in out[:out.find(b"\xff\xda")]  # no APP13 before the scan data
        assert b"Photoshop 3.0" not in out and b"8BIM" not in out
        assert b"shot at my flat" not in out and b"Jinshan Rd" not in out
        assert IptcImagePlugin.getiptcinfo(Image.open(io.BytesIO(out))) is None
        assert_no_metadata(out)


def test_multi_picture_mpo_keeps_only_the_first_picture_and_no_mp_data():
    """Phones write MPO (a JPEG followed by more pictures, indexed by an APP2 "MPF" segment):
    the second picture (here with GPS EXIF of its own) and the index must both go."""
    first, second = two_halves((80, 60)), Image.new("RGB", (80, 60), (10, 200, 10))
    src = io.BytesIO()
    first.save(src, "MPO", save_all=True, append_images=[second], exif=gps_exif())
    data = src.getvalue()
    source = Image.open(io.BytesIO(data))
    assert source.format == "MPO" and source.n_frames == 2 and b"MPF\x00" in data
    assert data.count(b"\xff\xd8") >= 2
    cleaned = clean_image(data)
    assert cleaned.full.content_type == "image/jpeg"
    for out in (cleaned.full.data, cleaned.thumb.data):
        im = Image.open(io.BytesIO(out))
        assert im.format == "JPEG" and getattr(im, "n_frames", 1) == 1
        assert b"MPF\x00" not in out and out.count(b"\xff\xd8\xff") == 1
        assert_no_metadata(out)
    full = Image.open(io.BytesIO(cleaned.full.data)).convert("RGB")
    assert full.getpixel((5, 30))[0] > 150  # the first picture's red half, not the green second one


def test_exif_orientation_applied(web, session, settings):
    src = io.BytesIO()
    two_halves((40, 20)).save(src, "JPEG", exif=gps_exif(orientation=6), quality=95)
    resp = post_upload(web, src.getvalue())
    assert resp.status_code == 201
    body = resp.get_json()
    assert (body["width"], body["height"]) == (20, 40)  # turned a quarter
    stored = Image.open(stored_path(settings, row(session, body["id"])))
    assert stored.size == (20, 40)
    assert len(stored.getexif()) == 0  # no orientation tag left to turn it twice
    top, bottom = stored.getpixel((10, 3)), stored.getpixel((10, 36))
    assert top[0] > 200 and top[2] < 60  # orientation 6 = 90° clockwise: the left (red) is on top
    assert bottom[2] > 200 and bottom[0] < 60


# ---------------------------------------------------------------- refused input


def test_text_file_named_jpg_is_415(web):
    resp = post_upload(web, b"hello, this is not an image\n" * 10, filename="photo.jpg", content_type="image/jpeg")
    assert resp.status_code == 415
    assert resp.get_json()["code"] == "unsupported_media_type"
    assert "file" in resp.get_json()["errors"]


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_415(web, fmt):
    resp = post_upload(web, make_image(fmt), filename="photo.jpg")
    assert resp.status_code == 415
    assert resp.get_json()["code"] == "unsupported_media_type"


def test_over_10_mb_is_413(web, session):
    # A real, decodable JPEG padded past 10 MB (decoders ignore bytes after the end marker).
    data = make_image("JPEG") + b"\0" * (MAX_BYTES + 1024)
    before = session.scalar(sa.select(sa.func.count()).select_from(Upload))
    resp = post_upload(web, data)
    assert resp.status_code == 413
    assert resp.get_json()["code"] == "payload_too_large"
    assert session.scalar(sa.select(sa.func.count()).select_from(Upload)) == before


def test_request_over_max_content_length_is_413(web):
    resp = post_upload(web, b"\xff\xd8" + b"\0" * (13 * 1024 * 1024))
    assert resp.status_code == 413
    assert resp.get_json()["code"] == "payload_too_large"


@pytest.mark.parametrize("size", [(20000, 20000), (7000, 7000)], ids=["over-2x-limit", "warning-band"])
def test_decompression_bomb_is_422_without_decoding(web, size):
    data = png_declaring(*size)
    assert len(data) < 200
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    resp = post_upload(web, data, filename="tiny.png", content_type="image/png")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert resp.status_code == 422
    assert resp.get_json()["code"] == "image_invalid"
    assert grown_mib < 50, grown_mib  # a decode would take 400 MB (L) to 1.2 GB (RGB)


def test_just_over_40_megapixels_refused_before_decoding():
    with pytest.raises(ApiError) as err:
        clean_image(png_declaring(8000, 5001))
    assert err.value.code == "image_invalid" and "file" in err.value.errors


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_image_is_422(web, fmt):
    im = Image.effect_noise((200, 200), 64).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, fmt)
    data = buf.getvalue()
    resp = post_upload(web, data[: len(data) * 2 // 3])
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["code"] == "image_invalid"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_does_not_500(ctx, session, clock, tmp_path):
    src = io.BytesIO()
    two_halves().save(src, "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage")
    upload = store_image(session, data=src.getvalue(), owner_account_id=acct(3), clock=clock, upload_dir=tmp_path)
    assert (upload.width, upload.height) == (40, 20)
    assert_no_metadata(files.path_for(tmp_path, upload.sha256, "jpg").read_bytes())


def test_missing_file_field_is_422_naming_file(web):
    resp = web.post("/api/v1/uploads", data={"photo": "not a file"}, headers=auth_headers("resident:1"),
                    content_type="multipart/form-data")
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "validation_error" and "file" in body["errors"]


def test_anonymous_401_and_device_403(web):
    assert post_upload(web, make_image("PNG"), who=None).status_code == 401
    resp = post_upload(web, make_image("PNG"), who="device:9")
    assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden"
    assert post_upload(web, make_image("PNG"), who="staff:2").status_code == 201


# ---------------------------------------------------------------- storage on disk


def test_identical_uploads_stored_once(web, session, settings):
    data = make_image("JPEG", (50, 50), color=(1, 2, 3))
    first = post_upload(web, data)
    n = count_files(settings.upload_dir)
    second = post_upload(web, data, who="resident:2")
    assert first.status_code == second.status_code == 201
    assert count_files(settings.upload_dir) == n  # nothing new written
    a, b = row(session, first.get_json()["id"]), row(session, second.get_json()["id"])
    assert a.public_id != b.public_id and (a.owner_account_id, b.owner_account_id) == (acct(1), acct(2))
    assert (a.sha256, a.thumb_sha256) == (b.sha256, b.thumb_sha256)
    path = stored_path(settings, a)
    assert path.relative_to(settings.upload_dir).parts == (a.sha256[:2], a.sha256[2:4], f"{a.sha256}.jpg")
    assert not list(Path(settings.upload_dir).rglob(".tmp-*"))


# ---------------------------------------------------------------- signed URLs


def split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_signed_url_serves_the_stored_file(web, session, settings, clock):
    body = post_upload(web, make_image("WEBP", (30, 20))).get_json()
    upload = row(session, body["id"])
    for key, variant, ctype in (("url", "full", "image/webp"), ("thumb_url", "thumb", "image/jpeg")):
        path, query = split(body[key])
        assert path == f"/api/v1/uploads/{body['id']}/content" and query["variant"] == variant
        resp = web.get(body[key])  # no Authorization, no principal
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == ctype
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.data == stored_path(settings, upload, variant).read_bytes()
        max_age = int(resp.headers["Cache-Control"].removeprefix("private, max-age="))
        assert resp.headers["Cache-Control"].startswith("private, ")
        assert max_age == int(query["exp"]) - int(clock.now().timestamp())
        assert 600 <= max_age <= 900
        again = web.get(body[key], headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status_code == 304


def test_signed_url_expires(web, clock):
    url = post_upload(web, make_image("PNG")).get_json()["url"]
    clock.advance(minutes=9)
    assert web.get(url).status_code == 200
    clock.advance(minutes=7)  # at least 10 and at most 15 minutes from signing
    resp = web.get(url)
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "url_expired"


def test_tampered_urls_refused(web, session, clock):
    body = post_upload(web, make_image("PNG")).get_json()
    other = post_upload(web, make_image("PNG", color=(0, 0, 0))).get_json()
    path, q = split(body["thumb_url"])
    bad_sig = q["sig"][:-2] + ("AA" if not q["sig"].endswith("AA") else "BB")
    cases = {
        "sig": {**q, "sig": bad_sig},
        "variant": {**q, "variant": "full"},  # a thumb signature does not open the full image
        "exp": {**q, "exp": str(int(q["exp"]) + 3600)},
        "other id": None,
    }
    for name, query in cases.items():
        target = (f"/api/v1/uploads/{other['id']}/content?" + urlencode(q)) if query is None \
            else f"{path}?{urlencode(query)}"
        resp = web.get(target)
        assert resp.status_code == 403, name
        assert resp.get_json()["code"] == "forbidden", name
    missing = web.get(f"{path}?variant=thumb&exp={q['exp']}")
    assert missing.status_code == 422 and "sig" in missing.get_json()["errors"]
    bad_variant = web.get(f"{path}?variant=original&exp={q['exp']}&sig={q['sig']}")
    assert bad_variant.status_code == 422


def test_signature_key_is_derived_for_this_purpose(ctx, storage_app):
    secret = storage_app.extensions["settings"].secret_key
    import hashlib
    import hmac

    raw = hmac.new(secret.encode(), b"abc\nfull\n100", hashlib.sha256).hexdigest()
    assert signature("abc", "full", 100, secret_key=secret) != raw
    assert signature("abc", "full", 100, secret_key=secret) != signature("abc", "full", 100, secret_key="other")


def test_signed_urls_are_stable_within_five_minutes(ctx, clock):
    clock.set(datetime(2026, 11, 2, 1, 1, tzinfo=UTC))
    upload = Upload(public_id="fixed-id")
    first = signed_url(upload, "thumb", clock=clock)
    clock.advance(seconds=30)
    assert signed_url(upload, "thumb", clock=clock) == first  # the client's image cache hits


# ---------------------------------------------------------------- the owner's view


def test_owner_reads_upload_others_get_404(web):
    body = post_upload(web, make_image("JPEG"), who="resident:1").get_json()
    mine = web.get(f"/api/v1/uploads/{body['id']}", headers=auth_headers("resident:1"))
    assert mine.status_code == 200
    assert {k: mine.get_json()[k] for k in ("id", "width", "height", "bytes")} == \
        {k: body[k] for k in ("id", "width", "height", "bytes")}
    assert web.get(mine.get_json()["url"]).status_code == 200
    theirs = web.get(f"/api/v1/uploads/{body['id']}", headers=auth_headers("resident:2"))
    assert theirs.status_code == 404 and theirs.get_json()["code"] == "not_found"
    unknown = web.get("/api/v1/uploads/no-such-upload", headers=auth_headers("resident:1"))
    assert unknown.status_code == 404
    assert web.get(f"/api/v1/uploads/{body['id']}").status_code == 401


# ---------------------------------------------------------------- claim_photos (for tickets)


@pytest.fixture
def three_uploads(ctx, session, clock, tmp_path):
    mine = [store_image(session, data=make_image("PNG", color=(i, 0, 0)), owner_account_id=acct(7), clock=clock,
                        upload_dir=tmp_path) for i in range(2)]
    theirs = store_image(session, data=make_image("PNG", color=(0, 0, 9)), owner_account_id=acct(8), clock=clock,
                         upload_dir=tmp_path)
    return mine, theirs


def test_claim_photos_returns_own_uploads_in_order(session, three_uploads):
    (a, b), _ = three_uploads
    got = claim_photos(session, public_ids=[b.public_id, a.public_id], owner_account_id=acct(7))
    assert [u.public_id for u in got] == [b.public_id, a.public_id]
    assert claim_photos(session, public_ids=[], owner_account_id=acct(7)) == []


@pytest.mark.parametrize("case", ["someone else's", "unknown", "too many", "twice"])
def test_claim_photos_refusals_name_photos(session, three_uploads, case):
    (a, _), theirs = three_uploads
    ids = {
        "someone else's": [a.public_id, theirs.public_id],
        "unknown": [a.public_id, "not-an-upload"],
        "too many": [f"id{i}" for i in range(10)],
        "twice": [a.public_id, a.public_id],
    }[case]
    with pytest.raises(ApiError) as err:
        claim_photos(session, public_ids=ids, owner_account_id=acct(7))
    assert err.value.code == "validation_error" and err.value.status == 422
    assert list(err.value.errors) == ["photos"]


def test_claim_photos_allows_nine(ctx, session, clock, tmp_path):
    ups = [store_image(session, data=make_image("PNG", (8, 8), color=(i, i, i)), owner_account_id=acct(5), clock=clock,
                       upload_dir=tmp_path) for i in range(10)]
    assert len(claim_photos(session, public_ids=[u.public_id for u in ups[:9]], owner_account_id=acct(5))) == 9
    with pytest.raises(ApiError):
        claim_photos(session, public_ids=[u.public_id for u in ups], owner_account_id=acct(5))


def test_describe_gives_signed_urls_for_tickets(ctx, session, clock, tmp_path):
    up = store_image(session, data=make_image("JPEG"), owner_account_id=acct(5), clock=clock, upload_dir=tmp_path)
    d = describe(up, clock=clock)
    assert d["id"] == up.public_id and "sig=" in d["url"] and "variant=thumb" in d["thumb_url"]


# ---------------------------------------------------------------- the spec


def test_spec_documents_the_multipart_body(storage_app):
    spec = json.loads(json.dumps(storage_app.extensions["api"].spec.to_dict()))
    post = spec["paths"]["/api/v1/uploads"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["file"] == {**schema["properties"]["file"], "type": "string", "format": "binary"}
    assert {"201", "413", "415", "422"} <= set(post["responses"])
    content = spec["paths"]["/api/v1/uploads/{public_id}/content"]["get"]
    assert {p["name"] for p in content["parameters"] if p["in"] == "query"} == {"variant", "exp", "sig"}


def test_threads_opening_at_once_leave_the_warning_filters_as_they_were(monkeypatch):
    """``catch_warnings`` saves and restores the process's filters: request threads (gthread
    workers) interleaving it would leave one's ``error`` filter installed for good."""
    real_open = Image.open

    def slow_open(*args, **kwargs):
        time.sleep(0.005)  # widen the window in which another thread could enter
        return real_open(*args, **kwargs)

    monkeypatch.setattr(images.Image, "open", slow_open)
    data = make_image("PNG")
    before = list(warnings.filters)
    start = threading.Barrier(6)

    def upload() -> None:
        start.wait()
        clean_image(data)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert warnings.filters == before
