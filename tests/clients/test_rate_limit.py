"""A device that pulls too often gets 429 with Retry-After: the SDK waits and carries on."""

from __future__ import annotations

from clients.python.result import SyncResult


def test_a_rate_limited_pull_is_retried_after_the_server_said_so(
        gunicorn_server, factory, crew, make_client):
    url = gunicorn_server(workers=1, FIELDSYNC_PULL_MIN_INTERVAL="1.5", FIELDSYNC_PULL_BURST="1")
    factory.order(team=crew.team)
    client = make_client(url, crew.token)
    waits: list[float] = []
    sleep = client.transport.sleep
    client.transport.sleep = lambda seconds: (waits.append(seconds), sleep(seconds))

    results: list[SyncResult] = [client.sync() for _ in range(3)]
    assert all(result.ok for result in results), [r.errors for r in results]
    assert waits and max(waits) >= 1.0
    assert len(client.orders()) == 1
