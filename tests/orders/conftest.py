"""Fixtures of the order API tests: a valid create body and a dispatcher's headers."""

from __future__ import annotations

from typing import Any

import pytest


def order_body(**overrides: Any) -> dict[str, Any]:
    """A complete, valid `POST /orders` body; keyword arguments replace members."""
    body: dict[str, Any] = {
        "source": "hotline",
        "kind": "fault_repair",
        "priority": "high",
        "title": "Transformer humming loudly",
        "description": "Customer reports a loud hum and flickering lights.",
        "customer": {"name": "Wang Fang", "phone": "+86 791 8888 1234", "account": "ACC-77"},
        "address": "88 Hongdu Middle Avenue, Nanchang",
        "location": {"lat": 28.69, "lon": 115.88},
        "asset_ref": "TX-0042",
        "required_skills": ["electrical", "high_voltage"],
        "sla": {"arrive_by": "2026-11-21T10:00:00+08:00", "complete_by": "2026-11-21T08:00:00Z"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def dispatcher(factory) -> dict[str, str]:
    return factory.staff_headers("dispatcher")


@pytest.fixture
def create(client, dispatcher):
    """POST an order as a dispatcher and return the response JSON (asserting 201)."""

    def _create(**overrides: Any) -> dict[str, Any]:
        response = client.post("/api/v1/orders", json=order_body(**overrides), headers=dispatcher)
        assert response.status_code == 201, response.json
        return response.json

    return _create
