"""Test images made with Pillow: every accepted format, EXIF orientation, GPS and capture time."""

from __future__ import annotations

import hashlib
import io
from fractions import Fraction

from PIL import ExifTags, Image

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_exif(*, orientation: int | None = None, taken: str | None = None,
              offset: str | None = None, gps: tuple[float, float] | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FieldsyncCam"  # Pillow drops an Exif with no base tag (PNG)
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        details[ExifTags.Base.DateTimeOriginal] = taken
        if offset is not None:
            details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        lat, lon = gps
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        info[ExifTags.GPS.GPSLatitude] = _dms(abs(lat))
        info[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        info[ExifTags.GPS.GPSLongitude] = _dms(abs(lon))
    return exif


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round((value - degrees - minutes / 60) * 3600 * 10000), 10000)
    return (Fraction(degrees), Fraction(minutes), seconds)


def picture(image_format: str = "JPEG", size: tuple[int, int] = (640, 480), *,
            mode: str = "RGB", exif: Image.Exif | None = None, noise: bool = False) -> bytes:
    """An image whose left half is red and right half blue (so rotations can be seen)."""
    width, height = size
    if noise:
        image = Image.effect_noise(size, 64).convert(mode)
    else:
        image = Image.new(mode, size, "blue" if mode != "L" else 200)
        image.paste("red" if mode != "L" else 50, (0, 0, width // 2, height))
    buffer = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def signature(image_format: str = "PNG", size: tuple[int, int] = (600, 200)) -> bytes:
    """A transparent signature pad capture with a black stroke."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (10, size[1] // 2, size[0] - 10, size[1] // 2 + 4))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A bilevel PNG of any size that compresses to a few kilobytes (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height), 0).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
