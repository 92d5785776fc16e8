"""SLA commands: `sla-scan` records every new SLA breach as one audit event per order and target.

Safe to run from several hosts at once and meant for a timer, e.g. every minute from cron:
`* * * * * cd /srv/fieldsync && .venv/bin/flask --app wsgi sla-scan --quiet`
or a systemd timer (`OnCalendar=minutely`) starting a oneshot service that runs the same line.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from server.db import db
from server.domain.sla_scan import run_scan
from server.models.base import utcnow


@click.command("sla-scan")
@with_appcontext
@click.option("--quiet", is_flag=True, help="Print nothing when no new breach was found.")
def sla_scan(quiet: bool) -> None:
    """Append one `sla_breached` audit event per newly breached order and target."""
    recorded = run_scan(db.transaction, current_app.config["SETTINGS"], utcnow())
    total = sum(recorded.values())
    if total or not quiet:
        by_target = ", ".join(f"{target} {count}" for target, count in sorted(recorded.items()))
        click.echo(f"recorded {total} new SLA breaches" + (f" ({by_target})" if total else ""))


commands = [sla_scan]
