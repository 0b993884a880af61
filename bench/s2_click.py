"""Scenario 2: click → updated card.

`card.action.trigger` approvals, 16 at a time, each of a distinct pending remedy request seeded in the sandbox,
with the sandbox's `approval_infos/process` answering after an injected latency (0 and 100 ms). The callback's
answer carries the updated card, so its latency is the click-to-card time. The bot and peer C (the same work inline
through the SDK: lookup + process, no dedup, no authorization, no audit) run one after the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bench import events, load
from bench.plan import Plan
from bench.procs import Server
from bench.rig import Rig

SUBJECTS = ("bot", "C")
APPROVER = "manager"


@dataclass
class ClickRun:
    result: load.LoadResult
    latency_s: float
    approved: int  # answers with a success toast and a card
    process_calls: int  # calls that act (process, tasks approve/reject), as counted by the sandbox during the run

    @property
    def overhead_p50_s(self) -> float:
        return self.result.p50_s - self.latency_s

    @property
    def overhead_p99_s(self) -> float:
        return self.result.p99_s - self.latency_s

    @property
    def clicks_per_s(self) -> float:
        return self.approved / self.result.duration_s if self.result.duration_s else 0.0


@dataclass
class ClickRuns:
    runs: dict[tuple[str, float], list[ClickRun]] = field(default_factory=dict)


def approved(body: bytes) -> bool:
    """A success toast and a card: what Feishu needs to show the updated card at once."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    toast = answer.get("toast") if isinstance(answer, dict) else None
    card = answer.get("card") if isinstance(answer, dict) else None
    return isinstance(toast, dict) and toast.get("type") == "success" and isinstance(card, dict)


def clicks(rig: Rig, server: Server, n: int) -> list[bytes]:
    return events.approve_clicks(server.port, rig.seed(APPROVER, n), APPROVER)


def measure(rig: Rig, server: Server, plan: Plan, into: ClickRuns, subject: str) -> None:
    rig.set_latency("action", 0.0)
    warm = load.run_python(server.port, clicks(rig, server, plan.click_warmup), plan.click_concurrency, 10.0,
                           keep_bodies=True)
    if not any(approved(b) for b in warm.bodies):
        raise RuntimeError(f"{subject}: no click was approved in the warm-up; first answer: {warm.bodies[:1]!r}")
    for latency_s in plan.latencies_s:
        rig.set_latency("action", latency_s)
        for rep in range(plan.reps):
            requests = clicks(rig, server, plan.clicks)
            rig.forget_calls()
            result = load.run_python(server.port, requests, plan.click_concurrency, plan.click_run_s,
                                     keep_bodies=True)
            run = ClickRun(result, latency_s, sum(1 for b in result.bodies if approved(b)),
                           rig.count_calls("action"))
            into.runs.setdefault((subject, latency_s), []).append(run)
            print(f"  2. {subject:<3} latency {latency_s * 1e3:3.0f} ms rep {rep + 1}: {result.requests} clicks "
                  f"{run.clicks_per_s:6.1f}/s p50 {result.p50_s * 1e3:6.1f} ms p99 {result.p99_s * 1e3:6.1f} ms "
                  f"approved {run.approved} action calls {run.process_calls}", flush=True)
    rig.set_latency("action", 0.0)
