"""Scenario 3: memory and start-up of master + 2 workers.

Each subject is launched fresh: start-up is launch → first 200 from /healthz; memory is the PSS of the master and
its workers summed (/proc/<pid>/smaps_rollup), read once both workers are up and have served a warm-up of events,
so their lazily loaded code is counted. The bot runs with the Procfile's settings (preload_app on); peer B runs
without preload (each worker imports lark-oapi itself) and, for reference, with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench import events, load, procs
from bench.plan import Plan
from bench.rig import Rig

WORKERS = 2
WARMUP_EVENTS = 400
SUBJECTS = ("bot", "B no preload", "B preload")


@dataclass
class Launch:
    startup_s: float
    pss_kib: int
    processes: int


@dataclass
class MemoryRuns:
    runs: dict[str, list[Launch]] = field(default_factory=dict)


def _wait_workers(server: procs.Server, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(procs.children(server.pid)) >= WORKERS:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{server.name}: {WORKERS} workers not up within {timeout_s:.0f} s")


def launch(rig: Rig, subject: str) -> Launch:
    if subject == "bot":
        server = rig.bot("bot-memory")
    else:
        server = rig.peer("B", preload=subject == "B preload", name=subject.replace(" ", "-"))
    try:
        server.start()
        startup = server.healthy_after_s or 0.0
        _wait_workers(server)
        warm = load.run_python(server.port, events.group_messages(server.port, WARMUP_EVENTS), 8, 10.0)
        if warm.non_200:
            raise RuntimeError(f"{subject}: {warm.non_200} warm-up events not answered 200")
        time.sleep(0.3)  # let the workers settle (the bot's maintenance thread starts on the first request)
        pss, count = server.pss_kib()
        return Launch(startup, pss, count)
    finally:
        server.stop()


def measure(rig: Rig, plan: Plan, into: MemoryRuns) -> None:
    subjects = SUBJECTS[:2] if plan.quick else SUBJECTS  # B with preload is for reference only
    for rep in range(plan.memory_reps):
        for subject in subjects:
            found = launch(rig, subject)
            into.runs.setdefault(subject, []).append(found)
            print(f"  3. {subject:<13} rep {rep + 1}: start-up {found.startup_s:5.2f} s, "
                  f"PSS {found.pss_kib / 1024:6.1f} MiB over {found.processes} processes", flush=True)
