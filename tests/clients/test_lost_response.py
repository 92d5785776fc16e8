"""A push whose response is lost is retried with the same ids: applied exactly once."""

from __future__ import annotations

from clients.python.client import location


def test_a_lost_push_response_is_retried_and_the_server_answers_duplicate(
        factory, crew, proxy, make_client, server_view):
    order = factory.order(team=crew.team)
    client = make_client(proxy.url, crew.token)
    assert client.sync().ok
    ids = [client.arrive(str(order.id), location(28.68, 115.86, 5)),
           client.add_note(str(order.id), "Sent once, answered twice")]
    proxy.inject("drop_response", method="POST", path_prefix="/api/v1/sync/push")

    result = client.sync()
    assert result.ok, result.errors
    assert proxy.counts["drop_response"] == 1
    assert result.duplicates == 2 and result.applied == 0
    assert {m.state for m in client.store.mutations()} == {"duplicate"}
    for mutation_id in ids:
        assert len(server_view.events_of(order.id, mutation_id)) == 1
    assert [n["text"] for n in server_view.order(order.id)["notes"]] == [
        "Sent once, answered twice"]
