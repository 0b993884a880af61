"""Scenario 2: click → updated card.

`card.action.trigger` approvals, 16 at a time, each of a distinct pending remedy request seeded in the sandbox,
with the sandbox's `approval_infos/process` answering after an injected latency (0 and 100 ms). The callback's
answer carries the updated card, so its latency is the click-to-card time. The bot and peer C (the same work inline
through the SDK: lookup + process, no dedup, no authorization, no audit) run one after the other.
"""

from __future__ import annotations

import json
import time
import urllib.request
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
    feishu_calls: int = 0  # every Open API call during the run but token requests
    store_round_trips: int | None = None  # the bot's store transactions during the run (its /metrics); peers: None

    @property
    def feishu_per_click(self) -> float:
        return self.feishu_calls / self.result.requests if self.result.requests else 0.0

    @property
    def store_per_click(self) -> float | None:
        if self.store_round_trips is None or not self.result.requests:
            return None
        return self.store_round_trips / self.result.requests

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


TOKEN_ENDPOINTS = ("token", "app_token")


def store_round_trips(server: Server) -> int | None:
    """The bot's store transactions so far, summed over its workers (bot_store_round_trips_total); None when the
    server has no such metric (a peer)."""
    try:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:  # noqa: S310 - 127.0.0.1
            text = response.read().decode()
    except OSError:
        return None
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("bot_store_round_trips_total{")]
    return int(sum(values)) if values else None


def feishu_calls(rig: Rig) -> int:
    return sum(n for endpoint, n in rig.all_calls().items() if endpoint not in TOKEN_ENDPOINTS)


def run_clicks(rig: Rig, ports: int | tuple[int, ...], servers: list[Server], n: int, concurrency: int,
               seconds: float, latency_s: float) -> ClickRun:
    """One measured run: `n` fresh clicks; what Feishu and the store saw during it."""
    requests = events.approve_clicks(servers[0].port, rig.seed(APPROVER, n), APPROVER)
    before = [store_round_trips(s) for s in servers]
    rig.forget_calls()
    result = load.run_python(ports, requests, concurrency, seconds, keep_bodies=True)
    time.sleep(0.2)  # work the answers left in the pools (none expected on this path) lands before counting
    after = [store_round_trips(s) for s in servers]
    trips = (None if any(v is None for v in before + after)
             else sum(a - b for a, b in zip(after, before, strict=True)))  # type: ignore[operator]
    return ClickRun(result, latency_s, sum(1 for b in result.bodies if approved(b)), rig.count_calls("action"),
                    feishu_calls(rig), trips)


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
            run = run_clicks(rig, server.port, [server], plan.clicks, plan.click_concurrency, plan.click_run_s,
                             latency_s)
            into.runs.setdefault((subject, latency_s), []).append(run)
            result = run.result
            trips = f" store {run.store_per_click:.1f}/click" if run.store_per_click is not None else ""
            print(f"  2. {subject:<3} latency {latency_s * 1e3:3.0f} ms rep {rep + 1}: {result.requests} clicks "
                  f"{run.clicks_per_s:6.1f}/s p50 {result.p50_s * 1e3:6.1f} ms p99 {result.p99_s * 1e3:6.1f} ms "
                  f"approved {run.approved} action calls {run.process_calls} feishu {run.feishu_per_click:.1f}/click"
                  f"{trips}", flush=True)
    rig.set_latency("action", 0.0)
