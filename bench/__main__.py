"""`python -m bench [--quick]`: every scenario, then one table (see bench/README.md).

Exit status: 0 when every scenario ran and measured what it should (targets missed or not), 1 when a scenario
measured nothing valid (e.g. answers other than 200 to valid events, clicks not approved), 2 on a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from bench import load, profile, report, s1_ack, s2_click, s3_memory, s4_scale, s5_slow_clients, s6_scaleout
from bench.plan import FULL, QUICK, Plan
from bench.procs import REPO
from bench.rig import Rig

INVALID_SHARE = 0.01  # more than 1 % bad answers: the run did not measure what it claims
RESULTS = REPO / "bench" / "results" / "latest.json"  # git-ignored: the last full run's figures, for comparison
QUICK_RESULTS = REPO / "bench" / "results" / "quick.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of every script (< 2 minutes)")
    parser.add_argument("--only", default="", help="scenarios to run, e.g. 1,3 (default: all; --quick: 1-4)")
    parser.add_argument("--python-client", action="store_true", help="use the asyncio client even if wrk exists")
    parser.add_argument("--json", type=Path, help="every run's figures (default bench/results/latest.json; "
                                                  "--quick: quick.json)")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile of the worst row")
    parser.add_argument("--profile", action="store_true", help="--quick: profile the worst row too")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    return parser.parse_args(argv)


def environment(use_wrk: bool, plan: Plan) -> list[str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "bot", "handlers", "cards"],
                           capture_output=True, text=True, check=False).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    client = "wrk 4.1.0 (1 thread)" if use_wrk else "python asyncio client"
    wrk_path = shutil.which("wrk")
    return [
        f"commit {commit}{' + uncommitted changes in bot/handlers/cards' if dirty else ''}; "
        f"{os.cpu_count()} cores ({cpu}); Python {platform.python_version()}; gunicorn {version('gunicorn')}, "
        f"Flask {version('flask')}, lark-oapi {version('lark-oapi')}, SQLite {sqlite3.sqlite_version}, "
        f"psycopg {version('psycopg')}",
        f"1-minute load average at start {os.getloadavg()[0]:.2f} (other work on the machine skews every figure); "
        f"load: {client}{'' if use_wrk or not wrk_path else ' (wrk found but not used)'}, on the same 2 cores as "
        f"the server (the client's CPU is the server's loss); {plan.reps} repetition(s), medians"
        + ("; QUICK smoke run: the figures mean nothing" if plan.quick else ""),
    ]


_STARTED = time.monotonic()


def _mark(what: str) -> None:
    """Where the run is, and how long it has taken so far (the full run must end within 15 minutes)."""
    print(f"-- {what} at {time.monotonic() - _STARTED:.0f} s", flush=True)


def run(plan: Plan, only: set[str], use_wrk: bool, work_dir: Path) -> tuple[list[report.Row], list[str], dict]:
    acks = s1_ack.AckRuns(client="wrk" if use_wrk else "python")
    clicks = s2_click.ClickRuns()
    memory = s3_memory.MemoryRuns()
    scale = s4_scale.ScaleRuns()
    slow = s5_slow_clients.SlowRuns()
    scaleout = s6_scaleout.ScaleOutRuns()
    with Rig(work_dir) as rig:
        if only & {"1", "2", "4"}:
            bot = rig.bot().start()
            print(f"bot up in {bot.healthy_after_s:.2f} s at {bot.url}", flush=True)
            if "1" in only:
                _mark("1 ack")
                s1_ack.measure(bot, plan, work_dir, use_wrk, acks, "bot")
                if plan.duplicate_runs:
                    s1_ack.measure_duplicates(bot, plan, work_dir, use_wrk, acks)
            if "4" in only:
                _mark("4 scale")
                s4_scale.measure_pending(rig, bot, plan.pending_sizes, plan.reps, scale)
            if "2" in only:
                _mark("2 click")
                s2_click.measure(rig, bot, plan, clicks, "bot")
            bot.stop()
        for subject in ("A", "B") if "1" in only else ():
            peer = rig.peer(subject).start()
            s1_ack.measure(peer, plan, work_dir, use_wrk, acks, subject)
            peer.stop()
        for subject in ("bot", "WS") if "1" in only and plan.longconn else ():
            s1_ack.measure_longconn(rig, plan, acks, subject)
        if "2" in only:
            peer = rig.peer("C").start()
            s2_click.measure(rig, peer, plan, clicks, "C")
            peer.stop()
        if "3" in only:
            _mark("3 memory")
            s3_memory.measure(rig, plan, memory)
        if "5" in only:
            _mark("5 slow")
            s5_slow_clients.measure(rig, s5_slow_clients.QUICK if plan.quick else s5_slow_clients.FULL, slow)
        if "6" in only:
            _mark("6 scale-out")
            s6_scaleout.measure(rig, plan, scaleout)
    if "4" in only:
        _mark("4 dedup")
        scale.dedup = s4_scale.measure_dedup(work_dir, plan.dedup_events, plan.dedup_budget_s)
        print(f"  4. dedup store: {scale.dedup}", flush=True)
    rows = report.ack_rows(acks) + report.click_rows(clicks) + report.memory_rows(memory) + report.scale_rows(scale)
    rows += s5_slow_clients.rows(slow) + report.scaleout_rows(scaleout)
    raw = {"acks": acks, "clicks": clicks, "memory": memory, "scale": scale, "slow": slow, "scaleout": scaleout}
    return rows, problems(acks, clicks) + s5_slow_clients.problems(slow) + s6_scaleout.problems(scaleout), raw


def problems(acks: s1_ack.AckRuns, clicks: s2_click.ClickRuns) -> list[str]:
    """Runs that did not measure what they claim: bad answers to valid events, clicks that did not approve."""
    found = []
    for (subject, connections), runs in acks.runs.items():
        for result in runs:
            if result.requests == 0 or result.non_200 > INVALID_SHARE * result.requests:
                found.append(f"1: {subject} at {connections} conns answered {result.non_200} of "
                             f"{result.requests} events with other than 200")
    for (subject, latency), runs in clicks.runs.items():
        for click in runs:
            if click.result.requests == 0 or click.approved < (1 - INVALID_SHARE) * click.result.requests:
                found.append(f"2: {subject} at {latency * 1e3:.0f} ms approved {click.approved} of "
                             f"{click.result.requests} clicks")
            if click.process_calls != click.approved:
                found.append(f"2: {subject} at {latency * 1e3:.0f} ms made {click.process_calls} action calls for "
                             f"{click.approved} approvals")
    return found


def _plain(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):  # not asdict(): it rebuilds a Counter from its items' pairs
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__
                if name not in ("latencies_s", "bodies")}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in ("latencies_s", "bodies")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    args.json = args.json or (QUICK_RESULTS if args.quick else RESULTS)
    # The quick smoke run (tests/bench) leaves out 5, which starts two servers and floods them, unless asked.
    # 6 starts PostgreSQL and two more bots: also left out of the quick run unless named (`--quick --only 6`).
    only = {s.strip() for s in (args.only or ("1,2,3,4" if args.quick else "1,2,3,4,5,6")).split(",")
            if s.strip()}
    use_wrk = load.wrk_available() and not args.python_client
    work_dir = Path(tempfile.mkdtemp(prefix="approval-bot-bench-"))
    started = time.monotonic()
    header = environment(use_wrk, plan)
    print("\n".join(header), flush=True)
    try:
        rows, broken, raw = run(plan, only, use_wrk, work_dir)
    except Exception as err:
        print(f"bench: a scenario crashed: {type(err).__name__}: {err}\n(logs in {work_dir / 'logs'})",
              file=sys.stderr, flush=True)
        raise
    elapsed = time.monotonic() - started
    print(f"\napproval-bot benchmark, {elapsed:.0f} s\n" + "\n".join(header) + "\n")
    print(report.table(rows))
    profiled = not args.no_profile and (args.profile or not plan.quick)
    worst = report.worst(rows) if profiled else None
    if worst is not None:
        print(f"\nwhere the time goes in the worst row ({worst.section}: {worst.measure}, {worst.ratio or 'no ratio'} "
              f"against {worst.target}):")
        found = profile.profile_row(worst.section, worst.measure, plan.profile_s, work_dir)
        print(found)
        raw["profile"] = {"row": f"{worst.section}: {worst.measure}", "summary": found}
    raw["rows"] = [asdict(r) for r in rows]
    raw["header"] = header
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_plain(raw), indent=1, default=str))
        print(f"figures written to {args.json}")
    for line in broken:
        print(f"INVALID RUN: {line}", file=sys.stderr)
    if args.keep or broken:
        print(f"work directory kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # noqa: BLE001 - a crash exits 2 with its traceback
        import traceback

        traceback.print_exc()
        sys.exit(2)
