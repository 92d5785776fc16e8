"""Media commands: `flask --app wsgi sweep-media` removes orphans and expired uploads."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from media import store_of
from media.sweep import DEFAULT_GRACE, sweep
from server.db import db
from server.models.base import utcnow


@click.command("sweep-media")
@click.option("--grace-minutes", type=click.IntRange(min=0),
              default=int(DEFAULT_GRACE.total_seconds() // 60), show_default=True,
              help="Leave files younger than this alone (uploads still committing).")
@with_appcontext
def sweep_media(grace_minutes: int) -> None:
    """Remove expired unfinished uploads, orphaned media files and stale temp files."""
    store = store_of(current_app)
    with db.transaction() as session:
        report = sweep(session, store, now=utcnow(), grace=dt.timedelta(minutes=grace_minutes))
    click.echo(
        f"expired uploads: {report.expired_uploads}, upload parts: {report.upload_parts}, "
        f"orphan files: {report.orphan_files}, temp files: {report.temp_files}"
    )


commands = [sweep_media]
