"""Media follow the order's object authorization: another crew gets 404, revoked devices 401."""

from __future__ import annotations

import pytest

from server.db import db
from server.domain.assignment import assign_order
from server.domain.audit import SYSTEM
from server.domain.history import lock_order
from server.models.base import utcnow
from server.models.people import Device
from tests.media.conftest import post_media
from tests.media.imaging import picture


@pytest.fixture
def stranger(factory):
    """A crew device of another team."""
    _device, token = factory.device(team=factory.team())
    return {"Authorization": f"Bearer {token}"}


def test_another_crew_cannot_upload_to_an_order_outside_its_scope(client, crew, stranger):
    response = post_media(client, stranger, crew.order.id, picture())

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


@pytest.mark.parametrize("suffix", ["", "/content", "/thumbnail"])
def test_another_crew_cannot_read_media_of_an_order_outside_its_scope(client, crew, stranger,
                                                                     suffix):
    body = post_media(client, crew.headers, crew.order.id, picture()).json

    response = client.get(f"/api/v1/media/{body['id']}{suffix}", headers=stranger)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_a_revoked_device_is_refused(client, crew, app):
    with app.app_context(), db.transaction() as session:
        session.get(Device, crew.device.id).revoked_at = utcnow()

    response = post_media(client, crew.headers, crew.order.id, picture())

    assert response.status_code == 401
    assert response.json["code"] == "device_revoked"


def test_no_token_is_401(client, crew):
    response = post_media(client, {}, crew.order.id, picture())

    assert response.status_code == 401
    assert response.json["code"] == "token_missing"


def test_an_agent_may_read_but_not_upload(client, crew, factory):
    headers = factory.staff_headers("agent")

    response = post_media(client, headers, crew.order.id, picture())

    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


def test_an_order_that_does_not_exist_is_404(client, crew):
    response = post_media(client, crew.headers, "00000000-0000-0000-0000-000000000000", picture())

    assert response.status_code == 404


def _reassign(app, order_id, team) -> None:
    with app.app_context(), db.transaction() as session:
        order = lock_order(session, order_id)
        assign_order(session, order, team_id=team.id, user_ids=[], actor=SYSTEM)


def test_a_photo_of_an_order_reassigned_meanwhile_is_kept_for_review(app, client, crew, factory):
    _reassign(app, crew.order.id, factory.team())
    data = picture()

    response = post_media(client, crew.headers, crew.order.id, data)

    assert response.status_code == 201, response.json
    dispatcher = factory.staff_headers("dispatcher")
    order = client.get(f"/api/v1/orders/{crew.order.id}", headers=dispatcher).json
    assert order["needs_review"] is True
    assert [m["id"] for m in order["media"]] == [response.json["id"]]
    [conflict] = client.get(f"/api/v1/orders/{crew.order.id}/conflicts",
                            headers=dispatcher).json["items"]
    assert conflict["kind"] == "work_after_reassignment"
    assert conflict["mutation_id"] == response.json["id"]

