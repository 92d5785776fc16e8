"""Each crew action, recorded offline-first and synced, lands on the server as intended."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from clients.python.client import location
from clients.simulator.images import make_photo, make_signature

HERE = location(28.681, 115.862, 9)


@pytest.fixture
def order(factory, crew):
    return factory.order(team=crew.team)


@pytest.fixture
def tablet(server_url, crew, make_client, order):
    client = make_client(server_url, crew.token)
    first = client.sync()
    assert first.ok, first.errors
    assert client.order(str(order.id))["status"] == "assigned"
    return client


def synced(client) -> None:
    result = client.sync()
    assert result.ok, result.errors
    assert not client.pending() and not client.pending_uploads()
    assert result.rejected == 0


def test_depart_puts_the_order_en_route(tablet, order, server_view):
    tablet.depart(str(order.id))
    assert tablet.order(str(order.id))["status"] == "en_route"
    synced(tablet)
    assert server_view.order(order.id)["status"] == "en_route"


def test_arrive_records_the_arrival_and_its_location(tablet, order, server_view):
    tablet.arrive(str(order.id), HERE, arrived_at="2026-11-21T09:00:00+01:00")
    synced(tablet)
    served = server_view.order(order.id)
    assert served["status"] == "on_site"
    assert served["arrival"]["arrived_at"] == "2026-11-21T08:00:00.000Z"
    assert served["arrival"]["location"]["lat"] == pytest.approx(28.681)


def test_cause_and_eta_reach_the_order(tablet, order, server_view):
    eta = dt.datetime(2026, 11, 21, 12, 30, tzinfo=dt.UTC)
    tablet.arrive(str(order.id), HERE)
    tablet.set_cause(str(order.id), "cable_fault", "Cut by an excavator")
    tablet.set_eta(str(order.id), eta)
    synced(tablet)
    served = server_view.order(order.id)
    assert served["cause"]["cause_code"] == "cable_fault"
    assert served["eta"]["eta"] == "2026-11-21T12:30:00.000Z"
    assert tablet.order(str(order.id))["cause"]["cause_code"] == "cable_fault"


def test_complete_with_a_signature_completes_the_order(tablet, order, server_view, tmp_path):
    signature = tablet.attach_signature(str(order.id),
                                        make_signature(tmp_path / "sig.png", _rng()))
    tablet.arrive(str(order.id), HERE)
    tablet.complete(str(order.id), "repaired", "Replaced the fuse",
                    signature_media_id=signature)
    assert tablet.order(str(order.id))["status"] == "completed"
    synced(tablet)
    served = server_view.order(order.id)
    assert served["status"] == "completed"
    assert served["completion"]["resolution_code"] == "repaired"
    assert served["completion"]["signature_media_id"] == signature
    assert signature in [m["id"] for m in served["media"]]


def test_a_note_is_added_once(tablet, order, server_view):
    mutation_id = tablet.add_note(str(order.id), "Customer not at home, key with neighbour")
    synced(tablet)
    notes = server_view.order(order.id)["notes"]
    assert [n["text"] for n in notes] == ["Customer not at home, key with neighbour"]
    assert len(server_view.events_of(order.id, mutation_id)) == 1


def test_a_location_report_updates_the_device_for_dispatch(tablet, crew, server_view):
    tablet.report_location(location(28.7, 115.9, 20))
    synced(tablet)
    device = server_view.get(f"/api/v1/devices/{crew.device_id}").json()
    assert device["last_location"]["lat"] == pytest.approx(28.7)


def test_a_photo_is_uploaded_with_tus_and_stored_with_its_hash(tablet, order, server_view,
                                                                tmp_path):
    path = make_photo(tmp_path / "meter.jpg", _rng())
    media_id = tablet.attach_photo(str(order.id), path)
    assert tablet.order(str(order.id))["media"][0]["id"] == media_id
    result = tablet.sync()
    assert result.uploaded == 1 and result.ok, result.errors
    content = server_view.get(f"/api/v1/media/{media_id}/content")
    assert hashlib.sha256(content.content).hexdigest() == hashlib.sha256(
        path.read_bytes()).hexdigest()
    assert media_id in [m["id"] for m in server_view.order(order.id)["media"]]
    assert ("media", media_id) in tablet.store.entity_versions()


def _rng():
    import random

    return random.Random(5)
