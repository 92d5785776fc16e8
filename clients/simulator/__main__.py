"""`python -m clients.simulator --crews 50 --db sqlite|postgresql --duration 60 [--kill-worker]`."""

from __future__ import annotations

import argparse
import logging
import sys

from clients.simulator.fleet import Options, run
from clients.simulator.proxy import FaultRates


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m clients.simulator",
        description="Run a fleet of simulated tablets and staff against a real server behind "
                    "a fault-injecting proxy, then check that nothing was lost or doubled.")
    parser.add_argument("--crews", type=int, default=50, help="crew members, one tablet each")
    parser.add_argument("--team-size", type=int, default=3, help="crew members per team")
    parser.add_argument("--orders-per-team", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of field work")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--kill-worker", action="store_true",
                        help="kill -9 a gunicorn worker halfway through")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and stores")
    defaults = FaultRates(drop_request=0.03, drop_response=0.03, duplicate=0.03, delay=0.05,
                          cut_upload=0.1, max_delay=0.5)
    for name in ("drop_request", "drop_response", "duplicate", "delay", "cut_upload",
                 "max_delay"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float,
                            default=getattr(defaults, name),
                            help=f"proxy fault rate (default {getattr(defaults, name)})")
    args = parser.parse_args(argv)
    rates = FaultRates(drop_request=args.drop_request, drop_response=args.drop_response,
                       duplicate=args.duplicate, delay=args.delay, cut_upload=args.cut_upload,
                       max_delay=args.max_delay)
    return Options(crews=args.crews, db=args.db, duration=args.duration, workers=args.workers,
                   kill_worker=args.kill_worker, team_size=args.team_size,
                   orders_per_team=args.orders_per_team, seed=args.seed, rates=rates,
                   keep=args.keep)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = run(parse(sys.argv[1:] if argv is None else argv))
    sys.stdout.write(report.render() + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
