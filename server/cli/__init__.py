"""Command-line interface: `flask --app wsgi <command>`; one module per area."""

from __future__ import annotations

import importlib

from flask import Flask

#: Modules under server/cli, each exposing `commands`, a list of click commands.
CLI_MODULES = ("database", "people", "demo", "audit", "sync", "media", "sla")


def register(app: Flask) -> None:
    for name in CLI_MODULES:
        module = importlib.import_module(f"server.cli.{name}")
        for command in module.commands:
            app.cli.add_command(command)
