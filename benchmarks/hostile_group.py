"""Server CPU of the costliest query string a list route takes, with PostgreSQL's JIT on and off.

    python -m benchmarks.hostile_group            # 3 requests each way
    python -m benchmarks.hostile_group --runs 5

It starts a throwaway PostgreSQL server, serves ``examples.heroes`` on it in process, and sends
``GET /heroes`` with each of the ``or``, ``and`` and ``not`` parameters holding the longest group
of to-many conditions one parameter may hold (2,000 characters of nested ``tags.slug``
conditions, each an ``EXISTS``). The table has the example's 12 heroes. Server CPU is the CPU
time of the one backend serving the request (a pool of one connection), read from ``/proc``
before and after; ``jit on`` is the server's default, which ``Database`` turns off unless
``connect_args`` sets it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import httpx
from sqlalchemy import text

from crudrouter_sqla.core import Database

from .noise import cpu_seconds


def hostile_group(budget: int = 2000) -> str:
    """The longest group of to-many conditions, nested, that one parameter may hold."""
    parts: list[str] = []
    while True:
        i = len(parts)
        part = f"or(tags.slug=a{i},tags.slug__in=(b{i},c{i}),tags.slug=d{i})"
        if len(f"({','.join([*parts, part])})") > budget:
            return f"({','.join(parts)})"
        parts.append(part)


async def measure(url: str, jit: str | None, runs: int) -> list[tuple[float, float]]:
    """(server CPU seconds, wall seconds) of each request."""
    from examples.heroes import create_app

    # No client timeout: the point is what the server spends.
    options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "command_timeout": None}
    if jit is not None:
        options["connect_args"] = {"server_settings": {"jit": jit}}
    db = Database(url, **options)
    app = create_app(db)
    group = hostile_group()
    found: list[tuple[float, float]] = []
    async with app.router.lifespan_context(app):
        async with db.engine.connect() as connection:
            backend = int((await connection.scalar(text("SELECT pg_backend_pid()"))) or 0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(runs):
                before, start = cpu_seconds(backend), time.perf_counter()
                r = await client.get("/heroes", params={"or": group, "and": group, "not": group})
                wall = time.perf_counter() - start
                if r.status_code != 200:
                    raise RuntimeError(f"{r.status_code} after {wall:.2f} s: {r.text[:300]}")
                found.append((cpu_seconds(backend) - before, wall))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from tests.support.pg import PostgresServer, find_pg_bindir

    if find_pg_bindir() is None:
        print("no PostgreSQL server binaries (apt-get install postgresql)", file=sys.stderr)
        return 1
    with PostgresServer() as server:
        print(f"PostgreSQL {server.version}; GET /heroes with or=, and=, not= of 2,000 characters")
        print("| jit | server CPU s (median) | wall s (median) |")
        print("|---|---:|---:|")
        for name, jit in (("on (the server's default)", "on"), ("off (Database's default)", None)):
            database = f"jit_{jit or 'default'}"
            server.create_database(database)
            runs = asyncio.run(measure(server.url(database), jit, args.runs))
            cpu = statistics.median(c for c, _ in runs)
            wall = statistics.median(w for _, w in runs)
            print(f"| {name} | {cpu:.3f} | {wall:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
