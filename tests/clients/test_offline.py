"""Work recorded offline is kept, sent once when the network returns, and shown meanwhile."""

from __future__ import annotations

from clients.python.client import location
from clients.simulator.proxy import FaultRates


def test_offline_work_waits_in_the_outbox_and_lands_once_the_network_heals(
        factory, crew, server_url, proxy, make_client, server_view):
    order = factory.order(team=crew.team)
    client = make_client(proxy.url, crew.token)
    assert client.sync().ok
    proxy.set_rates(FaultRates(drop_request=1.0))

    ids = [client.depart(str(order.id)),
           client.arrive(str(order.id), location(28.68, 115.86, 5)),
           client.add_note(str(order.id), "Written in a dead zone")]
    offline = client.sync()
    assert offline.errors and offline.pushed == 0
    assert [m.id for m in client.pending()] == ids
    assert client.order(str(order.id))["status"] == "on_site"

    proxy.heal()
    online = client.sync()
    assert online.ok, online.errors
    assert online.applied == 3 and not client.pending()
    served = server_view.order(order.id)
    assert served["status"] == "on_site" and served["version"] == client.order(
        str(order.id))["version"]
    for mutation_id in ids:
        assert len(server_view.events_of(order.id, mutation_id)) == 1


def test_work_recorded_during_a_pull_stays_on_top_of_the_rebased_view(
        factory, crew, server_url, make_client):
    order = factory.order(team=crew.team)
    _, other_token = factory.device(team=crew.team)
    mine = make_client(server_url, crew.token, "mine")
    theirs = make_client(server_url, other_token, "theirs")
    assert mine.sync().ok and theirs.sync().ok
    theirs.arrive(str(order.id), location(28.68, 115.86, 5))
    assert theirs.sync().ok

    recorded = []

    def crew_taps_while_pulling(phase, done, remaining):
        if phase == "pull" and not recorded:
            recorded.append(mine.add_note(str(order.id), "Typed while the pull ran"))

    assert mine.sync(progress=crew_taps_while_pulling).ok
    view = mine.order(str(order.id))
    assert view["status"] == "on_site"
    assert [n["text"] for n in view["notes"]] == ["Typed while the pull ran"]
    assert [m.id for m in mine.pending()] == recorded
    assert mine.sync().applied == 1
