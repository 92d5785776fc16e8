"""Each upload is on the order's audit trail and change feed, in its media summary, and a
signature that lands after the `complete` naming it is linked to the completion."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from server.db import db
from server.domain.audit import order_events, verify_chain
from server.models.feed import ChangeLog
from server.models.orders import Order
from tests.media.conftest import post_media
from tests.media.imaging import picture, sha256, signature


def load_order(app, order_id) -> tuple[Order, list]:
    with app.app_context():
        session = db.session
        order = session.get(Order, order_id)
        return order, order_events(session, order_id)


def test_an_upload_appends_an_audit_event_with_hash_kind_size_and_device(client, crew, app):
    data = picture()

    body = post_media(client, crew.headers, crew.order.id, data).json

    order, events = load_order(app, crew.order.id)
    event = events[-1]
    assert event.action == "media_uploaded"
    assert event.source == "device"
    assert event.media_sha256 == sha256(data)
    assert event.actor_device_id == crew.device.id
    assert event.details == {"media_id": body["id"], "kind": "photo", "size": len(data),
                             "device": str(crew.device.id)}
    assert verify_chain(order, events) == []


def test_an_upload_adds_to_the_order_media_summary(client, crew, app):
    first = post_media(client, crew.headers, crew.order.id, picture(size=(100, 100))).json
    second = post_media(client, crew.headers, crew.order.id, picture(size=(120, 100))).json

    order, _events = load_order(app, crew.order.id)

    assert order.media == [
        {"id": item["id"], "kind": "photo", "sha256": item["sha256"],
         "content_type": "image/jpeg", "taken_at": "2026-11-21T08:15:30.125Z"}
        for item in (first, second)
    ]
    assert order.version == crew.order.version + 2


def test_a_retry_adds_no_second_event(client, crew, app):
    data, media_id = picture(), str(uuid.uuid4())
    post_media(client, crew.headers, crew.order.id, data, media_id=media_id)
    _order, before = load_order(app, crew.order.id)

    post_media(client, crew.headers, crew.order.id, data, media_id=media_id)

    _order, after = load_order(app, crew.order.id)
    assert len(after) == len(before)


def test_an_upload_records_a_media_entry_in_the_change_feed(client, crew, app):
    body = post_media(client, crew.headers, crew.order.id, picture()).json

    with app.app_context():
        rows = db.session.scalars(select(ChangeLog).where(ChangeLog.entity_type == "media")).all()
    assert [(r.entity_id, r.version, r.order_id, r.team_id) for r in rows] == [
        (body["id"], 1, crew.order.id, crew.team.id)]


def test_the_pull_carries_the_media_document(client, crew):
    body = post_media(client, crew.headers, crew.order.id, picture()).json

    pulled = client.get("/api/v1/sync/pull", headers=crew.headers).json

    media = [c for c in pulled["changes"] if c["type"] == "media"]
    assert media == [{"type": "media", "op": "upsert", "id": body["id"], "version": 1,
                      "order_id": str(crew.order.id), "data": body}]


def push_arrive_and_complete(client, crew, signature_media_id: str):
    """The crew arrives and completes offline; the signature upload is still queued."""
    now_ms = int(time.time() * 1000)
    location = {"lat": 28.68, "lon": 115.86, "accuracy_m": 10}
    mutations = [
        {"id": str(uuid.uuid4()), "order_id": str(crew.order.id), "type": "arrive",
         "hlc": f"{now_ms:013d}-0000-{crew.device.id}", "at": "2026-11-21T08:30:00.000Z",
         "base_version": crew.order.version,
         "data": {"arrived_at": "2026-11-21T08:30:00.000Z", "location": location}},
        {"id": str(uuid.uuid4()), "order_id": str(crew.order.id), "type": "complete",
         "hlc": f"{now_ms:013d}-0001-{crew.device.id}", "at": "2026-11-21T09:00:00.000Z",
         "base_version": crew.order.version,
         "data": {"completed_at": "2026-11-21T09:00:00.000Z", "resolution_code": "fixed",
                  "resolution_text": "Replaced the fuse",
                  "signature_media_id": signature_media_id}},
    ]
    response = client.post("/api/v1/sync/push", json={"mutations": mutations},
                           headers=crew.headers)
    assert response.status_code == 200, response.json
    assert [r["status"] for r in response.json["results"]] == ["applied", "applied"], \
        response.json


def test_a_signature_arriving_after_complete_is_linked_and_audited(client, crew, app):
    signature_id = str(uuid.uuid4())
    push_arrive_and_complete(client, crew, signature_id)
    data = signature()

    response = post_media(client, crew.headers, crew.order.id, data, media_id=signature_id,
                          kind="signature", filename="sig.png", content_type="image/png")

    assert response.status_code == 201, response.json
    order, events = load_order(app, crew.order.id)
    assert order.completion["signature_media_id"] == signature_id
    assert order.completion["signature"] == {"media_id": signature_id, "sha256": sha256(data)}
    assert [e.action for e in events[-2:]] == ["media_uploaded", "signature_linked"]
    assert events[-1].media_sha256 == sha256(data)
    assert verify_chain(order, events) == []


def test_a_signature_the_completion_does_not_name_is_not_linked(client, crew, app):
    push_arrive_and_complete(client, crew, str(uuid.uuid4()))

    post_media(client, crew.headers, crew.order.id, signature(), kind="signature",
               filename="sig.png", content_type="image/png")

    order, events = load_order(app, crew.order.id)
    assert "signature" not in order.completion
    assert events[-1].action == "media_uploaded"


def push_note(client, crew) -> None:
    hlc = f"{int(time.time() * 1000):013d}-0009-{crew.device.id}"
    mutation = {"id": str(uuid.uuid4()), "order_id": str(crew.order.id), "type": "add_note",
                "hlc": hlc, "at": "2026-11-21T08:20:00.000Z", "data": {"text": "all done"}}
    response = client.post("/api/v1/sync/push", json={"mutations": [mutation]},
                           headers=crew.headers)
    assert response.status_code == 200 and response.json["results"][0]["status"] == "applied"


def test_a_linked_signature_survives_later_pushes(client, crew, app):
    signature_id = str(uuid.uuid4())
    push_arrive_and_complete(client, crew, signature_id)
    data = signature()
    post_media(client, crew.headers, crew.order.id, data, media_id=signature_id,
               kind="signature", filename="sig.png", content_type="image/png")

    push_note(client, crew)

    order, _ = load_order(app, crew.order.id)
    assert order.completion["signature"] == {"media_id": signature_id, "sha256": sha256(data)}


def test_a_signature_uploaded_before_its_completion_is_linked_when_it_arrives(client, crew, app):
    signature_id = str(uuid.uuid4())
    data = signature()
    post_media(client, crew.headers, crew.order.id, data, media_id=signature_id,
               kind="signature", filename="sig.png", content_type="image/png")

    push_arrive_and_complete(client, crew, signature_id)

    order, events = load_order(app, crew.order.id)
    assert order.completion["signature"] == {"media_id": signature_id, "sha256": sha256(data)}
    assert verify_chain(order, events) == []
