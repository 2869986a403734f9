"""Memory: one worker's resident set (RSS) after many mixed requests, and whether it grows.

    python -m benchmarks.memory                          # SQLite, crud and handwritten, 100,000
    python -m benchmarks.memory --db postgres --requests 20000 --servers uvloop

Each variant runs as one pinned uvicorn worker on a fresh copy of the seeded database, as in
`benchmarks.run`. wrk sends a mix of requests (half GET one, a fifth GET a page of 20 with its
total, the rest POST and PATCH in equal parts) in chunks until ``--requests`` have been
answered, then the server's RSS is read from ``/proc``; then the same again. The report gives
the RSS after start-up, after the first and after the second batch, the growth over the second
batch, and each variant's RSS against ``handwritten``'s.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .measure import WRK_PRELUDE
from .routes import ROWS, route_for
from .seed import open_store
from .server import HOST, SERVER_CONFIGS, Server, pinning

CHUNK_SECONDS = 20
SOCKET_ERRORS = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
MIX = (("get", 50), ("list", 20), ("create", 15), ("patch", 15))
"""Percent of requests for each route."""


def rss_kib(pid: int) -> int:
    """The resident set of a process, in KiB (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def mixed_script(db: str, variant: str) -> str:
    """A wrk script sending the mix of `MIX` to ``variant``."""
    rows = ROWS[db]
    page = route_for("list", db, variant).target
    create = '{"name": "%s-%d", "secret_name": "Bench", "age": %d}'
    return f"""-- made by benchmarks/memory.py
{WRK_PRELUDE}
function request()
  counter = counter + 1
  local pick = math.random(100)
  if pick <= {MIX[0][1]} then
    return wrk.format("GET", "/heroes/" .. math.random(1, {rows}))
  elseif pick <= {MIX[0][1] + MIX[1][1]} then
    return wrk.format("GET", "{page}")
  elseif pick <= {MIX[0][1] + MIX[1][1] + MIX[2][1]} then
    local body = string.format('{create}', prefix, counter, math.random(0, 99))
    return wrk.format("POST", "/heroes", headers, body)
  end
  local body = string.format('{{"age": %d}}', math.random(0, 99))
  return wrk.format("PATCH", "/heroes/" .. math.random(1, {rows}), headers, body)
end
"""


def send(wrk: str, pin: list[str], port: int, script: Path, total: int, tag: str) -> int:
    """Send at least ``total`` requests in chunks; return how many failed (non-2xx, errors)."""
    import subprocess

    done = failed = chunk = 0
    while done < total:
        chunk += 1
        command = [
            *pin,
            *(wrk, "-t2", "-c16", f"-d{CHUNK_SECONDS}s", "--timeout", "10s"),
            *("-s", str(script), f"http://{HOST}:{port}/", "--", f"{tag}-{chunk}"),
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        match = re.search(r"(\d+) requests in", out)
        if match is None:
            raise RuntimeError(f"cannot read wrk output:\n{out}")
        done += int(match.group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors = re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
        )
        failed += int(non2xx.group(1)) if non2xx else 0
        failed += sum(int(n) for n in errors.groups()) if errors else 0
        print(f"  batch {tag}: {done:,} requests", file=sys.stderr, flush=True)
    return failed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--variants", default="crud,handwritten")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--servers", default="asyncio", help="asyncio, uvloop or both (a,b)")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("the memory benchmark needs wrk (apt-get install wrk)")
    pins = pinning()
    variants = args.variants.split(",")
    configs = args.servers.split(",")
    unknown = [c for c in configs if c not in SERVER_CONFIGS]
    if unknown:
        sys.exit(f"unknown server configurations {unknown}; choose from {list(SERVER_CONFIGS)}")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    mix = ", ".join(f"{share}% {route}" for route, share in MIX)
    lines = [
        f"RSS of one uvicorn worker in MiB: after start-up, after {args.requests:,} mixed "
        f"requests ({mix}; wrk -t2 -c16), and after {args.requests:,} more.",
        "",
        "| database | server | variant | start | after 1st batch | after 2nd batch "
        "| growth over 2nd | vs handwritten (1st) | failed |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for db in dbs:
        with (
            tempfile.TemporaryDirectory(prefix=f"mem-{db}-") as tmp,
            open_store(db, Path(tmp)) as store,
        ):
            if store is None:
                continue
            print(f"{db}: seeding {ROWS[db]:,} heroes...", file=sys.stderr, flush=True)
            store.prepare(ROWS[db])
            for config in configs:
                first: dict[str, float] = {}
                rows = []
                for variant in variants:
                    name = f"mem_{variant}_{config}"
                    url = store.fresh(name)
                    script = Path(tmp) / f"{name}.lua"
                    script.write_text(mixed_script(db, variant))
                    log = Path(tmp) / f"{name}.log"
                    try:
                        with Server(variant, url, pins.server, log, config=config) as server:
                            start = rss_kib(server.pid) / 1024
                            failed = send(wrk, pins.load, server.port, script, args.requests, "a")
                            one = rss_kib(server.pid) / 1024
                            print(f"{variant}: RSS {one:.1f} MiB", file=sys.stderr)
                            failed += send(wrk, pins.load, server.port, script, args.requests, "b")
                            two = rss_kib(server.pid) / 1024
                            print(f"{variant}: RSS {two:.1f} MiB", file=sys.stderr)
                    finally:
                        store.drop(name)
                    first[variant] = one
                    rows.append((variant, start, one, two, failed))
                for variant, start, one, two, failed in rows:
                    base = first.get("handwritten")
                    ratio = f"{one / base:.2f}×" if base else ""
                    lines.append(
                        f"| {db} | {config} | {variant} | {start:.1f} | {one:.1f} | {two:.1f} "
                        f"| {two - one:+.1f} ({(two - one) / one:+.1%}) | {ratio} | {failed} |"
                    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
