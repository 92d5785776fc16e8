"""Who may call each order endpoint: every role and both kinds of token, endpoint by endpoint."""

from __future__ import annotations

import pytest

from server.db import db
from server.domain.history import lock_order
from server.models.base import utcnow
from tests.orders.conftest import order_body

STAFF_ROLES = ("admin", "dispatcher", "agent")
CALLERS = ("admin", "dispatcher", "agent", "crew", "device", "anonymous")

#: endpoint -> (callers allowed, status on success)
ENDPOINTS = {
    "create": ({"admin", "dispatcher", "agent"}, 201),
    "list": ({"admin", "dispatcher", "agent"}, 200),
    "read": ({"admin", "dispatcher", "agent", "device"}, 200),
    "edit": ({"admin", "dispatcher", "agent"}, 200),
    "assign": ({"admin", "dispatcher"}, 200),
    "cancel": ({"admin", "dispatcher"}, 200),
    "reopen": ({"admin", "dispatcher"}, 200),
    "audit": ({"admin", "dispatcher", "agent"}, 200),
}


def _request(client, endpoint: str, order, team, headers):
    url = f"/api/v1/orders/{order.id}"
    if endpoint == "create":
        return client.post("/api/v1/orders", json=order_body(), headers=headers)
    if endpoint == "list":
        return client.get("/api/v1/orders", headers=headers)
    if endpoint == "read":
        return client.get(url, headers=headers)
    if endpoint == "edit":
        return client.patch(url, json={"title": "Edited"},
                            headers={**headers, "If-Match": f'"{order.version}"'})
    if endpoint == "assign":
        return client.post(f"{url}/assign", json={"team_id": str(team.id)}, headers=headers)
    if endpoint in ("cancel", "reopen"):
        return client.post(f"{url}/{endpoint}", json={"reason": "Because"}, headers=headers)
    return client.get(f"{url}/audit", headers=headers)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_role_matrix(client, factory, app, endpoint, caller):
    team = factory.team()
    crew = factory.user("crew", team=team)
    order = factory.order(team=team, user_ids=[crew.id])
    if endpoint == "reopen":
        with app.app_context(), db.transaction() as session:
            locked = lock_order(session, order.id)
            locked.status, locked.completed_at = "completed", utcnow()
    if caller in STAFF_ROLES:
        headers = factory.staff_headers(caller)
    elif caller == "crew":
        headers = factory.headers(factory.access_token(crew))
    elif caller == "device":
        headers = factory.headers(factory.device(crew)[1])
    else:
        headers = {}
    allowed, success = ENDPOINTS[endpoint]
    response = _request(client, endpoint, order, team, headers)
    if caller in allowed:
        assert response.status_code == success, response.json
    elif caller == "anonymous":
        assert (response.status_code, response.json["code"]) == (401, "token_missing")
    elif caller == "device":
        # A device token is the wrong kind of token for a staff endpoint.
        assert (response.status_code, response.json["code"]) == (401, "token_invalid")
    else:
        assert (response.status_code, response.json["code"]) == (403, "forbidden")
