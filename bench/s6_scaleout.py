"""Scenario 6: scale-out — two bot instances on one PostgreSQL behind a round-robin client.

Each instance is the Procfile's bot (master + 2 workers) with the same `DATABASE_URL`, a fresh database on the CI
cluster (bench/postgres.py). 64 clicks in flight, each on its own pending approval, with Feishu's action calls
answering after 100 ms: first one instance alone, then two, the client's connections alternating between them.
Exactly once: the sandbox must count one action call per click (a click answered "processing…" because it
outlived the answer budget still counts; it is not in the approvals/s).
Skipped, with the reason, where PostgreSQL cannot be started.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import postgres, s2_click
from bench.plan import Plan
from bench.rig import Rig

LATENCY_S = 0.1
CONCURRENCY = 64


@dataclass
class ScaleOutRuns:
    runs: dict[int, list[s2_click.ClickRun]] = field(default_factory=dict)  # instances -> runs
    skipped: str = ""


def measure(rig: Rig, plan: Plan, into: ScaleOutRuns) -> None:
    reason = postgres.available()
    if reason is None:
        try:
            postgres.start()
        except RuntimeError as err:
            reason = str(err)
    if reason is not None:
        into.skipped = reason
        print(f"  6. scale-out skipped: {reason}", flush=True)
        return
    with postgres.fresh_database() as url:
        first = rig.bot("bot-pg-1", database_url=url).start()
        try:
            _warm(rig, [first])
            _runs(rig, plan, [first], into)
            second = rig.bot("bot-pg-2", database_url=url).start()
            try:
                _warm(rig, [second])
                _runs(rig, plan, [first, second], into)
            finally:
                second.stop()
        finally:
            first.stop()
    rig.set_latency("action", 0.0)


def _warm(rig: Rig, servers: list) -> None:
    rig.set_latency("action", 0.0)
    s2_click.run_clicks(rig, servers[0].port, servers, 32, 16, 10.0, 0.0)


def _runs(rig: Rig, plan: Plan, servers: list, into: ScaleOutRuns) -> None:
    rig.set_latency("action", LATENCY_S)
    ports = tuple(s.port for s in servers)
    for rep in range(plan.reps):
        run = s2_click.run_clicks(rig, ports, servers, plan.scaleout_clicks, CONCURRENCY, plan.click_run_s, LATENCY_S)
        into.runs.setdefault(len(servers), []).append(run)
        print(f"  6. {len(servers)} instance(s) rep {rep + 1}: {run.result.requests} clicks {run.clicks_per_s:6.1f}/s "
              f"p99 {run.result.p99_s * 1e3:6.1f} ms approved {run.approved} action calls {run.process_calls}",
              flush=True)


def problems(found: ScaleOutRuns) -> list[str]:
    """Exactly once: one action call per click. A click answered "processing…" (past the answer budget) is not
    counted as approved in the rate, but its action still happened once."""
    out = []
    for instances, runs in found.runs.items():
        for run in runs:
            if run.result.requests == 0 or run.result.non_200:
                out.append(f"6: {instances} instance(s) answered {run.result.non_200} of {run.result.requests} "
                           "clicks with other than 200")
            if run.process_calls != run.result.requests:
                out.append(f"6: {instances} instance(s) made {run.process_calls} action calls for "
                           f"{run.result.requests} clicks (not exactly once)")
    return out
