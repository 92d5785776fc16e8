"""`python -m bench.pouchdb_reference`: issue 3's workload against pouchdb-server on this machine.

Issue 3 quotes pouchdb-server 4.2's figures from "this kind of machine", but the machines these
sessions get differ in speed by 2x (see bench/README.md); measuring pouchdb-server here, with
the same driver, data and phases as `bench.sync_bench`, tells whether a gap is Fieldsync's or
the host's. pouchdb-server is installed from the npm registry beside the project (not part of
it): `npm install --prefix bench/.pouchdb pouchdb-server@4.2.0`.

The workload mapped onto the CouchDB protocol the way a PouchDB tablet syncs:
- a database per crew (a device's scope), its orders as documents of the same 1.5 KB of JSON;
- a pull is `GET /<db>/_changes?since=<seq>&include_docs=true` (one response, like Fieldsync's
  500-entity page), a push is `POST /<db>/_bulk_docs` of the orders the batch changed, each at
  its current `_rev`: a PouchDB client folds several edits of one document into one revision,
  so a batch of 20 mutations (arrive, set_cause, set_eta, complete over 5 orders) sends 5
  documents and counts as 20 mutations, as in `bench.sync_bench`;
- notes are appended to the document's `notes` list, so documents grow as Fieldsync's do.
A `_bulk_docs` item that fails (a conflict, say) counts as an error, and after each D run every
device's documents are compared with the server's revisions (`_all_docs`): a missed change.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.sync_bench import report, workloads
from bench.sync_bench.device import JsonClient, Outbox, RequestFailed
from bench.sync_bench.server import free_port, process_cpu_seconds
from bench.sync_bench.stats import ms

log = logging.getLogger("bench.pouchdb_reference")
DEFAULT_SERVER = Path(__file__).resolve().parent / ".pouchdb/node_modules/.bin/pouchdb-server"
ORDER_BYTES = 1534
#: Node closes a keep-alive connection idle for 5 s; one idle this long is reopened first.
IDLE_REOPEN_SECONDS = 4


def order_document(crew: int, index: int, size: int = ORDER_BYTES) -> dict[str, Any]:
    """An order as its crew's tablet holds it: the fields of Fieldsync's crew view, its
    description padded so that its JSON weighs `size` bytes."""
    serial = crew * 1000 + index
    document = {
        "_id": f"order-{crew:03d}-{index:03d}", "number": f"WO-2026-{serial:06d}",
        "status": "assigned", "priority": ("urgent", "high", "normal", "low")[index % 4],
        "kind": "fault_repair", "source": "hotline", "title": f"Cable fault at site {serial}",
        "description": "",
        "customer": {"name": f"Customer {serial}", "phone": f"+86 791 555 {serial % 10000:04d}",
                     "account": f"ACC-{serial:06d}"},
        "address": f"{serial % 900 + 1} Bayi Avenue, Nanchang",
        "location": {"lat": 28.6 + crew * 0.001, "lon": 115.8 + crew * 0.001},
        "asset_ref": f"TX-{serial:05d}", "required_skills": ["electrical"],
        "sla": {"arrive_by": "2026-11-22T12:00:00.000Z", "complete_by": "2026-11-23T08:00:00.000Z"},
        "team_id": str(uuid.UUID(int=crew + 1)), "user_ids": [str(uuid.UUID(int=crew + 1001))],
        "arrival": None, "cause": None, "eta": None, "completion": None, "notes": [], "media": [],
        "needs_review": False, "reopen_count": 0,
        "created_at": "2026-11-22T07:00:00.000Z", "updated_at": "2026-11-22T07:00:00.000Z",
    }
    document["description"] = "x" * max(0, size - len(orjson.dumps(document)))
    return document


def fold(document: dict[str, Any], mutation: dict[str, Any]) -> None:
    """Apply one of the outbox's mutations to the tablet's copy of the order."""
    data, kind = mutation["data"], mutation["type"]
    if kind == "arrive":
        document["arrival"], document["status"] = data, "on_site"
    elif kind == "set_cause":
        document["cause"] = data
    elif kind == "set_eta":
        document["eta"] = data["eta"]
    elif kind == "complete":
        document["completion"], document["status"] = data, "completed"
    else:
        document["notes"].append({**data, "id": mutation["id"], "hlc": mutation["hlc"],
                                  "at": mutation["at"]})
    document["updated_at"] = mutation["at"]


class CouchDevice(JsonClient):
    """A tablet replicating its crew's database: documents by id, and a `since` sequence."""

    def __init__(self, database: str, port: int) -> None:
        super().__init__(port, {"Accept": "application/json"})
        self.database = database
        self.last_used = 0.0
        self.since: Any = 0
        self.documents: dict[str, dict[str, Any]] = {}
        self.outbox: Outbox | None = None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """A JSON exchange; a connection Node may have closed while idle is reopened first."""
        if time.monotonic() - self.last_used > IDLE_REOPEN_SECONDS:
            self.close()
        self.last_used = time.monotonic()
        return super().request(method, path, None if body is None else orjson.dumps(body))

    def pull(self, *, from_scratch: bool = False) -> int:
        """Everything since the last pull, in one response; the number of changes."""
        if from_scratch:
            self.since, self.documents = 0, {}
        page = self.request("GET", f"/{self.database}/_changes?since={self.since}"
                                   "&include_docs=true")
        for change in page["results"]:
            if change.get("deleted"):
                self.documents.pop(change["id"], None)
            else:
                self.documents[change["id"]] = change["doc"]
        self.since = page["last_seq"]
        return len(page["results"])

    def push(self, mutations: list[dict[str, Any]]) -> list[str]:
        """Fold the mutations into their documents and send each changed one once; the errors."""
        changed: dict[str, dict[str, Any]] = {}
        for mutation in mutations:
            order_id = mutation["order_id"]
            if order_id not in changed:
                changed[order_id] = copy.deepcopy(self.documents[order_id])
            fold(changed[order_id], mutation)
        answers = self.request("POST", f"/{self.database}/_bulk_docs",
                               {"docs": list(changed.values())})
        errors = []
        for answer in answers:
            if answer.get("error"):
                errors.append(f"{answer['id']}: {answer['error']}")
            else:
                document = changed[answer["id"]]
                document["_rev"] = answer["rev"]
                self.documents[answer["id"]] = document
        return errors

    def missed(self) -> list[str]:
        """Documents whose revision differs from the server's (after a final pull)."""
        self.pull()
        rows = self.request("GET", f"/{self.database}/_all_docs")["rows"]
        server = {row["id"]: row["value"]["rev"] for row in rows}
        mine = {doc_id: doc["_rev"] for doc_id, doc in self.documents.items()}
        return [doc_id for doc_id in server.keys() | mine.keys()
                if server.get(doc_id) != mine.get(doc_id)]


@contextlib.contextmanager
def pouchdb_server(executable: Path, workdir: Path) -> Iterator[tuple[int, int]]:
    """pouchdb-server on LevelDB in `workdir` (its default adapter); yields (port, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [str(executable), "--port", str(port), "--dir", str(workdir), "--no-stdout-logs"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pouchdb-server did not start") from None
                time.sleep(0.2)
        yield port, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def seed(port: int, crews: int, orders_per_crew: int) -> list[CouchDevice]:
    """A database per crew with its orders; one device per crew."""
    devices = []
    for crew in range(crews):
        device = CouchDevice(f"crew-{crew:03d}", port)
        device.request("PUT", f"/{device.database}")
        docs = [order_document(crew, index) for index in range(orders_per_crew)]
        for answer in device.request("POST", f"/{device.database}/_bulk_docs", {"docs": docs}):
            if answer.get("error"):
                raise RuntimeError(f"seeding failed: {answer}")
        devices.append(device)
    return devices


def assign_outboxes(devices: list[CouchDevice]) -> None:
    """Split each crew's orders between the crew's tablets (fresh mutations, no conflicts)."""
    by_database: dict[str, list[CouchDevice]] = {}
    for device in devices:
        by_database.setdefault(device.database, []).append(device)
    for team in by_database.values():
        order_ids = sorted(team[0].documents)
        for index, device in enumerate(team):
            device.outbox = Outbox(f"{device.database}-{index}",
                                   order_ids[index::len(team)])


def _timed(figures: workloads.Figures, action, count: int = 1) -> None:
    start = time.perf_counter()
    try:
        errors = action()
    except RequestFailed as failure:
        figures.error(str(failure))
        return
    for error in errors or ():
        figures.error(error)
    figures.done(time.perf_counter() - start, count)


def drive(devices: list[CouchDevice], crews: int, d_seconds: float, server_cpu) -> dict:
    """A, B, C and D of issue 3, in the order and sizes of `bench.sync_bench`."""
    primaries = devices[:crews]
    results: dict[str, workloads.Figures] = {}
    for device in primaries[50:60]:  # warm-up, as for Fieldsync
        device.pull(from_scratch=True)
    figures = workloads.Figures()
    with workloads.Meter(server_cpu) as meter:
        for run in range(50):
            device = primaries[run % len(primaries)]
            _timed(figures, lambda device=device: _initial_sync(device))
    results["A"] = workloads.record(figures, meter)
    for device in devices:
        device.pull(from_scratch=True)
    assign_outboxes(devices)
    figures = workloads.Figures()
    with workloads.Meter(server_cpu) as meter:
        for _ in range(200):
            _timed(figures, lambda: _empty_pull(primaries[0]))
    results["B"] = workloads.record(figures, meter)
    results["B rate"] = _loop(primaries[:32], 15, server_cpu, _empty_pull)
    results["C"] = _loop(primaries[crews - 8:], 300, server_cpu,
                         lambda device: device.push(device.outbox.take(20, {})), count=20,
                         max_steps=20)
    for size in (32, 128):
        fleet = devices[:size]
        figures = _loop(fleet, d_seconds, server_cpu, _cycle)
        figures.extra["missed"] = sum(len(device.missed()) for device in fleet)
        results[f"D{size}"] = figures
        log.info("D%d: %.0f cycles/s, p99 %s", size, figures.rate, ms(figures.p(99)))
    return results


def _initial_sync(device: CouchDevice) -> list[str]:
    count = device.pull(from_scratch=True)
    return [] if count == len(device.documents) > 0 else [f"initial sync got {count} changes"]


def _empty_pull(device: CouchDevice) -> list[str]:
    count = device.pull()
    return [f"empty pull returned {count} changes"] if count else []


def _cycle(device: CouchDevice) -> list[str]:
    device.pull()
    return device.push(device.outbox.take(5, {}))


def _loop(devices, seconds, server_cpu, action, *, count: int = 1,
          max_steps: int | None = None) -> workloads.Figures:
    figures = workloads.Figures()

    def step(device: CouchDevice, figures: workloads.Figures) -> None:
        _timed(figures, lambda: action(device), count)

    meter = workloads.Meter(server_cpu)
    workloads.run_threads(devices, seconds, step, figures, meter, max_steps=max_steps)
    return workloads.record(figures, meter)


def render(results: dict, command: str, cores: dict[str, float]) -> str:
    a, b, b_rate, c = results["A"], results["B"], results["B rate"], results["C"]
    quoted = report.REFERENCE
    rows = [
        ("A p50", ms(a.p(50)), quoted["A p50"][0]),
        ("B p50", ms(b.p(50)), quoted["B p50"][0]),
        ("B pulls/s (32 devices)", report.rate(b_rate.rate), quoted["B pulls/s (32 devices)"][0]),
        ("C mutations/s (8 devices)", report.rate(c.rate), quoted["C mutations/s (8 devices)"][0]),
        ("C batch p50", ms(c.p(50)), quoted["C batch p50"][0]),
    ]
    for size in (32, 128):
        d = results[f"D{size}"]
        rows += [(f"D{size} cycles/s", report.rate(d.rate), quoted[f"D{size} cycles/s"][0]),
                 (f"D{size} p99", ms(d.p(99)), quoted[f"D{size} p99"][0])]
    errors = {name: figures.errors for name, figures in results.items()}
    missed = {name: figures.extra.get("missed", 0) for name, figures in results.items()
              if name.startswith("D")}
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = ["#### pouchdb-server 4.2.0 on this machine", "",
             f"Measured {now} on {report.machine()}, Node {_node_version()}.", "",
             f"Command: `{command}`", "",
             "| figure | pouchdb-server here | quoted in issue 3 |", "| --- | ---: | ---: |",
             *[f"| {name} | {here} | {quoted_value} |" for name, here, quoted_value in rows], "",
             f"- Errors per phase: {errors}; missed changes: {missed}.",
             "- CPU used by pouchdb-server, in cores: "
             + ", ".join(f"{name} {share:.2f}" for name, share in cores.items()) + ".", ""]
    sample = next((f.error_samples[0] for f in results.values() if f.error_samples), None)
    if sample:
        lines.insert(-1, f"- First error: `{sample}`")
    return "\n".join(lines)


def _node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pouchdb_reference")
    parser.add_argument("--pouchdb-server", type=Path,
                        default=Path(os.environ.get("POUCHDB_SERVER", DEFAULT_SERVER)))
    parser.add_argument("--d-seconds", type=float, default=30)
    parser.add_argument("--crews", type=int, default=100)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.pouchdb_server.exists():
        print(f"{args.pouchdb_server} not found: npm install --prefix bench/.pouchdb "
              "pouchdb-server@4.2.0", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="fs-pouchdb-"))
    try:
        with pouchdb_server(args.pouchdb_server.resolve(), workdir) as (port, pid):
            started = time.perf_counter()
            devices = seed(port, args.crews, 100)
            # D128's extra tablets: a second one for the first crews, as in bench.sync_bench.
            devices += [CouchDevice(devices[i].database, port)
                        for i in range(128 - args.crews)]
            log.info("seeded %d orders in %.1f s", args.crews * 100,
                     time.perf_counter() - started)
            results = drive(devices, args.crews, args.d_seconds, lambda: process_cpu_seconds(pid))
            for device in devices:
                device.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cores = {name: figures.server_cpu for name, figures in results.items()}
    command = "python -m bench.pouchdb_reference" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    content = render(results, command, cores)
    if not args.no_readme:
        report.write("pouchdb-server", content)
    print(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
