"""Concurrent creates through a real gunicorn with 2 workers: unique numbers, one order per key."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from server.db import db
from server.models import ChangeLog, IdempotencyKey, Order
from tests.orders.conftest import order_body

THREADS = 8


def _post_all(url: str, requests_to_send: list[tuple[dict, dict]]) -> list[requests.Response]:
    """Send every (headers, body) from THREADS threads released together by a barrier."""
    assert len(requests_to_send) % THREADS == 0, "every wave of requests must be full"
    barrier = threading.Barrier(THREADS)

    def send(item: tuple[dict, dict]) -> requests.Response:
        headers, body = item
        with requests.Session() as http:
            barrier.wait(timeout=30)
            return http.post(f"{url}/api/v1/orders", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(send, requests_to_send))


def test_many_concurrent_creates_get_unique_consecutive_numbers(gunicorn_server, factory, app):
    url = gunicorn_server(workers=2)
    headers = [factory.staff_headers(role) for role in ("dispatcher", "agent", "admin")]
    work = [(headers[n % 3], order_body(title=f"Concurrent {n}")) for n in range(48)]
    responses = _post_all(url, work)
    assert [r.status_code for r in responses] == [201] * len(work)
    numbers = [r.json()["number"] for r in responses]
    assert len(set(numbers)) == len(work)
    year = numbers[0][3:7]
    assert sorted(numbers) == [f"WO-{year}-{n:06d}" for n in range(1, len(work) + 1)]
    with app.app_context():
        assert db.session.query(Order).count() == len(work)


def test_concurrent_identical_requests_with_one_key_create_one_order(gunicorn_server, factory,
                                                                     app):
    url = gunicorn_server(workers=2)
    dispatcher = factory.staff_headers("dispatcher")
    keys = [f"retry-{n}" for n in range(4)]
    work = [({**dispatcher, "Idempotency-Key": key}, order_body(title=key))
            for key in keys for _ in range(THREADS)]
    responses = _post_all(url, work)
    assert [r.status_code for r in responses] == [201] * len(work)
    for key in keys:
        ids = {r.json()["id"] for r, (_h, body) in zip(responses, work, strict=True)
               if body["title"] == key}
        assert len(ids) == 1, f"key {key} created {len(ids)} orders"
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == len(work) - len(keys)
    with app.app_context():
        assert db.session.query(Order).count() == len(keys)
        assert db.session.query(IdempotencyKey).count() == len(keys)
        # A create undone by a lost key race must not leave a feed entry behind.
        assert db.session.query(ChangeLog).count() == len(keys)
