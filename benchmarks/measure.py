"""One measurement of one route: a 2 s warm-up, then ``duration`` seconds, by wrk or loadgen."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .routes import BULK_ROWS, Route
from .server import HOST, ROOT

WARMUP = 2.0


@dataclass(frozen=True)
class Measurement:
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    errors: int
    sample: str | None = None
    foreign_cores: float = 0.0
    """CPU other programs used meanwhile, in cores (see `benchmarks.noise`)."""
    server_us: float = math.nan
    """The server process's CPU time per request, in microseconds."""


@dataclass(frozen=True)
class Driver:
    """How load is generated: ``wrk`` (path to the binary) or the Python generator (``None``)."""

    wrk: str | None
    pin: list[str]
    connections: int
    duration: float
    workdir: Path
    threads: int = 2

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "python (benchmarks/loadgen.py)"

    def measure(
        self, port: int, route: Route, db: str, variant: str, start: Callable[[], None]
    ) -> Measurement:
        """Warm up, call ``start``, then measure (warm-up failures are added to the counts)."""
        prefix = f"{variant}-{uuid.uuid4().hex[:12]}"
        if self.wrk is None:
            warm = self._loadgen(port, route, db, variant, WARMUP, f"{prefix}-warm")
            start()
            measured = self._loadgen(port, route, db, variant, self.duration, prefix)
        else:
            script = self.workdir / f"{route.name}.lua"
            script.write_text(wrk_script(route))
            warm = self._wrk(port, script, WARMUP, f"{prefix}-warm")
            start()
            measured = self._wrk(port, script, self.duration, prefix)
        return dataclasses.replace(
            measured,
            non2xx=measured.non2xx + warm.non2xx,
            errors=measured.errors + warm.errors,
            sample=measured.sample or warm.sample,
        )

    def _loadgen(
        self, port: int, route: Route, db: str, variant: str, seconds: float, prefix: str
    ) -> Measurement:
        command = [
            *self.pin,
            sys.executable,
            *("-m", "benchmarks.loadgen", "--port", str(port), "--route", route.name),
            *("--db", db, "--variant", variant, "--connections", str(self.connections)),
            *("--warmup", "0", "--duration", str(seconds), "--prefix", prefix),
        ]
        out = _run(command, seconds + 60)
        data = json.loads(out.strip().splitlines()[-1])
        return Measurement(
            data["rps"],
            data["p50_ms"],
            data["p99_ms"],
            data["non2xx"],
            data["errors"],
            data["sample"] or (str(data["error_kinds"]) if data["errors"] else None),
        )

    def _wrk(self, port: int, script: Path, seconds: float, prefix: str) -> Measurement:
        assert self.wrk is not None
        command = [
            *self.pin,
            self.wrk,
            f"-t{min(self.threads, self.connections)}",
            *(f"-c{self.connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"),
            *("-s", str(script), f"http://{HOST}:{port}/", "--", prefix),
        ]
        return parse_wrk(_run(command, seconds + 60))


def _run(command: list[str], timeout: float) -> str:
    proc = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def wrk_script(route: Route) -> str:
    """A wrk Lua script making ``route``'s requests: random ids, unique names for creates."""
    before, _, after = route.target.partition("{id}")
    target = f'"{before}"'
    if "{id}" in route.target:
        target += f' .. math.random(1, {route.rows}) * {route.step} .. "{after}"'
    body = "nil"
    if route.body == "create":
        body = (
            'string.format(\'{"name": "%s-%d", "secret_name": "Bench", "age": %d}\', '
            "prefix, counter, math.random(0, 99))"
        )
    elif route.body == "patch":
        body = "string.format('{\"age\": %d}', math.random(0, 99))"
    elif route.body == "bulk":
        body = "bulk_body()"
    return f"""-- made by benchmarks/measure.py for route {route.name}
{WRK_PRELUDE}
function bulk_body()
  local parts = {{}}
  for i = 1, {BULK_ROWS} do
    counter = counter + 1
    parts[i] = string.format('{{"name": "%s-b%d", "secret_name": "Bench", "age": %d}}',
      prefix, counter, math.random(0, 99))
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

function request()
  counter = counter + 1
  return wrk.format("{route.method}", {target}, headers, {body})
end
"""


WRK_PRELUDE = """local headers = {["Content-Type"] = "application/json"}
local threads = 0
prefix = "bench"
counter = 0

-- Each wrk thread has a Lua state of its own: number them, so that names made by different
-- threads (prefix-t<thread>-<counter>) never collide, and seed each one differently.
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  prefix = args[1] .. "-t" .. (thread_no or 0)
  local seed = 0
  for i = 1, #prefix do seed = (seed * 31 + prefix:byte(i)) % 2147483647 end
  math.randomseed(seed)
end
"""
"""The start of every wrk script: per-thread name prefixes and random seeds."""


_TIME = re.compile(r"([\d.]+)(us|ms|s|m|h)\b")
_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"cannot read wrk time {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(out: str) -> Measurement:
    """Read req/s, p50, p99, non-2xx and socket errors from ``wrk --latency`` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return Measurement(
        float(rps.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(n) for n in sockets.groups()) if sockets else 0,
    )
