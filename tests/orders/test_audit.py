"""The served audit trail and `verify-audit`, which must catch edits and deletions made in SQL."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from server.db import db
from server.domain.audit import GENESIS_HASH, canonical_json, chain_hash


def _trail(client, headers, order_id, **query) -> dict:
    response = client.get(f"/api/v1/orders/{order_id}/audit", query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def _edit(client, headers, order_id, version, title):
    response = client.patch(f"/api/v1/orders/{order_id}", json={"title": title},
                            headers={**headers, "If-Match": f'"{version}"'})
    assert response.status_code == 200


def test_trail_is_served_in_seq_order_and_recomputes_as_a_chain(client, create, dispatcher,
                                                                factory):
    order = create()
    for version in range(1, 4):
        _edit(client, dispatcher, order["id"], version, f"Title {version}")
    events = _trail(client, dispatcher, order["id"])["items"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["action"] for e in events] == ["created", "edited", "edited", "edited"]
    assert events[1]["changes"] == {"title": [order["title"], "Title 1"]}
    assert events[0]["actor"]["user_id"] and events[0]["actor"]["device_id"] is None
    assert events[0]["source"] == "staff" and events[0]["at"].endswith("Z")
    prev = GENESIS_HASH
    for event in events:
        document = {k: v for k, v in event.items() if k != "hash"}
        assert event["prev_hash"] == prev
        assert event["hash"] == chain_hash(prev, document)
        assert canonical_json(document).startswith('{"action":')
        prev = event["hash"]


def test_trail_pages_by_seq(client, create, dispatcher):
    order = create()
    for version in range(1, 6):
        _edit(client, dispatcher, order["id"], version, f"Title {version}")
    seen, cursor = [], None
    while True:
        page = _trail(client, dispatcher, order["id"], limit=2,
                      **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3, 4, 5, 6]
    bad = client.get(f"/api/v1/orders/{order['id']}/audit?cursor=garbage", headers=dispatcher)
    assert (bad.status_code, bad.json["code"]) == (400, "invalid_cursor")


def test_trail_of_an_unknown_order_is_404(client, dispatcher):
    response = client.get(f"/api/v1/orders/{uuid.uuid4()}/audit", headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_verify_audit_passes_on_intact_chains(app, create, client, dispatcher):
    for n in range(3):
        order = create(title=f"Order {n}")
        _edit(client, dispatcher, order["id"], 1, "Edited")
    result = app.test_cli_runner().invoke(args=["verify-audit"])
    assert result.exit_code == 0, result.output
    assert "checked 3 orders and 6 events: every chain holds" in result.output


def test_verify_audit_detects_an_event_edited_in_sql(app, create, client, dispatcher):
    intact = create(title="Intact")
    tampered = create(title="Tampered")
    _edit(client, dispatcher, tampered["id"], 1, "Edited")
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET action = 'x' WHERE order_id = :id AND seq = 1"),
                     {"id": uuid.UUID(tampered["id"]).hex if db.is_sqlite else tampered["id"]})
    result = app.test_cli_runner().invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert f"{tampered['number']}: BROKEN" in result.output
    assert "event seq 1 was altered" in result.output
    assert intact["number"] not in result.output


def test_verify_audit_detects_a_deleted_newest_event(app, create, client, dispatcher):
    order = create()
    _edit(client, dispatcher, order["id"], 1, "Edited")
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE order_id = :id AND seq = 2"),
                     {"id": uuid.UUID(order["id"]).hex if db.is_sqlite else order["id"]})
    result = app.test_cli_runner().invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert f"{order['number']}: BROKEN" in result.output
    assert "chain head mismatch" in result.output


def test_verify_audit_walks_every_batch(app, factory):
    from server.cli.audit import verify_all_chains

    for _ in range(5):
        factory.order()
    with app.app_context():
        session = db.new_session(write=False)
        report = verify_all_chains(session, batch_size=2)
        session.close()
    assert (report.orders, report.events, report.broken) == (5, 5, {})
