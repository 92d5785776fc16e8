"""One simulation run: server, proxy, fleet, faults, healing, quiescence, checks, report."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from clients.python import DeviceClient, DeviceRevoked
from clients.simulator import checks
from clients.simulator.actors import Activity, CrewActor, StaffActor
from clients.simulator.proxy import FaultProxy, FaultRates
from clients.simulator.seed import seed_world
from clients.simulator.server import Database, SimulatedServer

log = logging.getLogger(__name__)

SIM_RETRIES = {"backoff_base": 0.1, "backoff_cap": 2.0, "attempts": 5, "timeout": 30.0}
QUIESCENCE_ROUNDS = 10


@dataclass
class Options:
    crews: int = 50
    db: str = "sqlite"
    duration: float = 60.0
    workers: int = 3
    kill_worker: bool = False
    team_size: int = 3
    orders_per_team: int = 4
    seed: int = 1
    rates: FaultRates = field(default_factory=lambda: FaultRates(
        drop_request=0.03, drop_response=0.03, duplicate=0.03, delay=0.05, cut_upload=0.1,
        max_delay=0.5))
    keep: bool = False


@dataclass
class Report:
    checks: list[checks.CheckResult]
    rows: list[tuple[str, str]]
    actors: list[Activity]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def render(self) -> str:
        lines = []
        width = max(len(k) for k, _ in self.rows)
        lines.append("Run")
        lines += [f"  {k.ljust(width)}  {v}" for k, v in self.rows]
        lines.append("Actors")
        for activity in self.actors:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(activity.counts.items()))
            missing = f" (endpoints missing: {sorted(activity.unavailable)})" \
                if activity.unavailable else ""
            state = "active" if activity.active else "INACTIVE"
            lines.append(f"  {activity.name:<11} {state:<8} {counts}{missing}")
        lines.append("Checks")
        name_width = max(len(c.name) for c in self.checks)
        for check in self.checks:
            lines.append(f"  {'PASS' if check.ok else 'FAIL'}  {check.name.ljust(name_width)}  "
                         f"{check.detail}")
        lines.append("RESULT: " + ("all checks passed" if self.ok else "CHECKS FAILED"))
        return "\n".join(lines)


def quiesce(clients: list[DeviceClient]) -> tuple[int, float]:
    """Sync everyone, round after round, until a round changes nothing anywhere."""
    started = time.monotonic()
    for round_number in range(1, QUIESCENCE_ROUNDS + 1):
        busy = False
        for client in clients:
            try:
                result = client.sync()
            except DeviceRevoked:
                continue
            if (result.pushed or result.uploaded or result.pulled or result.errors
                    or not result.digest_ok or client.pending() or client.pending_uploads()):
                busy = True
        if not busy:
            return round_number, time.monotonic() - started
    return QUIESCENCE_ROUNDS, time.monotonic() - started


def run(options: Options, out=print) -> Report:
    workdir = Path(tempfile.mkdtemp(prefix="fieldsync-sim-"))
    database = Database(options.db, workdir)
    database.create()
    server = SimulatedServer(database, workers=options.workers, workdir=workdir)
    proxy: FaultProxy | None = None
    clients: list[DeviceClient] = []
    try:
        world = seed_world(server.settings(), crews=options.crews, team_size=options.team_size,
                           orders_per_team=options.orders_per_team, seed=options.seed)
        url = server.start()
        proxy = FaultProxy(url, options.rates, seed=options.seed)
        proxy.start()
        out(f"server {url} ({options.db}, {options.workers} workers), proxy {proxy.url}, "
            f"{len(world.crews)} crews in {len(world.team_ids)} teams, "
            f"{len(world.order_ids)} orders")
        for index, member in enumerate(world.crews):
            clients.append(DeviceClient.from_token(
                proxy.url, member.token, workdir / "devices" / f"tablet-{index}.db",
                transport_options=SIM_RETRIES))
        stop = threading.Event()
        crew_activity = Activity("crews")
        dispatch_activity = Activity("dispatchers")
        agent_activity = Activity("agents")
        photos = workdir / "photos"
        photos.mkdir()
        actors: list[CrewActor | StaffActor] = [
            CrewActor(member, client, photos, stop, crew_activity, seed=options.seed * 1000 + i)
            for i, (member, client) in enumerate(zip(world.crews, clients, strict=True))]
        order_ids = list(world.order_ids)
        actors.append(StaffActor("dispatcher", url, world.staff_tokens["dispatcher"], order_ids,
                                 world.team_ids, stop, dispatch_activity, options.seed))
        actors.append(StaffActor("agent", url, world.staff_tokens["agent"], order_ids,
                                 world.team_ids, stop, agent_activity, options.seed + 1))
        started = time.monotonic()
        for actor in actors:
            actor.start()
        killed = None
        if options.kill_worker:
            stop.wait(options.duration / 2)
            killed = server.kill_worker()
            out(f"killed gunicorn worker {killed} (kill -9)")
        stop.wait(max(0.0, options.duration - (time.monotonic() - started)))
        stop.set()
        for actor in actors:
            actor.join(timeout=120)
        failures = [a.name for a in actors if a.failure is not None]
        proxy.heal()
        out("network healed; syncing to quiescence")
        rounds, quiet_after = quiesce(clients)
        reader = checks.StaffReader(url, world.staff_tokens["admin"])
        record = checks.read_server(reader)
        results = [
            checks.check_mutations(clients, record),
            checks.check_stores(clients, url),
            checks.check_media(clients, reader, record),
            checks.check_audit_chains(record),
            checks.check_verify_audit_command(server.verify_audit()),
            checks.CheckResult("no simulated actor crashed", not failures,
                               ", ".join(failures) or "none"),
            checks.CheckResult("fleet reached quiescence", rounds < QUIESCENCE_ROUNDS,
                               f"after {rounds} rounds, {quiet_after:.1f} s"),
        ]
        faults = ", ".join(f"{k} {v}" for k, v in sorted(proxy.counts.items()))
        rows = [
            ("database", f"{options.db}, {options.workers} gunicorn workers"),
            ("crews / teams / orders", f"{len(world.crews)} / {len(world.team_ids)} / "
                                       f"{len(record.orders)}"),
            ("duration", f"{options.duration:.0f} s of work, quiescent after {rounds} rounds "
                         f"({quiet_after:.1f} s)"),
            ("proxy", faults),
            ("worker killed", str(killed) if killed else "no"),
            ("server rejections", checks.summarise_rejections(record)),
            ("audit events", str(sum(len(e) for e in record.events.values()))),
        ]
        return Report(results, rows, [crew_activity, dispatch_activity, agent_activity])
    finally:
        for client in clients:
            client.close()
        if proxy is not None:
            proxy.stop()
        server.stop()
        if not options.keep:
            database.drop()
            shutil.rmtree(workdir, ignore_errors=True)
