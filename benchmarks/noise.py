"""How much CPU other programs took while a measurement ran (the machine may be shared).

Foreign CPU = all CPU time the kernel counted (steal included) minus the time of the benchmark's
own processes: the runner's children (server, load generator) and the PostgreSQL server.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _busy_seconds() -> float:
    # cpu  user nice system idle iowait irq softirq steal ...
    fields = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / TICK


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds) for every process that can be read."""
    table: dict[int, tuple[int, float]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK)
    return table


def _tree_cpu(table: dict[int, tuple[int, float]], roots: set[int]) -> dict[int, float]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _cpu) in table.items():
        children.setdefault(parent, []).append(pid)
    found: dict[int, float] = {}
    todo = [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found[pid] = table[pid][1]
            todo.extend(children.get(pid, []))
    return found


def pin_tree(roots: set[int], cpu: int) -> None:
    """Pin processes and their descendants (threads too) to one CPU; later forks inherit it."""
    for pid in _tree_cpu(_processes(), roots):
        try:
            for task in (PROC / str(pid) / "task").iterdir():
                os.sched_setaffinity(int(task.name), {cpu})
        except OSError:
            continue


def postmaster_for_port(port: int) -> int | None:
    """The pid of the PostgreSQL server listening on ``port``, from its postmaster.pid."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-D" in args[:-1] and args[0].endswith(b"postgres"):
            pidfile = Path(os.fsdecode(args[args.index(b"-D") + 1])) / "postmaster.pid"
            try:
                lines = pidfile.read_text().splitlines()
            except OSError:
                continue
            if len(lines) > 3 and lines[3].strip() == str(port):
                return int(lines[0])
    return None


def cpu_seconds(pid: int) -> float:
    """The CPU time of one process and its descendants (threads included)."""
    return sum(_tree_cpu(_processes(), {pid}).values())


@dataclass
class CpuWatch:
    """Started before a measurement and read after it: foreign CPU in cores (0.0 = quiet)."""

    roots: set[int]

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.wall = time.monotonic()
        self.busy = _busy_seconds()
        self.ours = _tree_cpu(_processes(), self.roots)
        times = os.times()
        self.children = times.children_user + times.children_system

    def foreign_cores(self) -> float:
        wall = time.monotonic() - self.wall
        busy = _busy_seconds() - self.busy
        now = _tree_cpu(_processes(), self.roots)
        ours = sum(cpu - self.ours.get(pid, 0.0) for pid, cpu in now.items())
        times = os.times()
        ours += times.children_user + times.children_system - self.children
        return max(0.0, (busy - ours) / wall) if wall > 0 else 0.0


def wait_for_quiet(roots: set[int], budget: float, threshold: float) -> float:
    """Wait (at most ``budget`` seconds) until other programs use under ``threshold`` cores.

    Returns the last reading, taken over one second.
    """
    deadline = time.monotonic() + budget
    while True:
        watch = CpuWatch(roots)
        time.sleep(1.0)
        foreign = watch.foreign_cores()
        if foreign < threshold or time.monotonic() >= deadline:
            return foreign
