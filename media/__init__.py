"""Photos and signatures: Pillow checks, storage backends, durable uploads, tus, the sweep."""

from __future__ import annotations

from flask import Flask

from media.storage import MediaStore, store_from_settings

EXTENSION = "fieldsync_media_store"


def init_app(app: Flask) -> None:
    """Build the configured store once per app; readiness and the media views use it."""
    app.extensions[EXTENSION] = store_from_settings(app.config["SETTINGS"])


def store_of(app: Flask) -> MediaStore:
    return app.extensions[EXTENSION]
