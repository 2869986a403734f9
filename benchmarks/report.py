"""The markdown report: medians per route and variant, the ratio to handwritten, the machine."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from .measure import Measurement
from .routes import BASELINE, PEERS, TARGETS, caveat
from .server import uvicorn_flags


@dataclass
class DbResult:
    """All measurements on one database: ``runs[(variant, route)]`` holds one per round."""

    db: str
    db_version: str
    rows: int
    routes: Sequence[str]
    variants: Sequence[str]
    runs: dict[tuple[str, str], list[Measurement]] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    server: str = "asyncio"
    """The uvicorn configuration, a key of `benchmarks.server.SERVER_CONFIGS`."""


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def source_version(root: Path) -> str:
    """The commit of the code measured, and whether the work tree had changes on top of it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "crudrouter_sqla"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git work tree)"
    return f"{commit} + uncommitted changes" if dirty else commit


def machine(driver: str, uvicorn: str, pinning: str, command: str, root: Path) -> list[str]:
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("fastapi", "sqlalchemy", "pydantic", "uvicorn")
    )
    return [
        f"- nproc: {os.cpu_count()}; CPU: {cpu_model()}",
        f"- crudrouter_sqla at {source_version(root)}",
        f"- Python {platform.python_version()}; {versions}",
        f"- uvicorn {uvicorn}; one worker; {pinning}",
        f"- load generator: {driver}",
        f"- command: `{command}`",
    ]


def table(result: DbResult) -> list[str]:
    lines = [
        "| route | variant | req/s | min–max | p50 ms | p99 ms | req/s vs handwritten "
        "| server CPU µs/req | non-2xx | errors | other CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for route in result.routes:
        base = result.runs.get((BASELINE, route))
        base_rps = _median([m.rps for m in base]) if base else math.nan
        for variant in result.variants:
            runs = result.runs.get((variant, route), [])
            if not runs:
                continue
            rps = _median([m.rps for m in runs])
            ratio = f"{rps / base_rps:.2f}×" if base_rps and not math.isnan(base_rps) else "n/a"
            mark = ""
            if note := caveat(variant, route):
                notes.append(f"{variant} / {route}: {note}")
                mark = f" [{len(notes)}]"
            low, high = min(m.rps for m in runs), max(m.rps for m in runs)
            lines.append(
                f"| {route} | {variant}{mark} | {rps:,.0f} | {low:,.0f}–{high:,.0f} "
                f"| {_median([m.p50_ms for m in runs]):.2f} "
                f"| {_median([m.p99_ms for m in runs]):.2f} | {ratio} "
                f"| {_median([m.server_us for m in runs]):,.0f} "
                f"| {sum(m.non2xx for m in runs)} | {sum(m.errors for m in runs)} "
                f"| {_median([m.foreign_cores for m in runs]):.2f} |"
            )
    lines += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    samples = [m.sample for runs in result.runs.values() for m in runs if m.sample]
    if samples:
        lines += ["", f"First failure seen: `{samples[0]}`"]
    return lines


@dataclass(frozen=True)
class Ratio:
    """crud against one peer on one route, one value per round (paired within the round)."""

    values: list[float]
    target: float

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def held(self) -> float:
        """The ratio that held in every round: the least of them."""
        return min(self.values)

    def cell(self) -> str:
        mark = "✓" if self.held >= self.target else "✗"
        low, high = min(self.values), max(self.values)
        return f"{self.median:.2f}× ({low:.2f}–{high:.2f}) {mark}"


def ratios(result: DbResult, route: str, peer: str, cpu: bool = False) -> Ratio | None:
    """crud's req/s over the peer's, round by round; with ``cpu``, the peer's server CPU per
    request over crud's (above 1: crud spends less CPU on a request)."""
    ours = result.runs.get(("crud", route), [])
    theirs = result.runs.get((peer, route), [])
    if not ours or not theirs:
        return None
    pairs = list(zip(ours, theirs, strict=False))
    if cpu:
        values = [t.server_us / o.server_us for o, t in pairs if o.server_us and t.server_us]
    else:
        values = [o.rps / t.rps for o, t in pairs if t.rps]
    values = [v for v in values if not math.isnan(v)]
    return Ratio(values, TARGETS[peer]) if values else None


def ratio_table(result: DbResult, cpu: bool = False) -> list[str]:
    peers = [p for p in PEERS if p in result.variants]
    if "crud" not in result.variants or not peers:
        return []
    lines = [
        "| route | " + " | ".join(f"crud vs {p}" for p in peers) + " |",
        "|---|" + "---:|" * len(peers),
    ]
    for route in result.routes:
        cells = []
        for peer in peers:
            ratio = ratios(result, route, peer, cpu)
            cells.append(ratio.cell() if ratio else "")
        lines.append(f"| {route} | " + " | ".join(cells) + " |")
    return lines


def quietness(result: DbResult) -> str:
    foreign = [m.foreign_cores for runs in result.runs.values() for m in runs]
    if not foreign:
        return ""
    text = (
        f"Other programs on the machine used a median {statistics.median(foreign):.2f} and at "
        f"most {max(foreign):.2f} CPU cores during the measurements (column *other CPU*)"
    )
    if statistics.median(foreign) >= 0.1:
        return text + ": **the machine was not quiet; treat these numbers as rough.**"
    return text + "."


def rounds(result: DbResult) -> list[str]:
    count = max((len(runs) for runs in result.runs.values()), default=0)
    head = " | ".join(f"round {i}" for i in range(1, count + 1))
    lines = [f"| route | variant | {head} |", "|---|---|" + "---:|" * count]
    for route in result.routes:
        for variant in result.variants:
            runs = result.runs.get((variant, route), [])
            cells = " | ".join(f"{m.rps:,.0f}" for m in runs)
            lines.append(f"| {route} | {variant} | {cells} |")
    return lines


TARGET_TEXT = ", ".join(f"{TARGETS[p]:g}× {p}" for p in PEERS)


def render(result: DbResult, settings: str, machine_lines: list[str]) -> str:
    title = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[result.db]
    flags = " ".join(uvicorn_flags(result.server))
    lines = [
        f"## {title}: {result.rows:,} heroes ({result.db_version}), uvicorn `{flags}`",
        "",
        f"{settings}. Medians over the rounds, with the least and the most; the ratio is req/s "
        f"against `{BASELINE}`.",
        "",
        *table(result),
        "",
        quietness(result),
        "",
        "Ratios of crud to each peer, paired round by round: the median, (the least – the "
        f"most) over the rounds, and ✓ where the target ({TARGET_TEXT}) held in every round, "
        "✗ where it did not. A ratio *held* is the least one.",
        "",
        "req/s:",
        "",
        *ratio_table(result),
        "",
        "Server CPU time per request (the peer's µs over crud's; steadier than req/s on a "
        "shared machine):",
        "",
        *ratio_table(result, cpu=True),
        "",
        "<details><summary>req/s per round</summary>",
        "",
        *rounds(result),
        "",
        "</details>",
        "",
        f"Machine and software ({result.seconds / 60:.1f} min for this database):",
        "",
        *machine_lines,
        *[f"- {note}" for note in result.notes],
        "",
    ]
    return "\n".join(lines)


def write(results: list[DbResult], directory: Path, settings: str, machine_lines: list[str]) -> str:
    """Write ``<date>-<db>.md`` for each database and ``latest.md`` for all; return the latter."""
    stamp = time.strftime("%Y-%m-%d")
    variants = ", ".join(results[0].variants)
    header = f"# Benchmark {time.strftime('%Y-%m-%d %H:%M')}: {variants}\n\n"
    directory.mkdir(parents=True, exist_ok=True)
    sections = []
    by_db: dict[str, list[str]] = {}
    for result in results:
        section = render(result, settings, machine_lines)
        by_db.setdefault(result.db, []).append(section)
        sections.append(section)
    for db, parts in by_db.items():
        _write(directory / f"{stamp}-{db}.md", header + "\n".join(parts))
    text = header + "\n".join(sections)
    _write(directory / "latest.md", text)
    return text


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
