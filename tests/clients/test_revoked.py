"""A revoked tablet stops syncing, says so, and keeps its unsent work."""

from __future__ import annotations

import pytest

from clients.python import DeviceRevoked
from clients.python.cli import main


def test_a_revoked_device_stops_syncing_with_a_clear_state(
        factory, crew, server_url, make_client, server_view, tmp_path):
    order = factory.order(team=crew.team)
    client = make_client(server_url, crew.token)
    assert client.sync().ok
    note = client.add_note(str(order.id), "Written before the revocation")
    assert server_view.post(f"/api/v1/devices/{crew.device_id}/revoke").status_code == 200

    with pytest.raises(DeviceRevoked):
        client.sync()
    assert client.revoked
    assert [m.id for m in client.pending()] == [note]
    with pytest.raises(DeviceRevoked):
        client.sync()
    assert server_view.order(order.id)["notes"] == []


def test_the_command_line_reports_a_revoked_device(factory, crew, server_url, make_client,
                                                    server_view, tmp_path, capsys):
    client = make_client(server_url, crew.token)
    store = client.store.path
    client.close()
    assert server_view.post(f"/api/v1/devices/{crew.device_id}/revoke").status_code == 200
    assert main(["--store", store, "sync"]) == 3
    assert "revoked" in capsys.readouterr().out
