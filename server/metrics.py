"""Prometheus metrics (placeholder until issue 2 fills it in)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Install request counting and latency hooks."""
