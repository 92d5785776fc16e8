"""`python -m bench.sync_bench --db sqlite|postgresql|both [--quick]`: the issue 3 benchmark.

For each database: a fresh migrated database, the seeded workload, in-process floors, gunicorn
with 2 workers on loopback, workloads A-D from threads in this process, a missed-change check,
an optional pyinstrument profile, and the results written into bench/README.md.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shlex
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bench.sync_bench import floor, report, workloads
from bench.sync_bench.database import fresh_database, workspace
from bench.sync_bench.device import Device, RequestFailed, scope_digest
from bench.sync_bench.report import Row, ms, rate, ratio
from bench.sync_bench.seed import Fleet, seed
from bench.sync_bench.server import ServerOptions, gunicorn
from bench.sync_bench.stats import percentile
from server import create_app
from server.db import make_engine
from server.domain.scope import scope_condition
from server.models.orders import Order

log = logging.getLogger("bench.sync_bench")
PROFILES = Path(__file__).resolve().parents[1] / "profiles"
#: Initial syncs before A's, not measured, so that every worker has served requests.
WORKER_WARM_UP_PULLS = 10


@dataclass(frozen=True)
class Plan:
    """Sizes and durations; `--quick` keeps the data set and shortens every phase."""

    crews: int = 100
    orders_per_crew: int = 100
    a_runs: int = 50
    b_runs: int = 200
    b_devices: int = 32
    b_seconds: float = 15
    c_devices: int = 8
    c_batch: int = 20
    c_batches: int = 20
    d_fleets: tuple[int, ...] = (32, 128)
    d_seconds: float = 30
    d_push: int = 5
    floor_seconds: float = 10
    floor_processes: int = 2

    @classmethod
    def quick(cls, **overrides) -> Plan:
        return cls(**{"a_runs": 20, "b_runs": 50, "b_seconds": 3, "c_batches": 3, "d_seconds": 5,
                      "floor_seconds": 2, **overrides})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="short phases (development runs)")
    parser.add_argument("--crews", type=int, default=100, help="crews to seed (100 per the issue)")
    parser.add_argument("--d-seconds", type=float, help="duration of each mixed-fleet run")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"),
                        help="gthread: see the worker class comparison in bench/README.md")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--profile", action="store_true",
                        help="also run a short profiled round (pyinstrument in every worker)")
    parser.add_argument("--compare-workers", action="store_true",
                        help="also alternate sync and gthread workers on B and D32 (same data)")
    parser.add_argument("--no-readme", action="store_true", help="print results, leave README")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    overrides = {"crews": args.crews}
    if args.d_seconds:
        overrides["d_seconds"] = args.d_seconds
    plan = Plan.quick(**overrides) if args.quick else Plan(**overrides)
    options = ServerOptions(worker_class=args.worker_class, threads=args.threads)
    arguments = argv if argv is not None else sys.argv[1:]
    command = ".venv/bin/python -m bench.sync_bench " + shlex.join(arguments)
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        content = run(kind, plan, options, command, profile=args.profile,
                      compare=args.compare_workers)
        print(content)
        if not args.no_readme:
            report.write(kind, content)
    return 0


def run(kind: str, plan: Plan, options: ServerOptions, command: str, *, profile: bool,
        compare: bool) -> str:
    with workspace() as workdir, fresh_database(kind, workdir) as url:
        secret = secrets.token_hex(32)
        app = create_app({"database_url": url, "secret_key": secret,
                          "media_root": str(workdir / "media")})
        extra = max(0, max(plan.d_fleets) - plan.crews)
        fleet = seed(app, crews=plan.crews, orders_per_crew=plan.orders_per_crew,
                     extra_devices=extra)
        log.info("%s: seeded %d orders (%d B JSON each) and %d devices in %.1f s", kind,
                 fleet.orders, fleet.order_json_bytes, len(fleet.devices), fleet.seconds)
        floor.create_mutation_log(url)
        floors = read_floors(url, fleet, plan)
        env = {"FIELDSYNC_DATABASE_URL": url, "FIELDSYNC_SECRET_KEY": secret,
               "FIELDSYNC_PULL_MIN_INTERVAL": "0", "FIELDSYNC_MEDIA_ROOT": str(workdir / "media")}
        with gunicorn(env, options, workdir / "gunicorn.log") as server:
            devices = [Device(s, server.port) for s in fleet.devices]
            try:
                results = drive(devices, plan, server.cpu_seconds, url)
            finally:
                for device in devices:
                    device.close()
        floors.update(write_floors(url, devices, plan))
        profile_lines = run_profile(kind, env, options, workdir, devices, plan) if profile else []
        if compare:
            profile_lines += compare_workers(env, workdir, devices, plan, options.threads)
        app.extensions["fieldsync_db"].engine.dispose()
        return render(kind, plan, options, command, fleet, results, floors, profile_lines)


def _crews(devices: list[Device]) -> list[floor.Crew]:
    return [floor.Crew(d.seeded.team_id, d.seeded.device_id, d.order_ids()) for d in devices]


def read_floors(url: str, fleet: Fleet, plan: Plan) -> dict[str, floor.FloorResult]:
    """Floors of the read-only figures (A, B), before any write changes the data."""
    crews = [floor.Crew(d.team_id, d.device_id, []) for d in fleet.devices[: plan.crews]]
    parts = [crews[i :: plan.floor_processes] for i in range(plan.floor_processes)]
    floors = {
        "A": floor.run_parallel([floor.FloorJob(url, "initial", plan.floor_seconds, crews)]),
        "B": floor.run_parallel([floor.FloorJob(url, "empty_pull", plan.floor_seconds, crews)]),
        "B rate": floor.run_parallel([floor.FloorJob(url, "empty_pull", plan.floor_seconds, part)
                                      for part in parts]),
    }
    log.info("floors: A p50 %s, B p50 %s, B %.0f/s", ms(percentile(floors["A"].latencies, 50)),
             ms(percentile(floors["B"].latencies, 50)), floors["B rate"].rate)
    return floors


def write_floors(url: str, devices: list[Device], plan: Plan) -> dict[str, floor.FloorResult]:
    """Floors of the write figures (C, D), after the server run so they do not disturb it."""
    c_crews = _crews(devices[plan.crews - plan.c_devices : plan.crews])
    c_parts = [c_crews[i :: plan.floor_processes] for i in range(plan.floor_processes)]
    d_crews = _crews(devices[: plan.d_fleets[0]])
    d_parts = [d_crews[i :: plan.floor_processes] for i in range(plan.floor_processes)]
    seconds = plan.floor_seconds
    floors = {
        "C": floor.run_parallel([floor.FloorJob(url, "push", seconds, c_crews, plan.c_batch)]),
        "C rate": floor.run_parallel([floor.FloorJob(url, "push", seconds, part, plan.c_batch)
                                      for part in c_parts]),
        "D": floor.run_parallel([floor.FloorJob(url, "cycle", seconds, part, plan.d_push)
                                 for part in d_parts]),
    }
    log.info("floors: C %.0f mutations/s (batch p50 %s), D %.0f cycles/s",
             floors["C rate"].rate * plan.c_batch, ms(percentile(floors["C"].latencies, 50)),
             floors["D"].rate)
    return floors


def drive(devices: list[Device], plan: Plan, server_cpu, url: str) -> dict:
    primaries = devices[: plan.crews]
    results: dict = {}
    # Not measured: a worker's first requests compile the statements and fill its caches
    # (50-70 ms each), which would otherwise be A's p95. Devices A does not use, if any.
    spare = primaries[plan.a_runs :] or primaries
    results["A warm-up"] = workloads.initial_sync(spare, WORKER_WARM_UP_PULLS, server_cpu)
    results["A"] = workloads.initial_sync(primaries, plan.a_runs, server_cpu)
    log.info("A: p50 %s p95 %s errors %d", ms(results["A"].p(50)), ms(results["A"].p(95)),
             results["A"].errors)
    started = time.perf_counter()
    warm_errors = 0
    for device in devices:
        try:
            device.pull_to_end(from_scratch=True)
        except RequestFailed:
            warm_errors += 1
    results["warm"] = (time.perf_counter() - started, warm_errors)
    workloads.assign_outboxes(devices)
    results["B"] = workloads.empty_pull_latency(devices[0], plan.b_runs, server_cpu)
    results["HTTP"] = workloads.http_baseline(devices[: plan.b_devices], plan.b_seconds / 3,
                                              server_cpu)
    results["B rate"] = workloads.pull_throughput(devices[: plan.b_devices], plan.b_seconds,
                                                  server_cpu)
    log.info("B: p50 %s, %.0f pulls/s", ms(results["B"].p(50)), results["B rate"].rate)
    c_devices = primaries[plan.crews - plan.c_devices :]
    alone = primaries[max(0, plan.crews - plan.c_devices - 1)]
    results["C1"] = workloads.push([alone], max(2, plan.c_batches // 2), plan.c_batch, server_cpu)
    results["C"] = workloads.push(c_devices, plan.c_batches, plan.c_batch, server_cpu)
    log.info("C: %.0f mutations/s, batch p50 %s, errors %d", results["C"].rate,
             ms(results["C"].p(50)), results["C"].errors)
    for size in plan.d_fleets:
        fleet = devices[:size]
        figures = workloads.mixed_fleet(fleet, plan.d_seconds, plan.d_push, server_cpu)
        figures.extra["missed"], figures.extra["missed_detail"] = missed_changes(fleet, url)
        results[f"D{size}"] = figures
        log.info("D%d: %.1f cycles/s, p50 %s p99 %s, errors %d, missed %d", size, figures.rate,
                 ms(figures.p(50)), ms(figures.p(99)), figures.errors, figures.extra["missed"])
    return results


def missed_changes(devices: list[Device], url: str) -> tuple[int, list[str]]:
    """Every device pulls to the end; its store must equal its scope as the database holds it."""
    engine = make_engine(url)
    missed = 0
    detail: list[str] = []
    try:
        with engine.connect() as conn:
            for device in devices:
                team = uuid.UUID(device.seeded.team_id)
                truth = {("order", str(i)): v for i, v in conn.execute(
                    select(Order.id, Order.version).where(scope_condition(team)))}
                try:
                    result = device.pull_to_end()
                except RequestFailed as failure:
                    missed += 1
                    detail.append(str(failure))
                    continue
                held = {k: v for k, v in device.versions.items() if k[0] == "order"}
                wrong = {k for k in truth.keys() | held.keys() if truth.get(k) != held.get(k)}
                missed += len(wrong)
                if not result.digest_ok:
                    detail.append(f"device {device.seeded.device_id}: server digest != local store")
                if scope_digest(truth) != scope_digest(held) and len(detail) < 10:
                    detail.append(f"device {device.seeded.device_id}: {len(wrong)} orders differ")
    finally:
        engine.dispose()
    return missed, detail


def run_profile(kind: str, env: dict, options: ServerOptions, workdir: Path,
                devices: list[Device], plan: Plan) -> list[str]:
    """A short round of A, B, C and D32 with pyinstrument running inside each sync worker."""
    profile_dir = workdir / "profiles"
    profile_dir.mkdir()
    with gunicorn(env, ServerOptions(workers=options.workers), workdir / "profile.log",
                  profile_dir=profile_dir) as server:
        fleet = devices[: plan.d_fleets[0]]
        for device in devices:
            device.port = server.port
        try:
            workloads.initial_sync(devices[: plan.crews], 10, server.cpu_seconds)
            workloads.pull_throughput(fleet, 3, server.cpu_seconds)
            workloads.push(devices[plan.crews - plan.c_devices : plan.crews], 2, plan.c_batch,
                           server.cpu_seconds)
            workloads.mixed_fleet(fleet, 5, plan.d_push, server.cpu_seconds)
        finally:
            for device in devices:
                device.close()
    PROFILES.mkdir(exist_ok=True)
    saved = []
    for number, path in enumerate(sorted(profile_dir.glob("worker-*.txt")), 1):
        target = PROFILES / f"{kind}-worker-{number}.txt"
        target.write_text(path.read_text())
        saved.append(f"pyinstrument profile of worker {number}: `bench/profiles/{target.name}`")
    return saved


def _per_op(rate_value: float) -> float:
    return 1 / rate_value if rate_value else float("nan")


def _cpu(server: float, floor_cpu: float) -> str:
    return f"{ms(server)} / {ms(floor_cpu)}"


def _rows(plan: Plan, results: dict, floors: dict[str, floor.FloorResult]) -> list[Row]:
    a, b, b_rate, c, c1 = (results[k] for k in ("A", "B", "B rate", "C", "C1"))
    fa, fb, fc = (floors[k].latencies for k in ("A", "B", "C"))
    c_rate, d_rate = floors["C rate"].rate * plan.c_batch, floors["D"].rate
    c_cpu = floors["C"].cpu_per_op / plan.c_batch
    p50, p95 = (lambda xs: percentile(xs, 50)), (lambda xs: percentile(xs, 95))
    rows = [
        Row("A p50", ms(a.p(50)), ms(p50(fa)), ratio(a.p(50), p50(fa)),
            _cpu(a.server_cpu_per_op, floors["A"].cpu_per_op),
            f"{a.count} runs, {a.extra.get('orders', 0)} entities each (orders + reference lists)"),
        Row("A p95", ms(a.p(95)), ms(p95(fa)), ratio(a.p(95), p95(fa))),
        Row("B p50", ms(b.p(50)), ms(p50(fb)), ratio(b.p(50), p50(fb)),
            _cpu(b.server_cpu_per_op, floors["B"].cpu_per_op), f"{b.count} sequential pulls"),
        Row("B p95", ms(b.p(95)), ms(p95(fb)), ratio(b.p(95), p95(fb))),
        Row("B pulls/s (32 devices)", rate(b_rate.rate), rate(floors["B rate"].rate),
            ratio(_per_op(b_rate.rate), _per_op(floors["B rate"].rate)),
            _cpu(b_rate.server_cpu_per_op, floors["B rate"].cpu_per_op),
            f"p50 {ms(b_rate.p(50))}, p99 {ms(b_rate.p(99))}"),
        Row("HTTP baseline: GET /healthz/s (32 devices)", rate(results["HTTP"].rate), "", "",
            _cpu(results["HTTP"].server_cpu_per_op, float("nan")),
            f"no database, no auth: gunicorn + Flask + loopback; p50 {ms(results['HTTP'].p(50))}"),
        Row("C mutations/s (8 devices)", rate(c.rate), rate(c_rate),
            ratio(_per_op(c.rate), _per_op(c_rate)), _cpu(c.server_cpu_per_op, c_cpu),
            f"{c.count} mutations, outcomes {dict(c.extra.get('outcomes', {}))}; CPU per mutation"),
        Row("C batch p50", ms(c.p(50)), "", "", "",
            f"8 devices at once, batches of {plan.c_batch} (queueing included)"),
        Row("C batch p50, one device alone", ms(c1.p(50)), ms(p50(fc)), ratio(c1.p(50), p50(fc)),
            "", f"{c1.count} mutations, no concurrency"),
    ]
    for size in plan.d_fleets:
        d = results[f"D{size}"]
        rows += [
            Row(f"D{size} cycles/s", rate(d.rate), rate(d_rate),
                ratio(_per_op(d.rate), _per_op(d_rate)),
                _cpu(d.server_cpu_per_op, floors["D"].cpu_per_op),
                f"{plan.d_seconds:.0f} s, {d.extra.get('mutations', 0)} mutations, "
                f"outcomes {dict(d.extra.get('outcomes', {}))}"),
            Row(f"D{size} p50 / p95", f"{ms(d.p(50))} / {ms(d.p(95))}",
                note=f"floor cycle p50 {ms(p50(floors['D'].latencies))} (2 processes, no queue)"),
            Row(f"D{size} p99", ms(d.p(99))),
            Row(f"D{size} errors / missed changes", f"{d.errors} / {d.extra['missed']}",
                note="; ".join(d.error_samples[:2] + d.extra["missed_detail"][:2])),
        ]
    return rows


def compare_workers(env: dict, workdir: Path, devices: list[Device], plan: Plan,
                    threads: int) -> list[str]:
    """Alternate sync and gthread servers on the same data (B 32 devices, then D32), twice, so
    that a busy machine hurts both classes alike."""
    seconds = max(3.0, plan.d_seconds / 3)
    fleet = devices[: plan.d_fleets[0]]
    figures: dict[str, list[tuple[float, float]]] = {"sync": [], "gthread": []}
    for _round in range(2):
        for worker_class in ("sync", "gthread"):
            options = ServerOptions(worker_class=worker_class, threads=threads)
            with gunicorn(env, options, workdir / f"compare-{worker_class}.log") as server:
                for device in devices:
                    device.close()
                    device.port = server.port
                try:
                    pulls = workloads.pull_throughput(fleet, seconds, server.cpu_seconds)
                    cycles = workloads.mixed_fleet(fleet, seconds, plan.d_push, server.cpu_seconds)
                finally:
                    for device in devices:
                        device.close()
            figures[worker_class].append((pulls.rate, cycles.rate))
            log.info("%s: B %.0f pulls/s, D32 %.1f cycles/s (errors %d)", worker_class,
                     pulls.rate, cycles.rate, pulls.errors + cycles.errors)
    return [f"Worker class comparison (alternating, {seconds:.0f} s each, 2 rounds): "
            + "; ".join(f"`{name}`" + (f" x {threads} threads" if name == "gthread" else "")
                        + ": B " + " / ".join(f"{b:.0f}" for b, _ in runs) + " pulls/s, D32 "
                        + " / ".join(f"{d:.1f}" for _, d in runs) + " cycles/s"
                        for name, runs in figures.items())]


def render(kind: str, plan: Plan, options: ServerOptions, command: str, fleet: Fleet,
           results: dict, floors: dict, profile_lines: list[str]) -> str:
    early = ("A warm-up", "A", "B", "HTTP", "B rate", "C", "C1")
    errors = sum(results[k].errors for k in early)
    samples = "; ".join(s for k in early for s in results[k].error_samples[:1])
    threads = f" x {options.threads} threads" if options.worker_class == "gthread" else ""
    cpu = ", ".join(f"{k} {results[k].driver_cpu:.2f} / {results[k].server_cpu:.2f}"
                    for k in ("HTTP", "B rate", "C", *(f"D{s}" for s in plan.d_fleets)))
    mismatches = ", ".join(f"D{s} {results[f'D{s}'].extra.get('digest_mismatches', 0)}"
                           for s in plan.d_fleets)
    warm_seconds, warm_errors = results["warm"]
    details = [
        f"Data: {fleet.orders:,} orders ({plan.crews} crews x {plan.orders_per_crew}), "
        f"{fleet.order_json_bytes} bytes of crew JSON per order, {len(fleet.devices)} devices; "
        f"seeded through the domain layer in {fleet.seconds:.1f} s.",
        f"Server: gunicorn, {options.workers} workers, worker class `{options.worker_class}`"
        f"{threads}; FIELDSYNC_PULL_MIN_INTERVAL=0 (pull rate limiting off for the benchmark).",
        f"Errors in A/B/C: {errors}{f' ({samples})' if errors else ''}; warm-up pulls of every "
        f"device took {warm_seconds:.1f} s with {warm_errors} errors.",
        f"CPU used, in cores, driver / gunicorn workers: {cpu}.",
        "Digest mismatches seen by D devices right after a pull (writes in flight): "
        f"{mismatches}.",
        *profile_lines,
    ]
    return report.block(kind, command, _rows(plan, results, floors), details)


if __name__ == "__main__":
    sys.exit(main())
