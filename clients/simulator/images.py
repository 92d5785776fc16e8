"""Real images for simulated photos and signatures (the server decodes every upload)."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw


def make_photo(path: Path, rng: random.Random, *, large: bool = False) -> Path:
    """A JPEG; `large` ones are noisy enough to span several tus chunks."""
    width, height = (900, 700) if large else (160, 120)
    image = Image.effect_noise((width, height), rng.uniform(20, 90)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + 40, y + 30), fill=tuple(rng.randrange(256) for _ in range(3)))
    image.save(path, "JPEG", quality=95 if large else 80)
    return path


def make_signature(path: Path, rng: random.Random) -> Path:
    image = Image.new("RGB", (300, 100), "white")
    draw = ImageDraw.Draw(image)
    points = [(10 + i * 28, 50 + rng.randint(-35, 35)) for i in range(10)]
    draw.line(points, fill="black", width=3)
    image.save(path, "PNG")
    return path
