"""The application boots, errors are problem+json, and the shared write path records history."""

import subprocess
import sys

import pytest

from server.db import db
from server.domain.audit import order_events, verify_chain
from server.models import ChangeLog, Order
from tests.conftest import ROOT, server_environment


def test_unknown_route_is_problem_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "not_found"
    assert response.headers["X-Request-ID"]


def test_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


def test_readyz_reports_database_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"


def test_factory_order_has_number_audit_chain_and_feed_entries(app, factory):
    team = factory.team()
    order = factory.order(team=team)
    assert order.number.startswith("WO-")
    with app.app_context():
        stored = db.session.get(Order, order.id)
        events = order_events(db.session, order.id)
        assert [e.action for e in events] == ["created", "assigned"]
        assert verify_chain(stored, events) == []
        entries = db.session.query(ChangeLog).filter_by(order_id=order.id).all()
        # created and assigned in one transaction: one feed entry at the final version
        assert [(e.version, e.team_id, e.prev_team_id) for e in entries] == [(2, team.id, None)]
        assert stored.version == 2


def test_gunicorn_serves_health(gunicorn_server):
    import urllib.request

    url = gunicorn_server(workers=2)
    with urllib.request.urlopen(url + "/healthz") as response:
        assert response.status == 200


def test_the_entry_point_leaves_start_up_objects_out_of_garbage_collection(database_url,
                                                                           media_root):
    """`wsgi` freezes what start-up made, so a full collection in a worker walks only what
    requests leave behind (it walked the whole app: an 85 ms pause)."""
    script = "import gc, wsgi; gc.collect(); print(gc.get_freeze_count(), len(gc.get_objects()))"
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, text=True,
                            capture_output=True, env=server_environment(database_url, media_root))
    frozen, tracked = map(int, output.stdout.split())
    assert frozen > 50_000
    assert tracked < frozen // 10


@pytest.mark.parametrize("module", ["schemas.base", "schemas.orders", "sync.push", "media",
                                    "bench.sync_bench", "clients.simulator"])
def test_each_package_imports_first_in_a_fresh_interpreter(module):
    """`schemas` imports from `server`, whose app factory imports schemas back: a cycle that
    only shows when a schema module is imported before the server (the benchmark does)."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
