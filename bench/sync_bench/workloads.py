"""Workloads A-D of issue 3, driven over loopback by threads that each own their devices."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.sync_bench.device import Device, Outbox, RequestFailed
from bench.sync_bench.stats import percentile


@dataclass
class Figures:
    """What one workload measured; `extra` carries workload-specific numbers for the report."""

    latencies: list[float] = field(default_factory=list)
    count: int = 0
    seconds: float = 0.0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    driver_cpu: float = 0.0
    server_cpu: float = 0.0
    extra: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def done(self, latency: float, count: int = 1, results: list[dict] | None = None,
             **extra: int) -> None:
        """Record one finished operation (thread-safe)."""
        with self.lock:
            self.latencies.append(latency)
            self.count += count
            for name, value in extra.items():
                self.extra[name] = self.extra.get(name, 0) + value
            if results is not None:
                outcomes = Counter(r.get("status") for r in results)
                self.extra.setdefault("outcomes", Counter()).update(outcomes)
                for result in results:
                    if result.get("status") != "applied":
                        self._error(f"mutation {result.get('status')}: {result.get('code')} "
                                    f"{result.get('detail')}")

    @property
    def server_cpu_per_op(self) -> float:
        """gunicorn workers' CPU seconds per operation: robust to a busy machine, unlike latency."""
        return self.server_cpu * self.seconds / self.count if self.count else float("nan")

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def p(self, pct: float) -> float:
        return percentile(self.latencies, pct)

    def error(self, message: str) -> None:
        with self.lock:
            self._error(message)

    def _error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(message)


class Meter:
    """Wall time plus the CPU the driver and the gunicorn workers used meanwhile."""

    def __init__(self, server_cpu: Callable[[], float]) -> None:
        self.server_cpu = server_cpu

    def __enter__(self) -> Meter:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.server = self.server_cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.wall
        self.driver_share = (time.process_time() - self.cpu) / self.seconds
        self.server_share = (self.server_cpu() - self.server) / self.seconds


def record(figures: Figures, meter: Meter) -> Figures:
    figures.seconds = meter.seconds
    figures.driver_cpu = meter.driver_share
    figures.server_cpu = meter.server_share
    return figures


def initial_sync(devices: list[Device], runs: int, server_cpu: Callable[[], float]) -> Figures:
    """A: one device at a time pulls its whole scope from nothing."""
    figures = Figures()
    with Meter(server_cpu) as meter:
        for run in range(runs):
            device = devices[run % len(devices)]
            start = time.perf_counter()
            try:
                result = device.pull_to_end(from_scratch=True)
            except RequestFailed as failure:
                figures.error(str(failure))
                continue
            figures.latencies.append(time.perf_counter() - start)
            figures.count += 1
            figures.extra["orders"] = result.changes
            if not result.digest_ok:
                figures.error("initial sync: scope digest differs from the pulled store")
    return record(figures, meter)


def empty_pull_latency(device: Device, runs: int, server_cpu: Callable[[], float]) -> Figures:
    """B, latency: one device already at the head pulls again and again."""
    figures = Figures()
    with Meter(server_cpu) as meter:
        for _ in range(runs):
            start = time.perf_counter()
            try:
                page = device.pull_page(device.cursor)
            except RequestFailed as failure:
                figures.error(str(failure))
                continue
            figures.latencies.append(time.perf_counter() - start)
            figures.count += 1
            if page["changes"]:
                figures.error(f"empty delta pull returned {len(page['changes'])} changes")
            device.cursor = page["cursor"]
    return record(figures, meter)


def run_threads(devices: list[Device], seconds: float, step: Callable[[Device, Figures], None],
                figures: Figures, meter: Meter, max_steps: int | None = None) -> None:
    """One thread per device, each looping `step` until the deadline (or `max_steps`)."""
    deadline = time.perf_counter() + seconds
    stop = threading.Event()

    def loop(device: Device) -> None:
        done = 0
        while not stop.is_set() and time.perf_counter() < deadline:
            if max_steps is not None and done >= max_steps:
                return
            step(device, figures)
            done += 1

    threads = [threading.Thread(target=loop, args=(d,), daemon=True) for d in devices]
    with meter:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 120)
        stop.set()


def http_baseline(devices: list[Device], seconds: float,
                  server_cpu: Callable[[], float]) -> Figures:
    """`GET /healthz` from every device as fast as it can: what gunicorn, Flask and loopback
    HTTP cost with no database and no auth, the floor the framework sets for B."""
    figures = Figures()

    def step(device: Device, figures: Figures) -> None:
        start = time.perf_counter()
        try:
            device.request("GET", "/healthz")
        except RequestFailed as failure:
            figures.error(str(failure))
            return
        figures.done(time.perf_counter() - start)

    meter = Meter(server_cpu)
    run_threads(devices, seconds, step, figures, meter)
    return record(figures, meter)


def pull_throughput(devices: list[Device], seconds: float,
                    server_cpu: Callable[[], float]) -> Figures:
    """B, throughput: every device pulls from its cursor as fast as it can."""
    figures = Figures()

    def step(device: Device, figures: Figures) -> None:
        start = time.perf_counter()
        try:
            page = device.pull_page(device.cursor)
        except RequestFailed as failure:
            figures.error(str(failure))
            return
        figures.done(time.perf_counter() - start)
        device.cursor = page["cursor"]

    meter = Meter(server_cpu)
    run_threads(devices, seconds, step, figures, meter)
    return record(figures, meter)


def push(devices: list[Device], batches: int, batch_size: int, server_cpu: Callable[[], float],
         timeout: float = 300) -> Figures:
    """C: each device pushes `batches` batches of fresh mutations; mutations/s over wall time."""
    figures = Figures()

    def step(device: Device, figures: Figures) -> None:
        assert device.outbox is not None
        mutations = device.outbox.take(batch_size, device.versions)
        start = time.perf_counter()
        try:
            results = device.push(mutations)
        except RequestFailed as failure:
            figures.error(str(failure))
            return
        figures.done(time.perf_counter() - start, len(mutations), results)

    meter = Meter(server_cpu)
    run_threads(devices, timeout, step, figures, meter, max_steps=batches)
    return record(figures, meter)


def mixed_fleet(devices: list[Device], seconds: float, push_size: int,
                server_cpu: Callable[[], float]) -> Figures:
    """D: closed loop of pull-since-cursor then push-5; a cycle's latency is pull + push."""
    figures = Figures()
    figures.extra["digest_mismatches"] = 0
    figures.extra["mutations"] = 0

    def step(device: Device, figures: Figures) -> None:
        assert device.outbox is not None
        start = time.perf_counter()
        try:
            pulled = device.pull_to_end()
            mutations = device.outbox.take(push_size, device.versions)
            results = device.push(mutations)
        except RequestFailed as failure:
            figures.error(str(failure))
            return
        figures.done(time.perf_counter() - start, 1, results, mutations=len(mutations),
                     digest_mismatches=0 if pulled.digest_ok else 1)

    meter = Meter(server_cpu)
    run_threads(devices, seconds, step, figures, meter)
    return record(figures, meter)


def assign_outboxes(devices: list[Device]) -> None:
    """Split each team's orders between the team's tablets so every mutation is fresh."""
    by_team: dict[str, list[Device]] = {}
    for device in devices:
        by_team.setdefault(device.seeded.team_id, []).append(device)
    for team_devices in by_team.values():
        order_ids = team_devices[0].order_ids()
        for index, device in enumerate(team_devices):
            device.outbox = Outbox(device.seeded.device_id, order_ids[index::len(team_devices)])
