"""Scenario 1: event acknowledgement throughput and latency.

Signed, encrypted `im.message.receive_v1` group messages that do not mention the bot (acknowledged without a
Feishu call), each with its own event id, built right before each run. The bot, peer A (bare Flask) and peer B
(lark-oapi's dispatcher) run one after the other under the same gunicorn settings; each gets a warm-up run first.

The long connection: the same messages (plaintext, as the long connection carries them) pushed by the sandbox's
long-connection server through the real `lark.ws.Client`, `LONGCONN_IN_FLIGHT` at a time, each waited for as
Feishu waits for its answer frame: the bot's `approval-bot connect` against the SDK's own `ws.Client` with an
empty handler (peer "WS").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench import events, load
from bench.plan import Plan
from bench.procs import Server
from bench.rig import Rig

SUBJECTS = ("bot", "A", "B")
LONGCONN_IN_FLIGHT = 16


@dataclass
class AckRuns:
    """Every measured run, by (subject, connections); duplicates: the bot fed one event id over and over."""

    client: str
    runs: dict[tuple[str, int], list[load.LoadResult]] = field(default_factory=dict)
    duplicates: dict[int, list[load.LoadResult]] = field(default_factory=dict)
    longconn: dict[str, list[load.LoadResult]] = field(default_factory=dict)  # "bot" | "WS"


def _events_for(rate: float, seconds: float, plan: Plan) -> int:
    """Enough distinct events for the run at the warm-up's rate, with room to spare, within the cap."""
    return int(min(plan.max_events, max(2_000, rate * seconds * 1.6 + 1_000)))


def measure(server: Server, plan: Plan, work_dir: Path, use_wrk: bool, into: AckRuns, subject: str) -> None:
    """Warm up, then `plan.reps` runs at each connection count, fresh events each time."""
    warm = load.run_load(server.port, events.group_messages(server.port, _events_for(3_000, plan.ack_warmup_s, plan)),
                         plan.connections[-1], plan.ack_warmup_s, work_dir, use_wrk)
    rate = max(warm.rps, 100.0)
    for rep in range(plan.reps):
        for connections in plan.connections:
            requests = events.group_messages(server.port, _events_for(rate, plan.ack_run_s, plan))
            result = load.run_load(server.port, requests, connections, plan.ack_run_s, work_dir, use_wrk)
            into.runs.setdefault((subject, connections), []).append(result)
            rate = max(rate, result.rps)
            _say(f"  1. {subject:<3} c={connections:<3} rep {rep + 1}: {result.rps:7.0f}/s "
                 f"p50 {result.p50_s * 1e3:6.1f} ms p99 {result.p99_s * 1e3:6.1f} ms non-200 {result.non_200}"
                 f"{' (ran out of events)' if result.exhausted else ''}")


def measure_duplicates(server: Server, plan: Plan, work_dir: Path, use_wrk: bool, into: AckRuns) -> None:
    """The same signed event, re-sent: only the dedup fast path (verify, claim says done, answer)."""
    for rep in range(plan.reps):
        for connections in plan.connections:
            one = events.group_messages(server.port, 1)[0]
            load.run_python(server.port, [one], 1, 5.0)  # handled once first: later copies hit "done", not "busy"
            requests = [one] * min(plan.max_events, 25_000)  # one request repeated: the count only bounds the run
            result = load.run_load(server.port, requests, connections, plan.ack_run_s, work_dir, use_wrk)
            into.duplicates.setdefault(connections, []).append(result)
            _say(f"  1. bot dup c={connections:<3} rep {rep + 1}: {result.rps:7.0f}/s "
                 f"p50 {result.p50_s * 1e3:6.1f} ms p99 {result.p99_s * 1e3:6.1f} ms non-200 {result.non_200}")


def _say(line: str) -> None:
    print(line, flush=True)



def measure_longconn(rig: Rig, plan: Plan, into: AckRuns, subject: str) -> None:
    """`subject` "bot" (approval-bot connect) or "WS" (the SDK's ws.Client, empty handler): events over the long
    connection, acknowledged per second."""
    server = rig.longconn("bot" if subject == "bot" else "peer").start()
    try:
        rig.push_longconn(300, LONGCONN_IN_FLIGHT, plan.ack_warmup_s + 1.0)
        for rep in range(plan.reps):
            found = rig.push_longconn(_events_for(3_000, plan.ack_run_s, plan), LONGCONN_IN_FLIGHT, plan.ack_run_s)
            latencies = list(found["latencies_s"])
            answered, accepted = int(found["answered"]), int(found["accepted"])
            statuses = Counter({200: accepted})
            if answered > accepted:
                statuses[0] = answered - accepted
            result = load.LoadResult("longconn", LONGCONN_IN_FLIGHT, answered, float(found["seconds"]),
                                     load.percentile(latencies, 50), load.percentile(latencies, 99), statuses)
            into.longconn.setdefault(subject, []).append(result)
            _say(f"  1. {subject:<3} long connection rep {rep + 1}: {result.rps:7.0f}/s "
                 f"p50 {result.p50_s * 1e3:6.1f} ms p99 {result.p99_s * 1e3:6.1f} ms refused {answered - accepted}")
    finally:
        server.stop()
