"""Export: rows per second and the server's memory growth while it streams 1,000,000 rows.

    python -m benchmarks.export                      # SQLite and PostgreSQL, 1,000,000 rows
    python -m benchmarks.export --db sqlite --rows 200000 --runs 1

It seeds ``export_rows`` (six columns) with ``--rows`` rows, serves `benchmarks.apps.export`
with uvicorn pinned to one core, and downloads each export from another core: the router's
``GET /rows/export`` (NDJSON, and CSV), and ``GET /hand/export``, a hand-written
`StreamingResponse` over ``stream_scalars`` that writes one line per row. Rows per second is
the rows received over the wall time of the download; the RSS growth is the server's peak
resident memory during the download (sampled from ``/proc`` every 20 ms) over its resident
memory just before. Each run counts the rows it received, so an incomplete export fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from .server import HOST, Server, pinning

DOWNLOADS = (("crud ndjson", "/rows/export"), ("crud csv", "/rows/export?format=csv"),
             ("handwritten ndjson", "/hand/export"))  # fmt: skip


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def seed(url: str, rows: int) -> None:
    import os

    from sqlalchemy import insert

    from crudrouter_sqla.core import Database

    from .apps import URL_VARIABLE

    os.environ[URL_VARIABLE] = url
    from .apps.export import Base, Row

    db = Database(url)
    start = datetime(2026, 1, 1)
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        for low in range(0, rows, 20_000):
            batch = [
                {
                    "id": i + 1,
                    "name": f"row {i}",
                    "amount": (i * 7919) % 100_000,
                    "active": i % 3 != 0,
                    "note": None if i % 5 == 0 else f"note {i % 97}",
                    "created_at": start + timedelta(seconds=i),
                }
                for i in range(low, min(low + 20_000, rows))
            ]
            await connection.execute(insert(Row.__table__), batch)
    await db.dispose()


def download(port: int, path: str, pid: int) -> tuple[int, float, float]:
    """(lines received, wall seconds, peak RSS growth in MiB) of one download."""
    before = rss_mib(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = 0
    started = time.perf_counter()
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=None) as client:
        with client.stream("GET", path) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return lines, wall, peak - before


def measure(url: str, rows: int, runs: int, log: Path) -> list[str]:
    pins = pinning()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in DOWNLOADS}
    with Server("export", url, pins.server, log) as server:
        for _ in range(runs):
            for name, path in DOWNLOADS:
                got, wall, growth = download(server.port, path, server.pid)
                want = rows + (1 if "csv" in name else 0)
                if got != want:
                    raise RuntimeError(f"{name}: {got} lines, expected {want}")
                results[name].append((rows / wall, growth))
    hand = statistics.median(r for r, _ in results["handwritten ndjson"])
    lines = []
    for name, _ in DOWNLOADS:
        rate = statistics.median(r for r, _ in results[name])
        growth = statistics.median(g for _, g in results[name])
        lines.append(f"| {name} | {rate:,.0f} | {rate / hand:.2f}x | {growth:.1f} MiB |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    header = [
        "| download | rows/s (median) | vs handwritten | server RSS growth (median) |",
        "|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        for db in args.db.split(","):
            if db == "sqlite":
                url = f"sqlite+aiosqlite:///{tmp}/export.db"
                asyncio.run(seed(url, args.rows))
                body = measure(url, args.rows, args.runs, log)
                title = "SQLite"
            else:
                from tests.support.pg import PostgresServer, find_pg_bindir

                if find_pg_bindir() is None:
                    print("no PostgreSQL server binaries", file=sys.stderr)
                    return 1
                with PostgresServer() as pg:
                    pg.create_database("export")
                    url = pg.url("export")
                    asyncio.run(seed(url, args.rows))
                    body = measure(url, args.rows, args.runs, log)
                    title = f"PostgreSQL {pg.version}"
            print(f"\n{title}, {args.rows:,} rows, {args.runs} runs each:\n")
            print("\n".join([*header, *body]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
