"""Fixtures for the people, auth and device tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin_headers(factory) -> dict[str, str]:
    return factory.staff_headers("admin")


@pytest.fixture
def register_device(client, admin_headers, factory):
    """Register a tablet through the API; returns (device document, enrollment code)."""

    def register(user=None) -> tuple[dict, str]:
        user = user or factory.user("crew")
        response = client.post("/api/v1/devices", headers=admin_headers,
                               json={"name": "Tablet", "platform": "android",
                                     "user_id": str(user.id)})
        assert response.status_code == 201, response.json
        return response.json["device"], response.json["enrollment_code"]

    return register
