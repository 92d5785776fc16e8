"""A mutation the server refuses is kept with its reason and shown, never dropped."""

from __future__ import annotations

import uuid

from clients.python.client import location


def test_a_rejected_mutation_is_kept_with_its_code_and_listed_by_the_server(
        factory, crew, server_url, make_client, server_view):
    order = factory.order(team=crew.team)
    client = make_client(server_url, crew.token)
    assert client.sync().ok
    stranger = str(uuid.uuid4())
    refused = client.add_note(stranger, "An order this device never had")
    invalid = client.arrive(str(order.id), location(500.0, 115.86))
    kept = client.add_note(str(order.id), "Fine")

    result = client.sync()
    assert result.rejected == 2 and result.applied == 1
    rejections = {m.id: m for m in client.rejections()}
    assert set(rejections) == {refused, invalid}
    assert rejections[refused].code in ("order_not_found", "not_in_scope")
    assert rejections[invalid].code == "validation_error"
    assert "lat" in (rejections[invalid].detail or "")
    assert kept not in rejections

    listed = {r["mutation_id"]: r for r in server_view.rejections(device_id=crew.device_id)}
    assert set(listed) == {refused, invalid}
    again = client.sync()
    assert again.pushed == 0 and len(client.rejections()) == 2
