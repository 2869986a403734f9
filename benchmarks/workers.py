"""Worker scaling: the crud app under ``uvicorn --workers N`` against one PostgreSQL server.

    ./scripts/bench --workers 1,2,4 --duration 5 --rounds 2

Nothing is pinned: the workers, the load generator and PostgreSQL share every core, as they do
on a small host. Each worker has its own pool (``pool_size`` + ``max_overflow`` connections),
so the server may see ``N x (pool_size + max_overflow)`` connections; the table says how many.
Writes ``benchmarks/results/<date>-postgres-workers.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from .measure import Driver, Measurement
from .noise import CpuWatch, cpu_seconds
from .report import machine
from .routes import ROWS, route_for
from .seed import open_store
from .server import ROOT, Server, uvicorn_flags

RESULTS = ROOT / "benchmarks" / "results"


def _measure(driver: Driver, server: Server, route: str, roots: set[int]) -> Measurement:
    watch = CpuWatch(roots)
    before = 0.0

    def start() -> None:
        nonlocal before
        watch.restart()
        before = cpu_seconds(server.pid)  # the supervisor and every worker

    m = driver.measure(server.port, route_for(route, "postgres", "crud"), "postgres", "crud", start)
    used = cpu_seconds(server.pid) - before
    requests = m.rps * driver.duration
    server_us = used / requests * 1e6 if requests else float("nan")
    return dataclasses.replace(m, server_us=server_us, foreign_cores=watch.foreign_cores())


def run_workers(args: argparse.Namespace) -> None:
    wrk = shutil.which("wrk") if args.loadgen != "python" else None
    pool = (args.pool_size, 0) if args.pool_size else (15, 0)
    if args.pool_size:
        os.environ["BENCH_POOL_SIZE"] = str(args.pool_size)
    runs: dict[tuple[int, str], list[Measurement]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp,
        open_store("postgres", Path(tmp)) as store,
    ):
        if store is None:
            sys.exit("worker scaling needs PostgreSQL")
        print(f"postgres: seeding {ROWS['postgres']:,} heroes...", file=sys.stderr, flush=True)
        store.prepare(ROWS["postgres"])
        version = store.version()
        driver = Driver(wrk, [], args.connections, args.duration, Path(tmp))
        for round_no in range(1, args.rounds + 1):
            for workers in args.workers:
                name = f"w{workers}_r{round_no}"
                url = store.fresh(name)
                roots = {os.getpid(), *store.pids()}
                try:
                    log = Path(tmp) / f"{name}.log"
                    with Server("crud", url, [], log, workers=workers) as server:
                        for route in args.routes:
                            m = _measure(driver, server, route, roots)
                            runs.setdefault((workers, route), []).append(m)
                            bad = (
                                f" non-2xx {m.non2xx} errors {m.errors}"
                                if m.errors or m.non2xx
                                else ""
                            )
                            print(
                                f"r{round_no} workers={workers} {route:<13} {m.rps:8,.0f} req/s "
                                f"p50 {m.p50_ms:6.2f} ms p99 {m.p99_ms:7.2f} ms "
                                f"other programs {m.foreign_cores:.2f} cores{bad}",
                                file=sys.stderr,
                                flush=True,
                            )
                finally:
                    store.drop(name)
    text = report(args, runs, version, pool, wrk)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.date.today().isoformat()}-postgres-workers.md"
    path.write_text(text)
    print(text)
    print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)


def report(
    args: argparse.Namespace,
    runs: dict[tuple[int, str], list[Measurement]],
    version: str,
    pool: tuple[int, int],
    wrk: str | None,
) -> str:
    per_worker = pool[0] + pool[1]
    lines = [
        f"# Worker scaling on {version}, {ROWS['postgres']:,} rows",
        "",
        f"Medians of {args.rounds} round(s) of {args.duration:g} s, {args.connections} "
        f"connections; pool per worker {pool[0]} + {pool[1]} overflow.",
        "",
        "| workers | route | req/s | p50 ms | p99 ms | server CPU us/req | other programs "
        "(cores) | errors | max DB connections |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers in args.workers:
        for route in args.routes:
            ms = runs.get((workers, route), [])
            if not ms:
                continue
            med = statistics.median
            errors = sum(m.errors + m.non2xx for m in ms)
            lines.append(
                f"| {workers} | {route} | {med(m.rps for m in ms):,.0f} | "
                f"{med(m.p50_ms for m in ms):.2f} | {med(m.p99_ms for m in ms):.2f} | "
                f"{med(m.server_us for m in ms):.0f} | "
                f"{max(m.foreign_cores for m in ms):.2f} | {errors} | {workers * per_worker} |"
            )
    command = os.environ.get("BENCH_COMMAND") or "python -m benchmarks.run " + " ".join(
        sys.argv[1:]
    )
    lines += [
        "",
        "Nothing pinned: workers, load generator and PostgreSQL share the cores. The "
        "`other programs` column is CPU used by programs outside the benchmark; when it is not "
        "near 0 the machine was shared and the req/s are rough.",
        "",
        *[
            line.replace("one worker; ", f"--workers {','.join(map(str, args.workers))}; ")
            for line in machine(
                "wrk" if wrk else "python (benchmarks/loadgen.py)",
                " ".join(uvicorn_flags()),
                "not pinned",
                command,
                ROOT,
            )
        ],
    ]
    return "\n".join(lines) + "\n"
