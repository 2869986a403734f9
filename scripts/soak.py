"""Soak: mixed reads and writes against the heroes example on a throwaway PostgreSQL server.

    ./scripts/soak --workers 2 --minutes 2

Serves the app with ``uvicorn --workers N``; reads follow ``next_cursor`` across pages, so with
several workers a cursor one process made is used on another. Runs for a given number of
minutes or requests (whichever ends first), then reports the error count (5xx, transport errors
and refused cursors; must be 0), latency percentiles, and whether the rows in the table equal
the rows at the start plus the successful creates minus the successful deletes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.pg import PostgresServer  # noqa: E402


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.created: list[int] = []
        self.deleted = 0
        self.cursor_pages = 0
        self.cursor_errors = 0


async def worker(
    client: httpx.AsyncClient, tally: Tally, deadline: float, budget: list[int]
) -> None:
    rng = random.Random()
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        roll = rng.random()
        known = tally.created
        start = time.perf_counter()
        try:
            if roll < 0.20:
                r = await client.get("/heroes", params={"limit": 20, "sort": "-age"})
            elif roll < 0.35:
                # A page and the next two by cursor: each request may reach another worker.
                params = {"limit": 10, "sort": "-age", "count": "none"}
                r = await client.get("/heroes", params=params)
                for _ in range(2):
                    cursor = r.json().get("next_cursor") if r.status_code == 200 else None
                    if cursor is None:
                        break
                    r = await client.get("/heroes", params={**params, "cursor": cursor})
                    tally.cursor_pages += 1
                    if r.status_code != 200:
                        tally.cursor_errors += 1
                        tally.errors += 1
            elif roll < 0.55 and known:
                r = await client.get(f"/heroes/{rng.choice(known)}")
            elif roll < 0.75:
                body = {"name": f"soak-{uuid.uuid4().hex[:12]}", "secret_identity": "s", "age": 30}
                r = await client.post("/heroes", json=body)
                if r.status_code == 201:
                    known.append(r.json()["id"])
            elif roll < 0.90 and known:
                r = await client.patch(
                    f"/heroes/{rng.choice(known)}", json={"age": rng.randint(1, 99)}
                )
            elif known:
                r = await client.delete(f"/heroes/{rng.choice(known)}")
                if r.status_code == 204:
                    tally.deleted += 1
            else:
                continue
        except httpx.HTTPError:
            tally.errors += 1
            continue
        tally.latencies.append(time.perf_counter() - start)
        tally.statuses[r.status_code] = tally.statuses.get(r.status_code, 0) + 1
        if r.status_code >= 500:
            tally.errors += 1


async def total(client: httpx.AsyncClient) -> int:
    r = await client.get("/heroes", params={"count": "exact", "limit": 1})
    r.raise_for_status()
    return int(r.json()["total"])


async def drive(base: str, minutes: float, max_requests: int, connections: int) -> int:
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        before = await total(client)
        tally = Tally()
        deadline = time.monotonic() + minutes * 60
        budget = [max_requests]
        started = time.monotonic()
        await asyncio.gather(*(worker(client, tally, deadline, budget) for _ in range(connections)))
        elapsed = time.monotonic() - started
        after = await total(client)
    creates = len(tally.created)
    expected = before + creates - tally.deleted
    lat = sorted(tally.latencies)
    p50 = statistics.median(lat) * 1000 if lat else 0.0
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else 0.0
    print(f"requests:  {len(lat)} in {elapsed:.0f} s ({len(lat) / elapsed:.0f} req/s)")
    print(f"statuses:  {dict(sorted(tally.statuses.items()))}")
    print(f"errors:    {tally.errors} (5xx, transport errors and refused cursors)")
    print(
        f"cursors:   {tally.cursor_pages} pages followed by cursor, {tally.cursor_errors} refused"
    )
    print(f"latency:   p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"rows:      {after} = {before} at start + {creates} created - {tally.deleted} deleted"
        f" -> {'OK' if after == expected else f'MISMATCH (expected {expected})'}"
    )
    return 0 if tally.errors == 0 and after == expected else 1


async def prepare(url: str) -> None:
    from crudrouter_sqla.core import Database
    from examples import heroes

    db = Database(url)
    try:
        await db.create_all(heroes.Base.metadata)
        await heroes.seed(db)
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    with PostgresServer() as server:
        server.create_database("soak")
        # Tables and seed rows before the workers start, as a migration would: each worker's
        # lifespan then finds them in place instead of racing the others to create them.
        asyncio.run(prepare(server.url("soak")))
        env = {**os.environ, "SQLALCHEMY_URL": server.url("soak")}
        app = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.heroes:app", "--host", "127.0.0.1",
             "--port", str(args.port), "--log-level", "warning",
             "--workers", str(args.workers)],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{args.port}"
            for _ in range(300):
                try:
                    httpx.get(f"{base}/heroes", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            print(f"serving examples.heroes:app with {args.workers} worker(s) on {base}")
            return asyncio.run(drive(base, args.minutes, args.max_requests, args.connections))
        finally:
            app.terminate()
            app.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
