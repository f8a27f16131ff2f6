"""Decode an untrusted image, apply its EXIF orientation, drop all metadata, re-encode it.

What an image is comes from decoding it with Pillow, never from the file name or the
client's content type. Memory stays bounded: the byte size is checked before anything is
parsed, the pixel count declared in the header before any pixel is decoded (at most 40 MP),
and at most ``DECODE_SLOTS`` images are decoded at once per process. Measured peaks for a
40 MP image: JPEG ~170 MB, RGBA PNG ~310 MB, WebP ~620 MB (Pillow's WebP decoder copies the
frame several times).

Metadata goes by re-encoding from pixels with an empty ``info``: no EXIF (GPS!), XMP, ICC
profile, comments or text chunks survive. Colours tagged with an ICC profile (phones shoot
in Display P3) are converted to sRGB first, so dropping the profile keeps them right.
"""
from __future__ import annotations

import io
import logging
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from app.errors import ApiError

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMB_MAX_SIDE = 320
DECODE_SLOTS = 2
_decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)

# Pillow refuses (error) above twice this and warns above it; we turn the warning into an
# error while opening and check the declared size ourselves as well (that check is the one
# relied on: ``warnings.catch_warnings`` is process-wide and not thread-safe).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_warnings_lock = threading.Lock()
"""Held around ``catch_warnings``: it saves and restores the process's filter list, so two
request threads (gthread workers) interleaving it could leave the other's filter installed
for good. Only the header is parsed under it, not the image."""

# Pillow format name → (content type, file extension). MPO is how Pillow opens the
# multi-picture JPEGs many phones write; it is stored as a plain JPEG.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
OPEN_FORMATS = ("JPEG", "PNG", "WEBP")  # the JPEG opener also yields MPO
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
THUMB_CONTENT_TYPE = "image/jpeg"

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_ACCEPTED = "只接受 JPEG、PNG 或 WebP 格式的图片。"


@dataclass(frozen=True)
class Encoded:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.content_type]


@dataclass(frozen=True)
class CleanImage:
    full: Encoded
    thumb: Encoded


def _invalid(msg: str) -> ApiError:
    return ApiError("image_invalid", errors={"file": [msg]})


def clean_image(data: bytes) -> CleanImage:
    """Validate and clean an uploaded image; raise ``ApiError`` (413, 415, 422) when refused."""
    if len(data) > MAX_BYTES:
        raise ApiError("payload_too_large", errors={"file": ["图片不能超过 10 MB。"]})
    im = _open(data)
    with _decode_slots:
        return _clean(im)


def _clean(im: Image.Image) -> CleanImage:
    fmt = im.format or ""
    try:
        im.load()  # the whole decode; truncated or corrupt data fails here
    except Exception as exc:  # Pillow raises many kinds on hostile input; none may be a 500
        raise _invalid("图片数据已损坏或不完整。") from exc
    im = _oriented(im)
    im = _normalised(im, fmt)
    content_type = FORMATS[fmt][0]
    full = Encoded(_encode(im, content_type), content_type, im.width, im.height)
    thumb = _thumbnail(im)
    return CleanImage(full=full, thumb=thumb)


def _open(data: bytes) -> Image.Image:
    """Parse the header only and check the declared pixel count before decoding anything."""
    try:
        with _warnings_lock, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except UnidentifiedImageError as exc:
        raise ApiError("unsupported_media_type", errors={"file": [_ACCEPTED]}) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _invalid("图片像素过多（最多 4000 万像素）。") from exc
    except Exception as exc:
        raise _invalid("图片数据已损坏或不完整。") from exc
    if im.format not in FORMATS:  # belt and braces: ``formats=`` already restricts this
        raise ApiError("unsupported_media_type", errors={"file": [_ACCEPTED]})
    width, height = im.size
    if width < 1 or height < 1:
        raise _invalid("图片尺寸无效。")
    if width * height > MAX_PIXELS:
        raise _invalid("图片像素过多（最多 4000 万像素）。")
    return im


def _oriented(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; an unreadable EXIF block is ignored (it is dropped anyway)."""
    try:
        ImageOps.exif_transpose(im, in_place=True)  # in place: no second full-size copy
    except Exception:  # hostile EXIF must not turn a displayable image into a 500
        log.info("unreadable EXIF ignored while orienting an upload")
    return im


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _normalised(im: Image.Image, fmt: str) -> Image.Image:
    """Convert to sRGB and to a mode the output format stores, then forget all metadata."""
    if im.mode == "I" or im.mode.startswith("I;16"):  # 16-bit grey: scale to 8 bits, not clip
        im = im.point(lambda v: v * (1 / 256)).convert("L")
    alpha = _has_alpha(im)
    if fmt in ("JPEG", "MPO"):
        mode = "L" if im.mode in ("1", "L") else "RGB"
    elif fmt == "PNG":
        if alpha:
            mode = "LA" if im.mode == "LA" else "RGBA"
        else:
            mode = im.mode if im.mode in ("1", "L", "P", "RGB") else "RGB"
    else:  # WEBP
        mode = "RGBA" if alpha else "RGB"
    icc = im.info.get("icc_profile")
    if icc and im.mode in ("RGB", "RGBA", "CMYK") and mode in ("RGB", "RGBA"):
        im = _to_srgb(im, icc, mode)
    if im.mode != mode:
        im = im.convert(mode)
    im.info = {}
    return im


def _to_srgb(im: Image.Image, icc: bytes, mode: str) -> Image.Image:
    out_mode = mode if im.mode != "CMYK" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode=out_mode)
    except Exception:  # a broken profile: keep the pixels as they are
        log.info("unusable ICC profile ignored on an upload")
        return im
    return converted if converted is not None else im


def _encode(im: Image.Image, content_type: str) -> bytes:
    buf = io.BytesIO()
    if content_type == "image/jpeg":
        im.save(buf, "JPEG", quality=85)
    elif content_type == "image/png":
        im.save(buf, "PNG", compress_level=3)
    else:
        im.save(buf, "WEBP", quality=85, method=2)
    return buf.getvalue()


def _thumbnail(im: Image.Image) -> Encoded:
    """At most ``THUMB_MAX_SIDE`` px on the long side, JPEG, transparency flattened on white."""
    src = im
    if src.mode in ("1", "P"):  # palette images resample with nearest only
        src = src.convert("RGBA" if _has_alpha(src) else "RGB")
    scale = min(1.0, THUMB_MAX_SIDE / max(src.size))
    size = (max(1, round(src.width * scale)), max(1, round(src.height * scale)))
    thumb = src.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0) if scale < 1 else src.copy()
    if thumb.mode in ("RGBA", "LA"):
        rgba = thumb.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        thumb = flat
    elif thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    thumb.info = {}
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=80)
    return Encoded(buf.getvalue(), THUMB_CONTENT_TYPE, thumb.width, thumb.height)
