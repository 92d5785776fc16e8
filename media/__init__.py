"""Photos and signatures: Pillow checks, storage backends, durable uploads, tus, the sweep."""

from __future__ import annotations

from flask import Flask

from media.storage import MediaStore, store_from_settings

EXTENSION = "fieldsync_media_store"


def init_app(app: Flask) -> None:
    """Build the configured store once per app and let the pull render media with our document."""
    from media.documents import PulledMedia
    from sync.media_source import register_media_source

    app.extensions[EXTENSION] = store_from_settings(app.config["SETTINGS"])
    register_media_source(PulledMedia())


def store_of(app: Flask) -> MediaStore:
    return app.extensions[EXTENSION]
