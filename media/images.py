"""Pillow checks of an uploaded file, its EXIF facts and its thumbnail; nothing is trusted.

A file is accepted only when Pillow (restricted to JPEG, PNG and WebP) decodes every pixel,
it is at most 50 megapixels (Pillow's decompression-bomb warning is an error here), nothing
follows the image's own end (no ZIP or script appended: see `trailing_bytes`), and the
content type and file-name extension the client gave, when given, name the decoded format.
"""

from __future__ import annotations

import datetime as dt
import mmap
import re
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageOps

from server.errors import InvalidImage

MAX_PIXELS = 50_000_000
#: Pillow warns above this and refuses above twice this; we turn the warning into a refusal.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

THUMBNAIL_SIDE = 320
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
SIGNATURE_FORMATS = ("PNG", "WEBP")
SIGNATURE_MIN_SIZE = (100, 50)
SIGNATURE_MAX_SIZE = (4000, 4000)

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_TYPE_ALIASES = {
    "JPEG": {"image/jpeg", "image/jpg", "image/pjpeg"},
    "PNG": {"image/png"},
    "WEBP": {"image/webp"},
}
_EXTENSIONS = {"JPEG": {"jpg", "jpeg", "jpe"}, "PNG": {"png"}, "WEBP": {"webp"}}
#: Content types that say nothing about the format (curl and many clients send these).
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}

_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
_EXIF_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


@dataclass(frozen=True)
class ImageFacts:
    """What the server learned from the pixels, not from the client."""

    format: str
    content_type: str
    width: int
    height: int
    exif_taken_at: str | None
    exif_gps: dict[str, float] | None
    thumbnail_content_type: str
    thumbnail_extension: str


def examine(path: Path, *, kind: str, claimed_type: str | None = None,
            filename: str | None = None, thumbnail_path: Path) -> ImageFacts:
    """Verify the file at `path` and write its thumbnail to `thumbnail_path`.

    Raises InvalidImage (422) with a sentence saying why the file was refused.
    """
    image_format = _verify_structure(path)
    _check_claims(image_format, claimed_type, filename)
    if kind == "signature" and image_format not in SIGNATURE_FORMATS:
        raise InvalidImage("A signature must be a PNG or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=ACCEPTED_FORMATS) as image:
                image.load()
                exif = image.getexif()
                upright = ImageOps.exif_transpose(image)
                width, height = upright.size
                if kind == "signature":
                    _check_signature_size(width, height)
                thumbnail_type, extension = _write_thumbnail(upright, thumbnail_path)
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImage(f"The image is larger than {MAX_PIXELS // 1_000_000} megapixels.") \
            from error
    except Exception as error:  # noqa: BLE001 - any decoder failure means a bad file
        raise InvalidImage("The image could not be decoded (truncated or corrupt).") from error
    return ImageFacts(
        format=image_format,
        content_type=CONTENT_TYPES[image_format],
        width=width,
        height=height,
        exif_taken_at=exif_capture_time(exif),
        exif_gps=exif_gps(exif),
        thumbnail_content_type=thumbnail_type,
        thumbnail_extension=extension,
    )


def _verify_structure(path: Path) -> str:
    """Identify and `verify()` the file, bound its pixel count, refuse trailing data."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=ACCEPTED_FORMATS) as image:
                image_format = image.format
                width, height = image.size
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImage(f"The image is larger than {MAX_PIXELS // 1_000_000} megapixels.") \
            from error
    except Exception as error:  # noqa: BLE001 - UnidentifiedImageError, SyntaxError, OSError...
        raise InvalidImage("The file is not a JPEG, PNG or WebP image.") from error
    if image_format not in ACCEPTED_FORMATS:
        raise InvalidImage("The file is not a JPEG, PNG or WebP image.")
    if width * height > MAX_PIXELS:
        raise InvalidImage(f"The image is larger than {MAX_PIXELS // 1_000_000} megapixels.")
    if trailing_bytes(path, image_format):
        raise InvalidImage(
            "The file carries data after the end of the image (a polyglot or an appended file)."
        )
    return image_format


def _check_claims(image_format: str, claimed_type: str | None, filename: str | None) -> None:
    """The client's content type and extension, when it gives them, must name the real format."""
    claimed = (claimed_type or "").split(";")[0].strip().lower()
    if claimed not in _GENERIC_TYPES and claimed not in _TYPE_ALIASES[image_format]:
        raise InvalidImage(
            f"The file was sent as {claimed} but is a {image_format} image."
        )
    if filename and "." in filename:
        extension = filename.rsplit(".", 1)[1].lower()
        if extension not in _EXTENSIONS[image_format]:
            raise InvalidImage(
                f"The file name ends in .{extension} but the file is a {image_format} image."
            )


def _check_signature_size(width: int, height: int) -> None:
    (min_w, min_h), (max_w, max_h) = SIGNATURE_MIN_SIZE, SIGNATURE_MAX_SIZE
    if not (min_w <= width <= max_w and min_h <= height <= max_h):
        raise InvalidImage(
            f"A signature must be between {min_w}x{min_h} and {max_w}x{max_h} pixels, "
            f"not {width}x{height}."
        )


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def _write_thumbnail(image: Image.Image, path: Path) -> tuple[str, str]:
    """Longest side 320 px; JPEG, or WebP when the image has transparency (signatures)."""
    alpha = _has_alpha(image)
    thumbnail = image.convert("RGBA" if alpha else "RGB")
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    if alpha:
        thumbnail.save(path, format="WEBP", quality=80)
        return "image/webp", "webp"
    thumbnail.save(path, format="JPEG", quality=82, optimize=True)
    return "image/jpeg", "jpg"


def exif_capture_time(exif: Image.Exif) -> str | None:
    """DateTimeOriginal (else DateTime) as ISO 8601, with OffsetTimeOriginal when present.

    EXIF times are the camera's local wall time; without an offset we cannot place them in
    UTC honestly, so they are kept as written (`2026-11-21T08:15:30`).
    """
    details = exif.get_ifd(ExifTags.IFD.Exif)
    raw = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(raw, str):
        return None
    match = _EXIF_TIME.match(raw.strip().rstrip("\x00"))
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        moment = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    text = moment.isoformat()
    offset = details.get(ExifTags.Base.OffsetTimeOriginal)
    if isinstance(offset, str) and _EXIF_OFFSET.match(offset.strip().rstrip("\x00")):
        text += offset.strip().rstrip("\x00")
    return text


def _degrees(value: Any) -> float:
    degrees, minutes, seconds = (Fraction(float(part)) for part in value)
    return float(degrees + minutes / 60 + seconds / 3600)


def exif_gps(exif: Image.Exif) -> dict[str, float] | None:
    """`{lat, lon[, alt_m]}` in decimal degrees from the GPS IFD, or None when absent/invalid."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude])
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(ExifTags.GPS.GPSLatitudeRef, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(ExifTags.GPS.GPSLongitudeRef, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    result = {"lat": round(lat, 7), "lon": round(lon, 7)}
    altitude = gps.get(ExifTags.GPS.GPSAltitude)
    if altitude is not None:
        try:
            alt = float(altitude)
        except (TypeError, ValueError, ZeroDivisionError):
            return result
        below_sea = gps.get(ExifTags.GPS.GPSAltitudeRef) in (1, b"\x01")
        result["alt_m"] = round(-alt if below_sea else alt, 2)
    return result


def trailing_bytes(path: Path, image_format: str) -> bool:
    """True when non-zero bytes follow the image's end marker (JPEG EOI, PNG IEND, RIFF size).

    Polyglots (a JPEG that is also a ZIP, a PNG with a script after IEND) are refused this
    way. Zero padding, which some cameras write, is tolerated. Phones that append a video
    after the JPEG (motion photos) must upload the still image alone.
    """
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            end = _END_FINDERS[image_format](data)
        except (IndexError, ValueError) as error:
            raise InvalidImage("The image structure is corrupt.") from error
        if end > len(data):
            raise InvalidImage("The image is truncated.")
        tail = data[end:]
    return bool(tail.strip(b"\x00"))


def _jpeg_end(data: mmap.mmap) -> int:
    """Walk JPEG segments and entropy-coded data to just after the EOI marker."""
    if data[0:2] != b"\xff\xd8":
        raise ValueError("no SOI")
    pos = 2
    size = len(data)
    while True:
        if data[pos] != 0xFF:
            raise ValueError("marker expected")
        while data[pos + 1] == 0xFF:
            pos += 1
        marker = data[pos + 1]
        pos += 2
        if marker == 0xD9:
            return pos
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2:
            raise ValueError("bad segment length")
        pos += length
        if marker != 0xDA:
            continue
        while True:
            found = data.find(b"\xff", pos)
            if found < 0 or found + 1 >= size:
                raise ValueError("no EOI")
            following = data[found + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                pos = found + 1
                continue
            pos = found
            break


def _png_end(data: mmap.mmap) -> int:
    pos = 8
    while True:
        length = int.from_bytes(data[pos:pos + 4], "big")
        chunk_type = data[pos + 4:pos + 8]
        if len(chunk_type) != 4:
            raise ValueError("no IEND")
        pos += 12 + length
        if chunk_type == b"IEND":
            return pos


def _webp_end(data: mmap.mmap) -> int:
    return 8 + int.from_bytes(data[4:8], "little")


_END_FINDERS = {"JPEG": _jpeg_end, "PNG": _png_end, "WEBP": _webp_end}
