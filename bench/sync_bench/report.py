"""Rendering results as Markdown and writing them into bench/README.md between markers."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from bench.sync_bench.stats import ms, ratio

README = Path(__file__).resolve().parents[1] / "README.md"

#: pouchdb-server 4.2 and Kinto 26.5 figures quoted in issue 3 (same machine class and workload).
REFERENCE = {
    "A p50": ("18 ms", "23 ms"),
    "B p50": ("3.0 ms", ""),
    "B pulls/s (32 devices)": ("718/s", "156/s"),
    "C mutations/s (8 devices)": ("3,097/s", "180/s"),
    "C batch p50": ("50 ms", ""),
    "D32 cycles/s": ("177/s", "25/s"),
    "D32 p99": ("0.28 s", "1.6 s"),
    "D128 cycles/s": ("169/s", ""),
    "D128 p99": ("1.04 s", ""),
}


@dataclass
class Row:
    name: str
    ours: str
    floor: str = ""
    overhead: str = ""
    cpu: str = ""
    note: str = ""


def rate(value: float, unit: str = "/s") -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}{unit}"


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} CPUs (nproc), {model}, {memory} RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def table(rows: list[Row]) -> str:
    lines = ["| figure | Fieldsync | floor | server/floor | CPU per op, workers / floor "
             "| pouchdb-server | Kinto | notes |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        pouch, kinto = REFERENCE.get(row.name, ("", ""))
        lines.append(f"| {row.name} | {row.ours} | {row.floor} | {row.overhead} | {row.cpu} "
                     f"| {pouch} | {kinto} | {row.note} |")
    return "\n".join(lines)


def block(database: str, command: str, rows: list[Row], details: list[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"### {database}", "",
        f"Measured {now} on {machine()}.", "",
        f"Command: `{command}`", "",
        table(rows), "",
        *[f"- {line}" for line in details], "",
    ])


def write(database: str, content: str, path: Path = README) -> None:
    """Replace this database's results block in the README (appended when missing)."""
    begin, end = f"<!-- BEGIN RESULTS {database} -->", f"<!-- END RESULTS {database} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{begin}\n{content}\n{end}"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _m: section, text,
                      flags=re.DOTALL)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


__all__ = ["Row", "block", "machine", "ms", "rate", "ratio", "write"]
