"""Schema commands: `init-db` brings an empty or older database up to date with Alembic."""

from __future__ import annotations

import click
from flask import current_app

from server import migrations


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema to the latest revision."""
    url = current_app.config["SETTINGS"].database_url
    migrations.upgrade(url)
    click.echo("database schema is up to date")


commands = [init_db]
