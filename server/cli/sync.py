"""Sync commands: prune the change feed past its retention."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from server.db import db
from server.models.base import utcnow
from sync import feed


@click.command("prune-changes")
@click.option("--days", type=int, default=None,
              help="Keep this many days (default: FIELDSYNC_CHANGE_RETENTION_DAYS).")
@with_appcontext
def prune_changes(days: int | None) -> None:
    """Delete change-feed rows older than the retention; older cursors then get 410."""
    days = current_app.config["SETTINGS"].change_retention_days if days is None else days
    with db.transaction() as session:
        deleted, pruned_below = feed.prune(session, utcnow() - dt.timedelta(days=days))
    click.echo(f"deleted {deleted} change rows; cursors below position {pruned_below} expire")


commands = [prune_changes]
