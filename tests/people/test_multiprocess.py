"""Two gunicorn workers: revocation is seen by every worker on the very next request, and
/metrics sums the request counts of all workers."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

REFRESH = "/api/v1/auth/refresh"
BATCH = 20
MAX_REQUESTS = 400

pytestmark = pytest.mark.slow


def _refresh(url: str, token: str) -> requests.Response:
    # A new connection each time, so the requests spread over the workers.
    return requests.post(url + REFRESH, headers={"Authorization": f"Bearer {token}",
                                                 "Connection": "close"}, timeout=30)


def _served_by_worker(metrics_dir: Path, endpoint: str, status: str) -> dict[str, float]:
    """Per worker process (one counter file each): requests to `endpoint` answered `status`."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)
            if (name == "fieldsync_http_requests_total" and labels.get("endpoint") == endpoint
                    and labels.get("status") == status and value):
                counts[path.stem] = counts.get(path.stem, 0) + value
    return counts

def test_a_revoked_device_is_refused_by_every_worker(gunicorn_server, factory, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    url = gunicorn_server(workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    device, token = factory.device()
    admin = factory.staff_headers("admin")
    fresh = [_refresh(url, token).json()["device_token"] for _ in range(4)]

    revoke = requests.post(f"{url}/api/v1/devices/{device.id}/revoke", headers=admin, timeout=30)
    assert revoke.status_code == 200

    tokens_of_device = [token, *fresh]
    refused: list[requests.Response] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        # Which worker accepts a connection is up to the kernel: go on until both have answered.
        while (len(refused) < MAX_REQUESTS
               and len(_served_by_worker(metrics_dir, REFRESH, "401")) < 2):
            refused += pool.map(lambda n: _refresh(url, tokens_of_device[n % 5]), range(BATCH))
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert {r.json()["code"] for r in refused} == {"device_revoked"}
    by_worker = _served_by_worker(metrics_dir, REFRESH, "401")
    assert len(by_worker) == 2, by_worker  # both workers refused the revoked device
    assert sum(by_worker.values()) == len(refused)


def test_metrics_add_up_the_requests_of_every_worker(gunicorn_server, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    url = gunicorn_server(workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    statuses: list[int] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        while (len(statuses) < MAX_REQUESTS
               and len(_served_by_worker(metrics_dir, "/readyz", "200")) < 2):
            statuses += pool.map(lambda _n: requests.get(
                url + "/readyz", headers={"Connection": "close"}, timeout=30).status_code,
                range(BATCH))
    assert statuses == [200] * len(statuses)
    assert len(_served_by_worker(metrics_dir, "/readyz", "200")) == 2
    text = requests.get(url + "/metrics", timeout=30).text
    served = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fieldsync_http_requests_total"
        and sample.labels["endpoint"] == "/readyz"
    )
    assert served == len(statuses)
