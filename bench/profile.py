"""`python -m bench.profile ack|click [--latency S] [--seconds N] [--gil]`: py-spy on the bot's workers under one
scenario's load, then the frames that cost most (inclusive, within bot/, handlers/, cards/, and self time).

py-spy is not a project dependency: `pip install py-spy` (any venv) or pass `--py-spy PATH`. `--gil` samples only
threads holding the GIL (CPU); without it, threads waiting in C (SQLite locks, sockets) count too (wall time).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from bench import events, load, procs, s2_click
from bench.rig import Rig

OWN = ("bot/", "handlers/", "cards/")


def _frame(raw: str) -> str:
    """"func (path:line)" → "func (short/path)" without the line, so one function counts once."""
    text = re.sub(r" \(/.*?site-packages/", " (", raw)
    text = re.sub(r" \(/.*?/(bot|handlers|cards|sandbox|bench)/", r" (\1/", text)
    return re.sub(r":\d+\)$", ")", text)


def summarize(paths: list[Path], top: int = 30) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            stack, count_text = line.rsplit(" ", 1)
            count = int(count_text)
            frames = [_frame(f) for f in stack.split(";")]
            total += count
            for frame in dict.fromkeys(frames):
                inclusive[frame] += count
                if any(f"({prefix}" in frame for prefix in OWN):
                    own[frame] += count
            leaf[frames[-1]] += count
    if not total:
        return "no samples"
    out = [f"{total} samples"]
    out += ["-- inclusive, the bot's own code"] + [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(top)]
    out += ["-- self"] + [f"{100 * n / total:5.1f}% {f}" for f, n in leaf.most_common(top)]
    out += ["-- inclusive, all"] + [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario", choices=("ack", "click"))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--latency", type=float, default=0.0, help="click: injected process latency, s")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--gil", action="store_true", help="sample only GIL holders (CPU time)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="approval-bot-profile-"))
    with Rig(work_dir) as rig:
        bot = rig.bot().start()
        if args.scenario == "ack":
            load.run_python(bot.port, events.group_messages(bot.port, 500), 8, 5.0)  # warm-up
            requests = events.group_messages(bot.port, 60_000)
        else:
            load.run_python(bot.port, s2_click.clicks(rig, bot, 32), 16, 10.0)
            rig.set_latency("action", args.latency)
            requests = s2_click.clicks(rig, bot, int(400 * args.seconds))
        outputs = [work_dir / f"worker-{pid}.txt" for pid in procs.children(bot.pid)]
        spies = [subprocess.Popen([args.py_spy, "record", "-p", out.stem.split("-")[1], "-d", str(int(args.seconds)),
                                   "-r", "250", "-f", "raw", "-o", str(out), "--nonblocking",
                                   *(["--gil"] if args.gil else [])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for out in outputs]
        try:
            result = load.run_python(bot.port, requests, args.connections, args.seconds)
        finally:
            for spy in spies:
                spy.wait(args.seconds + 30)
        print(f"{args.scenario}: {result.requests} requests, {result.rps:.0f}/s, p50 {result.p50_s * 1e3:.1f} ms, "
              f"p99 {result.p99_s * 1e3:.1f} ms, non-200 {result.non_200}")
    print(summarize([o for o in outputs if o.exists()]))
    shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
