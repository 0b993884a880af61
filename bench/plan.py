"""What a run measures and for how long: the full benchmark (≤ 15 minutes) or the quick smoke (< 2 minutes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    quick: bool
    reps: int
    connections: tuple[int, ...]  # scenario 1
    ack_run_s: float  # scenario 1: one measured run
    ack_warmup_s: float
    max_events: int  # scenario 1: cap on pre-built events per run
    latencies_s: tuple[float, ...]  # scenario 2: injected Feishu latency
    clicks: int  # scenario 2: clicks per run (each on its own pending request)
    click_run_s: float
    click_concurrency: int
    click_warmup: int
    memory_reps: int  # scenario 3
    pending_sizes: tuple[int, ...]  # scenario 4
    dedup_events: int
    dedup_budget_s: float
    duplicate_runs: bool  # scenario 1: also the same event id over and over (the dedup fast path)
    longconn: bool = True  # scenario 1: also the long connection (bot vs the SDK's ws.Client)
    scaleout_clicks: int = 600  # scenario 6: clicks per run (64 in flight, 100 ms action latency)
    profile_s: float = 6.0  # the profile of the worst row


FULL = Plan(quick=False, reps=3, connections=(16, 64), ack_run_s=5.0, ack_warmup_s=1.0, max_events=60_000,
            latencies_s=(0.0, 0.1), clicks=400, click_run_s=8.0, click_concurrency=16, click_warmup=32,
            memory_reps=3, pending_sizes=(10, 100, 1000), dedup_events=100_000, dedup_budget_s=150.0,
            duplicate_runs=True)

QUICK = Plan(quick=True, reps=1, connections=(16,), ack_run_s=1.0, ack_warmup_s=0.3, max_events=8_000,
             latencies_s=(0.0,), clicks=24, click_run_s=4.0, click_concurrency=16, click_warmup=4,
             memory_reps=1, pending_sizes=(10,), dedup_events=2_000, dedup_budget_s=10.0, duplicate_runs=True,
             scaleout_clicks=48, profile_s=2.0)
