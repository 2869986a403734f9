"""A small HTTP/1.1 keep-alive load generator on asyncio streams, used when wrk is missing.

It runs in its own process (the runner pins it to a core of its own) and prints one JSON object:
requests per second, p50 and p99 latency, status counts and errors, for the measured window only
(the warm-up before it is discarded)::

    python -m benchmarks.loadgen --port 8000 --route get --db sqlite --variant crud
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .routes import ROUTES, VARIANTS, Request, RequestMaker, route_for

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 10.0


class ProtocolError(Exception):
    """The server answered in a way this client does not read (say, a chunked body)."""


@dataclass
class Tally:
    """What the connections saw: latencies (ns) and statuses of the measured window."""

    latencies: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_non2xx: int = 0
    sample: str | None = None

    def non2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


def encode(request: Request, host: str) -> bytes:
    head = f"{request.method} {request.target} HTTP/1.1\r\nHost: {host}\r\n"
    if request.body is None:
        return (head + "\r\n").encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(request.body)}\r\n\r\n"
    return head.encode() + request.body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Read one response: its status, whether the connection stays open, and its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding":
            raise ProtocolError("chunked responses are not supported")
    body = await reader.readexactly(length) if length else b""
    return status, keep, body


async def drive(
    port: int, maker: RequestMaker, measure_from: int, stop_at: int, tally: Tally
) -> None:
    """One connection: send requests back to back until ``stop_at`` (perf_counter_ns).

    A response counts when it arrives inside ``[measure_from, stop_at]``; errors reconnect.
    """
    host = f"{HOST}:{port}"
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while (now := time.perf_counter_ns()) < stop_at:
        timeout = min(REQUEST_TIMEOUT, (stop_at - now) / 1e9 + 5.0)
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
            reader, writer = conn
            start = time.perf_counter_ns()
            writer.write(encode(maker.next(), host))
            status, keep, body = await asyncio.wait_for(read_response(reader), timeout)
            end = time.perf_counter_ns()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError, ValueError) as e:
            tally.errors[type(e).__name__] += 1
            if conn is not None:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.01)
            continue
        if measure_from <= end <= stop_at:
            tally.latencies.append(end - start)
            tally.statuses[status] += 1
            if not 200 <= status < 300 and tally.sample is None:
                tally.sample = f"{status}: {body[:200].decode(errors='replace')}"
        elif not 200 <= status < 300:
            tally.warmup_non2xx += 1
        if not keep:
            writer.close()
            conn = None
    if conn is not None:
        conn[1].close()


def percentile(sorted_ns: list[int], pct: float) -> float:
    """The nearest-rank percentile, in milliseconds (NaN when there are no samples)."""
    if not sorted_ns:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


async def run(args: argparse.Namespace) -> dict[str, Any]:
    route = route_for(args.route, args.db, args.variant)
    tally = Tally()
    measure_from = time.perf_counter_ns() + int(args.warmup * 1e9)
    stop_at = measure_from + int(args.duration * 1e9)
    makers = [
        RequestMaker(route, f"{args.prefix}-{i}", seed=f"{args.prefix}-{i}")
        for i in range(args.connections)
    ]
    tasks = [drive(args.port, maker, measure_from, stop_at, tally) for maker in makers]
    await asyncio.wait_for(asyncio.gather(*tasks), args.warmup + args.duration + 30)
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / args.duration,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "non2xx": tally.non2xx() + tally.warmup_non2xx,
        "errors": sum(tally.errors.values()),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "error_kinds": dict(tally.errors),
        "sample": tally.sample,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--route", choices=ROUTES, required=True)
    parser.add_argument("--db", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--prefix", default="bench", help="start of created heroes' names")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
