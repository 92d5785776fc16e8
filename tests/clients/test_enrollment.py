"""Enrollment and token refresh against the real server."""

from __future__ import annotations

import pytest
import requests

from clients.python import DeviceClient
from clients.python.client import token_claims
from clients.python.errors import SyncError


def register_device(server_url, factory, user) -> str:
    response = requests.post(
        server_url + "/api/v1/devices", headers=factory.staff_headers("admin"), timeout=10,
        json={"name": "Tablet A", "platform": "android", "user_id": str(user.id)})
    assert response.status_code == 201, response.text
    return response.json()["enrollment_code"]


def test_a_tablet_enrolls_with_its_one_time_code_and_stores_its_device_token(
        server_url, factory, tmp_path):
    user = factory.user("crew")
    code = register_device(server_url, factory, user)
    client = DeviceClient.enroll(server_url, code, tmp_path / "tablet.db")
    try:
        assert client.store.get("user_id") == str(user.id)
        assert token_claims(client.store.get("token"))["did"] == client.device_id
    finally:
        client.close()
    reopened = DeviceClient(tmp_path / "tablet.db")
    assert reopened.device_id == client.device_id
    reopened.close()


def test_an_enrollment_code_works_only_once(server_url, factory, tmp_path):
    code = register_device(server_url, factory, factory.user("crew"))
    DeviceClient.enroll(server_url, code, tmp_path / "first.db").close()
    with pytest.raises(SyncError) as refused:
        DeviceClient.enroll(server_url, code, tmp_path / "second.db")
    assert refused.value.status == 422


def test_the_device_token_is_swapped_for_a_fresh_one_on_refresh(
        server_url, crew, make_client):
    client = make_client(server_url, crew.token)
    client.refresh_token()
    fresh = client.store.get("token")
    assert fresh != crew.token
    assert token_claims(fresh)["did"] == crew.device_id
