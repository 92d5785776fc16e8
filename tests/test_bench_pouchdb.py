"""The pouchdb-server reference driver (bench/pouchdb_reference.py) against a small CouchDB.

The fake speaks the four CouchDB calls the driver uses, with CouchDB's rules for revisions
(an update at a stale `_rev` is a conflict), so these tests pin how the driver folds mutations
into documents, follows `since`, and finds missed changes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from bench.pouchdb_reference import ORDER_BYTES, CouchDevice, assign_outboxes, fold, order_document
from bench.sync_bench.device import Outbox


class _Couch(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    databases: dict[str, dict] = {}

    def do_PUT(self) -> None:
        self.databases[self.path.strip("/")] = {"docs": {}, "seq": 0, "log": []}
        self._answer(201, {"ok": True})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        name, _, call = url.path.strip("/").partition("/")
        database = self.databases[name]
        if call == "_all_docs":
            self._answer(200, {"rows": [{"id": doc_id, "value": {"rev": doc["_rev"]}}
                                        for doc_id, doc in database["docs"].items()]})
            return
        since = int(parse_qs(url.query)["since"][0])
        newest = {doc_id: seq for seq, doc_id in database["log"] if seq > since}
        results = [{"id": doc_id, "seq": seq, "doc": database["docs"][doc_id]}
                   for doc_id, seq in sorted(newest.items(), key=lambda item: item[1])]
        self._answer(200, {"results": results, "last_seq": database["seq"]})

    def do_POST(self) -> None:
        database = self.databases[self.path.strip("/").partition("/")[0]]
        body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answers = []
        for doc in body["docs"]:
            stored = database["docs"].get(doc["_id"])
            if stored is not None and stored["_rev"] != doc.get("_rev"):
                answers.append({"id": doc["_id"], "error": "conflict"})
                continue
            generation = int(stored["_rev"].split("-")[0]) + 1 if stored else 1
            database["docs"][doc["_id"]] = {**doc, "_rev": f"{generation}-{uuid.uuid4().hex}"}
            database["seq"] += 1
            database["log"].append((database["seq"], doc["_id"]))
            answers.append({"id": doc["_id"], "ok": True,
                            "rev": database["docs"][doc["_id"]]["_rev"]})
        self._answer(201, answers)

    def _answer(self, status: int, body) -> None:
        payload = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    _Couch.databases = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Couch)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _crew(port: int, orders: int = 3, tablets: int = 1) -> list[CouchDevice]:
    devices = [CouchDevice("crew-000", port) for _ in range(tablets)]
    devices[0].request("PUT", "/crew-000")
    docs = [order_document(0, index, 200) for index in range(orders)]
    devices[0].request("POST", "/crew-000/_bulk_docs", {"docs": docs})
    for device in devices:
        device.pull(from_scratch=True)
    return devices


def test_an_order_document_weighs_what_fieldsync_sends_of_an_order():
    for crew, index in ((0, 0), (7, 42), (99, 99)):
        assert len(orjson.dumps(order_document(crew, index))) == ORDER_BYTES


def test_mutations_fold_into_the_document_as_the_merge_would_show_them():
    document = order_document(0, 0, 200)
    outbox = Outbox("tablet", [document["_id"]])
    for mutation in outbox.take(6, {}):
        fold(document, mutation)
    assert document["status"] == "completed"
    assert document["arrival"]["location"]["lat"] == 28.68
    assert document["cause"]["cause_code"] == "cable_fault"
    assert document["eta"] and document["completion"]["resolution_code"] == "repaired"
    assert [note["text"][:10] for note in document["notes"]] == ["Bench note"] * 2


def test_a_push_sends_each_changed_document_once_and_the_other_tablet_pulls_it(port):
    first, second = _crew(port, orders=3, tablets=2)
    assign_outboxes([first, second])
    assert first.outbox.order_ids == ["order-000-000", "order-000-002"]
    assert first.push(first.outbox.take(5, {})) == []
    assert [doc["_rev"][:2] for doc in
            (first.documents["order-000-000"], first.documents["order-000-002"])] == ["2-", "2-"]
    assert second.pull() == 2
    assert second.documents["order-000-000"]["status"] == "completed"
    assert second.documents["order-000-002"]["status"] == "on_site"
    assert second.pull() == 0
    assert first.missed() == [] and second.missed() == []


def test_a_stale_revision_is_reported_as_an_error_and_a_missed_change(port):
    first, second = _crew(port, orders=1, tablets=2)
    for device in (first, second):
        device.outbox = Outbox("tablet", ["order-000-000"])
    assert first.push(first.outbox.take(1, {})) == []
    assert second.push(second.outbox.take(1, {})) == ["order-000-000: conflict"]
    second.documents["order-000-000"]["_rev"] = "9-stale"
    _Couch.databases["crew-000"]["log"].clear()  # the feed forgets: no pull can repair it
    assert second.missed() == ["order-000-000"]
