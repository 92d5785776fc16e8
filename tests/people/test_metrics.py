"""GET /metrics: Prometheus text, request counts by URL rule, optional bearer token."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server import create_app
from server.db import db
from server.metrics import MERGE_DECISIONS, SYNC_MUTATIONS, SYNC_PULLS
from tests import conftest


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _requests(samples, endpoint: str, method: str, status: str) -> float:
    key = ("fieldsync_http_requests_total",
           frozenset({"endpoint": endpoint, "method": method, "status": status}.items()))
    return samples.get(key, 0.0)


def test_requests_are_counted_by_url_rule_not_raw_path(client, factory):
    headers = factory.staff_headers("admin")
    rule = "/api/v1/teams/<uuid:team_id>"
    before = _requests(_samples(client.get("/metrics").get_data(as_text=True)), rule, "GET", "404")
    for n in range(3):
        client.get(f"/api/v1/teams/00000000-0000-0000-0000-00000000000{n}", headers=headers)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = _samples(response.get_data(as_text=True))
    assert _requests(samples, rule, "GET", "404") == before + 3
    assert not any("00000000-0000" in str(labels) for _name, labels in samples)
    latency = ("fieldsync_http_request_duration_seconds_count",
               frozenset({"endpoint": rule, "method": "GET", "status": "404"}.items()))
    assert samples[latency] >= 3


def test_unmatched_paths_share_one_label(client):
    client.get("/no/such/path/42")
    samples = _samples(client.get("/metrics").get_data(as_text=True))
    assert _requests(samples, "<unmatched>", "GET", "404") >= 1


def test_the_sync_and_merge_counters_are_exposed(client):
    SYNC_PULLS.inc()
    SYNC_MUTATIONS.labels(result="applied").inc()
    MERGE_DECISIONS.labels(rule="lww").inc()
    text = client.get("/metrics").get_data(as_text=True)
    assert "fieldsync_sync_pulls_total" in text
    assert 'fieldsync_sync_mutations_total{result="applied"}' in text
    assert 'fieldsync_merge_decisions_total{rule="lww"}' in text


@pytest.fixture(scope="module")
def guarded_app(database_url, media_root):
    settings = conftest.test_settings(database_url, media_root)
    application = create_app({**settings, "metrics_token": "scrape-me"})
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("header, code", [
    (None, "token_missing"),
    ("Bearer wrong", "token_invalid"),
    ("Basic scrape-me", "token_invalid"),
])
def test_a_configured_metrics_token_is_required(guarded_app, header, code):
    headers = {"Authorization": header} if header else {}
    response = guarded_app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code


def test_the_right_metrics_token_is_let_in(guarded_app):
    response = guarded_app.test_client().get("/metrics",
                                             headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 200
    assert "fieldsync_http_requests_total" in response.get_data(as_text=True)
