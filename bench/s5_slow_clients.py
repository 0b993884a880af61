"""Scenario 5 — slow clients: `/healthz` and signed events while slow-header and idle connections are held open.

The bot runs as the Procfile runs it (2 workers, bot.serving.BufferingWorker), and, for the "before" column, the
same command with `--worker-class gthread` (what bot/gunicorn_conf.py used before). While `Flood` keeps the
connections open (re-opening those the server closes), one thread probes `/healthz` and another sends signed,
encrypted group messages (distinct event ids, acknowledged without a Feishu call), each on a new connection with
a 3 s timeout. Rows: p50 / p99 / max and failures (no 200 within 3 s), with no flood and during the flood.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench import events, flood
from bench.procs import Server
from bench.report import Row
from bench.rig import Rig

PROBE_TIMEOUT_S = 3.0
TARGET_S = 1.0


@dataclass(frozen=True)
class FloodPlan:
    slow_headers: int
    idle: int
    settle_s: float  # flood fully open before probing
    probe_s: float  # how long the probes run
    probe_interval_s: float


FULL = FloodPlan(slow_headers=500, idle=1000, settle_s=3.0, probe_s=12.0, probe_interval_s=0.1)
QUICK = FloodPlan(slow_headers=100, idle=200, settle_s=1.0, probe_s=3.0, probe_interval_s=0.2)


@dataclass
class SlowRun:
    subject: str  # "bot" (BufferingWorker) or "gthread" (before)
    flooded: bool
    health: flood.Probes
    events: flood.Probes
    flood: flood.FloodStats | None = None
    open_during: int = 0


@dataclass
class SlowRuns:
    plan: FloodPlan | None = None
    runs: list[SlowRun] = field(default_factory=list)


def start_server(rig: Rig, worker_class: str | None) -> Server:
    server = rig.bot(name="bot-gthread" if worker_class else "bot-slow")
    if worker_class:  # a command-line setting wins over the config module's
        server.argv[-1:-1] = ["--worker-class", worker_class]
    return server.start()


def measure_once(server: Server, subject: str, plan: FloodPlan, flooded: bool) -> SlowRun:
    health = flood.Probes("healthz", PROBE_TIMEOUT_S)
    signed = flood.Probes("signed event", PROBE_TIMEOUT_S)
    count = int(plan.probe_s / plan.probe_interval_s) + 1
    messages = events.group_messages(server.port, count)
    run = SlowRun(subject, flooded, health, signed)
    attack = flood.Flood(server.port, plan.slow_headers, plan.idle) if flooded else None
    try:
        if attack is not None:
            attack.start()
            attack.wait_until_open(timeout_s=30.0)
            time.sleep(plan.settle_s)
        probers = [
            threading.Thread(target=flood.probe, args=(server.port, [flood.health_request(server.port)] * count,
                                                       health, plan.probe_interval_s, plan.probe_s)),
            threading.Thread(target=flood.probe, args=(server.port, messages, signed, plan.probe_interval_s,
                                                       plan.probe_s)),
        ]
        for prober in probers:
            prober.start()
        for prober in probers:
            prober.join(plan.probe_s + 2 * PROBE_TIMEOUT_S + 5)
        if attack is not None:
            run.open_during = attack.open_now()
    finally:
        if attack is not None:
            attack.stop()
            run.flood = attack.stats
    return run


def measure(rig: Rig, plan: FloodPlan, found: SlowRuns) -> None:
    found.plan = plan
    for subject, worker_class in (("bot", None), ("gthread", "gthread")):
        server = start_server(rig, worker_class)
        try:
            for flooded in (False, True):
                run = measure_once(server, subject, plan, flooded)
                found.runs.append(run)
                label = f"{plan.slow_headers} slow-header + {plan.idle} idle" if flooded else "no flood"
                print(f"  5. {subject}, {label}: {run.health.summary()}; {run.events.summary()}"
                      + (f"; flood {run.flood}" if run.flood else ""), flush=True)
        finally:
            server.stop()


def _figures(probes: flood.Probes) -> str:
    return (f"{probes.p50_s * 1e3:.0f} / {probes.p99_s * 1e3:.0f} / {probes.max_s * 1e3:.0f}, "
            f"{probes.failures}/{len(probes.latencies_s)} failed")


def rows(found: SlowRuns) -> list[Row]:
    """Per probe kind and flood state: the bot's figures, gthread's (before) in the measure column."""
    plan = found.plan
    if plan is None or not found.runs:
        return []
    out: list[Row] = []
    for flooded in (False, True):
        runs = {r.subject: r for r in found.runs if r.flooded == flooded}
        if "bot" not in runs:
            continue
        when = f"{plan.slow_headers} slow-header + {plan.idle} idle open" if flooded else "no flood"
        for kind in ("health", "events"):
            bot: flood.Probes = getattr(runs["bot"], kind)
            before = f"; gthread (before): {_figures(getattr(runs['gthread'], kind))}" if "gthread" in runs else ""
            met = bot.failures == 0 and bot.max_s < TARGET_S if flooded else None
            out.append(Row("5 slow", f"{bot.name} p50 / p99 / max ms, {when}{before}", {"bot": _figures(bot)},
                           "", "max < 1 s, 0 failed" if flooded else "", met))
    return out


def problems(found: SlowRuns) -> list[str]:
    """Runs that did not measure what they claim: a flood that never had all its connections open."""
    plan = found.plan
    if plan is None:
        return []
    want = plan.slow_headers + plan.idle
    return [f"5: {r.subject}: the flood peaked at {r.flood.peak_open} of {want} connections"
            for r in found.runs if r.flood is not None and r.flood.peak_open < want]
