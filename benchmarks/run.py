"""Run the benchmark: every variant in its own pinned uvicorn process, alternated over rounds.

    python -m benchmarks.run --db sqlite --duration 5 --rounds 3

Prints the tables and writes ``benchmarks/results/<date>-<db>.md`` and ``latest.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from . import report
from .apps import POOL_VARIABLE
from .measure import WARMUP, Driver, Measurement
from .noise import CpuWatch, cpu_seconds, pin_tree, wait_for_quiet
from .routes import (
    CRUD_FILTER_VARIABLE,
    DEFAULT_ROUTES,
    ROUTES,
    ROWS,
    VARIANTS,
    route_for,
    serves,
)
from .sanity import SanityChecker
from .seed import PostgresStore, SqliteStore, open_store
from .server import ROOT, SERVER_CONFIGS, Pinning, Server, missing_modules, pinning

RESULTS = ROOT / "benchmarks" / "results"
# Reads run before writes on each server, so rows created while measuring never slow its reads.
# Reads first, then writes, so that creates do not change what the reads measure.
ORDER = (
    "get",
    "list",
    "list_deep",
    "list_filtered",
    "list_nocount",
    "keyset_deep",
    "get_team",
    "list_team",
    "get_tenant",
    "list_tenant",
    "create",
    "bulk_create",
    "patch",
)
NOISY = 0.1  # cores of CPU used by other programs during a measurement worth a warning
START_COST = 3.0  # seconds to start, check and stop one server, for the time estimate


def _names(allowed: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}, got {text!r}")
        return names

    return parse


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"worker counts such as 1,2,4, got {text!r}")
    return counts


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--routes",
        type=_names(ROUTES),
        default=list(DEFAULT_ROUTES),
        help=f"comma-separated, from {','.join(ROUTES)} (default {','.join(DEFAULT_ROUTES)})",
    )
    parser.add_argument("--variants", type=_names(VARIANTS), default=list(VARIANTS))
    parser.add_argument(
        "--servers",
        type=_names(tuple(SERVER_CONFIGS)),
        default=list(SERVER_CONFIGS),
        help="uvicorn configurations: asyncio (--loop asyncio --http h11) and uvloop "
        "(--loop uvloop --http httptools, what uvicorn[standard] gives); default both",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="auto: wrk when installed, else the Python generator",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other programs to leave the "
        f"CPUs alone (under {NOISY} cores); default 0: do not wait",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        metavar="N",
        help="pool_size=N, max_overflow=0 for every variant (default: Database's, 15 kept)",
    )
    parser.add_argument(
        "--crud-custom-filter",
        action="store_true",
        help="crud's list_filtered filters by a custom dependency and does not sort, instead "
        "of using CRUDRouter's query language",
    )
    parser.add_argument(
        "--workers",
        type=_counts,
        metavar="N[,N...]",
        help="worker scaling instead of the side-by-side tables: the crud app under "
        "`uvicorn --workers N` on PostgreSQL for each N (such as 1,2,4); routes default to "
        "get,list_nocount,create",
    )
    args = parser.parse_args(argv)
    if args.workers and "--routes" not in " ".join(argv):
        args.routes = ["get", "list_nocount", "create"]
    if (
        args.duration <= 0
        or args.rounds < 1
        or args.connections < 1
        or args.threads < 1
        or args.pool_size == 0
    ):
        parser.error(
            "--duration, --rounds, --connections, --threads and --pool-size must be positive"
        )
    args.routes = [name for name in ORDER if name in args.routes]
    return args


class Progress:
    """One line per measurement on stderr, with a rough estimate of the time left."""

    def __init__(self, total: int, seconds_each: float) -> None:
        self.total, self.done, self.each = total, 0, seconds_each

    def step(self, label: str, m: Measurement) -> None:
        self.done += 1
        left = (self.total - self.done) * self.each
        bad = f"  non-2xx {m.non2xx} errors {m.errors}" if m.non2xx or m.errors else ""
        if m.foreign_cores >= NOISY:
            bad += f"  (other programs used {m.foreign_cores:.2f} cores)"
        print(
            f"[{self.done}/{self.total} ~{left / 60:.1f} min left] {label:<34} "
            f"{m.rps:9,.0f} req/s  p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms  "
            f"server {m.server_us:6.0f} us/req{bad}",
            file=sys.stderr,
            flush=True,
        )


@dataclasses.dataclass
class Bench:
    args: argparse.Namespace
    pins: Pinning
    driver: Driver
    progress: Progress

    def database(self, db: str) -> list[report.DbResult]:
        """Seed ``db`` once, then measure every round, server configuration and variant on
        fresh copies of it; one result per server configuration."""
        args, started = self.args, time.monotonic()
        with (
            tempfile.TemporaryDirectory(prefix=f"bench-{db}-") as tmp,
            open_store(db, Path(tmp)) as store,
        ):
            if store is None:
                return []
            print(f"{db}: seeding {ROWS[db]:,} heroes...", file=sys.stderr, flush=True)
            store.prepare(ROWS[db])
            results = {
                config: report.DbResult(
                    db, store.version(), ROWS[db], args.routes, args.variants, server=config
                )
                for config in args.servers
            }
            if self.pins.load_cpu is not None and store.pids():
                # Keep PostgreSQL off the server's core: it shares the load generator's.
                for result in results.values():
                    result.notes.append(
                        f"PostgreSQL pinned to core {self.pins.load_cpu}, with the load"
                    )
                pin_tree(store.pids(), self.pins.load_cpu)
            checker = SanityChecker(db)
            for round_no in range(1, args.rounds + 1):
                for config in args.servers:
                    # Alternate: each round starts with a different variant.
                    shift = (round_no - 1) % len(args.variants)
                    for variant in [*args.variants[shift:], *args.variants[:shift]]:
                        self.variant(store, Path(tmp), variant, round_no, checker, results[config])
            for result in results.values():
                result.seconds = time.monotonic() - started
            return list(results.values())

    def variant(
        self,
        store: SqliteStore | PostgresStore,
        workdir: Path,
        variant: str,
        round_no: int,
        checker: SanityChecker,
        result: report.DbResult,
    ) -> None:
        """Start ``variant`` on a fresh copy of the database, check it, measure each route."""
        db, config = result.db, result.server
        name = f"{variant}_{config}_r{round_no}"
        routes = [route_for(r, db, variant) for r in self.args.routes if serves(variant, r)]
        if not routes:
            return
        roots = {os.getpid(), *store.pids()}
        url = store.fresh(name)
        log = workdir / f"{name}.log"
        try:
            with Server(variant, url, self.pins.server, log, config=config) as server:
                checker.check(server.port, variant, routes)
                for route in routes:
                    if self.args.quiet_wait > 0:
                        wait_for_quiet(roots, self.args.quiet_wait, NOISY)
                    try:
                        m = measure(self.driver, server, route.name, db, variant, roots)
                    except Exception:
                        print(f"{variant} server log:\n{server.log_tail()}", file=sys.stderr)
                        raise
                    result.runs.setdefault((variant, route.name), []).append(m)
                    self.progress.step(f"{db} {config} r{round_no} {variant} {route.name}", m)
        finally:
            store.drop(name)


def measure(
    driver: Driver, server: Server, route: str, db: str, variant: str, roots: set[int]
) -> Measurement:
    """Measure one route; also the server's CPU per request and other programs' CPU."""
    watch = CpuWatch(roots)
    server_cpu = 0.0

    def start() -> None:
        nonlocal server_cpu
        watch.restart()
        server_cpu = cpu_seconds(server.pid)

    m = driver.measure(server.port, route_for(route, db, variant), db, variant, start)
    used = cpu_seconds(server.pid) - server_cpu
    requests = m.rps * driver.duration
    return dataclasses.replace(
        m,
        foreign_cores=watch.foreign_cores(),
        server_us=used / requests * 1e6 if requests else math.nan,
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.workers:
        from .workers import run_workers

        run_workers(args)
        return
    # Ctrl-C and SIGTERM both unwind through the `with` blocks that stop servers (SIGINT is
    # set explicitly: a shell starts background jobs with it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    # Read here and inherited by the crud server (see `benchmarks.routes`).
    os.environ[CRUD_FILTER_VARIABLE] = "custom" if args.crud_custom_filter else "query-language"
    os.environ.pop(POOL_VARIABLE, None)
    if args.pool_size:
        os.environ[POOL_VARIABLE] = str(args.pool_size)
    for config in args.servers:
        if missing := missing_modules(config):
            names = " ".join(missing)
            sys.exit(f"--servers {config} needs {names}: ./scripts/bench installs them")
    if "fastcrud" in args.variants and importlib.util.find_spec("fastcrud") is None:
        sys.exit("the fastcrud variant needs FastCRUD: ./scripts/bench installs it")
    pins = pinning()
    wrk = shutil.which("wrk") if args.loadgen != "python" else None
    if args.loadgen == "wrk" and wrk is None:
        sys.exit("--loadgen wrk: wrk is not installed (apt-get install wrk)")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    each = WARMUP + args.duration
    served = sum(serves(v, r) for v in args.variants for r in args.routes)
    count = len(dbs) * len(args.servers) * args.rounds * served
    progress = Progress(count, each + START_COST * len(args.variants) / max(served, 1))
    print(
        f"{count} measurements of {each:g} s: about {count * progress.each / 60:.0f} min "
        "plus seeding",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        driver = Driver(wrk, pins.load, args.connections, args.duration, Path(tmp), args.threads)
        bench = Bench(args, pins, driver, progress)
        results = [r for db in dbs for r in bench.database(db)]
    if not results:
        sys.exit("nothing was measured")
    command = os.environ.get("BENCH_COMMAND") or shlex.join(
        ["python", "-m", "benchmarks.run", *sys.argv[1:]]
    )
    load = f"{driver.name} ({args.threads} threads)" if wrk else driver.name
    machine = report.machine(load, "configuration in each title", pins.text, command, ROOT)
    pool = f"pool_size={args.pool_size}" if args.pool_size else "the default pool (15 kept)"
    settings = (
        f"{args.rounds} round(s) alternating the variants, {args.duration:g} s per measurement "
        f"after a {WARMUP:g} s warm-up, {args.connections} connections, {pool}"
    )
    print(report.write(results, RESULTS, settings, machine))
    print(f"written to {RESULTS.relative_to(ROOT)}/latest.md", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; servers stopped")
