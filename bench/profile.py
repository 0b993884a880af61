"""`python -m bench.profile ack|click|start [--latency S] [--seconds N] [--gil]`: py-spy on the bot's workers under
one scenario's load, then the frames that cost most (inclusive, within bot/, handlers/, cards/, and self time).

py-spy is not a project dependency: `pip install py-spy` (any venv) or pass `--py-spy PATH`. `--gil` samples only
threads holding the GIL (CPU); without it, threads waiting in C (SQLite locks, sockets) count too (wall time).
Where py-spy is missing or cannot attach (no ptrace permission), `profile_row` falls back to cProfile of the same
work run in-process (the app through Flask's test client, one request at a time) and says so. `start` profiles
the import and app factory (what the master does before forking) with cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
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
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue  # a frame name torn by a --nonblocking read (py-spy reads memory while it changes)
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


TOP = 10


def _spy_path() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def profile_row(section: str, measure: str, seconds: float, work_dir: Path) -> str:
    """The top functions of the work behind one row of the table: py-spy on the workers, else cProfile."""
    if section.startswith("3"):
        return "cProfile of the master's start-up (import + app factory):\n" + _profile_startup(work_dir)
    scenario = "ack" if section.startswith("1") else "click"
    latency = 0.1 if "100 ms" in measure else 0.0
    spy = _spy_path()
    out_dir = work_dir / "profile"
    out_dir.mkdir(parents=True, exist_ok=True)
    with Rig(out_dir) as rig:
        if spy is not None:
            summary, problem = _with_py_spy(rig, spy, scenario, latency, seconds, out_dir)
            if summary is not None:
                return f"py-spy, {scenario} at {latency * 1e3:.0f} ms:\n{summary}"
        else:
            problem = "py-spy not installed (.venv/bin/pip install py-spy)"
        return (f"py-spy unusable here ({problem}); cProfile of the same work in-process instead:\n"
                + _in_process(rig, scenario, latency))


def _with_py_spy(rig: Rig, spy: str, scenario: str, latency: float, seconds: float,
                 out_dir: Path) -> tuple[str | None, str]:
    bot = rig.bot("bot-profile").start()
    try:
        if scenario == "ack":
            load.run_python(bot.port, events.group_messages(bot.port, 300), 8, 5.0)
            requests = events.group_messages(bot.port, int(3_000 * seconds))
        else:
            load.run_python(bot.port, s2_click.clicks(rig, bot, 32), 16, 10.0)
            rig.set_latency("action", latency)
            requests = s2_click.clicks(rig, bot, int(300 * seconds))
        outputs = [out_dir / f"worker-{pid}.txt" for pid in procs.children(bot.pid)]
        spies = [subprocess.Popen([spy, "record", "-p", o.stem.split("-")[1], "-d", str(max(1, int(seconds))),
                                   "-r", "200", "-f", "raw", "-o", str(o), "--nonblocking"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for o in outputs]
        try:
            load.run_python(bot.port, requests, 16, seconds)
        finally:
            errors = []
            for one in spies:
                try:
                    one.wait(seconds + 30)
                except subprocess.TimeoutExpired:
                    one.kill()
                    one.wait(5)
                if one.returncode:
                    errors.append((one.stderr.read() if one.stderr else b"").decode(errors="replace").strip()[-200:])
        rig.set_latency("action", 0.0)
    finally:
        bot.stop()
    found = [o for o in outputs if o.exists() and o.stat().st_size]
    if not found:
        return None, "; ".join(e for e in errors if e) or "no samples"
    return summarize(found, TOP), ""


def _in_process(rig: Rig, scenario: str, latency: float, n: int = 300) -> str:
    """The bot in this process (the same factory gunicorn runs), one request at a time through Flask's test
    client, under cProfile."""
    saved = dict(os.environ)
    os.environ.update(rig.env())
    try:
        from bot.app import create_app, shutdown

        app = create_app()
        client = app.test_client()
        sender = events.sender()
        if scenario == "ack":
            built = [sender.build_message("employee", f"lunch #{i}", chat="group", event_id=os.urandom(16).hex())
                     for i in range(n * 3)]
        else:
            rig.set_latency("action", latency)
            built = [_click(sender, code) for code in rig.seed(s2_click.APPROVER, n)]
        profiler = cProfile.Profile()
        profiler.enable()
        for headers, body in built:
            client.post(events.PATH, data=body, headers=headers)
        profiler.disable()
        rig.set_latency("action", 0.0)
        shutdown(app)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return _top(profiler)


def _click(sender: object, code: str) -> tuple[dict[str, str], bytes]:
    import secrets

    import cards

    value = {"action": "approve", "approval_id": code, "approval_type": "remedy", "v": cards.CARD_VERSION}
    return sender.build_click(s2_click.APPROVER, value, message_id="om_" + secrets.token_hex(16),  # type: ignore[attr-defined]
                              chat_id="oc_p2p_manager", event_id=secrets.token_hex(16))


def _profile_startup(work_dir: Path) -> str:
    with Rig(work_dir / "profile-start") as rig:
        env = procs.base_env(rig.env())
        out = work_dir / "startup.prof"
        code = ("import cProfile; cProfile.run('from bot.app import create_app; create_app()', "
                f"{str(out)!r})")
        subprocess.run([sys.executable, "-c", code], env=env, cwd=procs.REPO, capture_output=True, timeout=120,
                       check=False)
    if not out.exists():
        return "no profile written"
    return _top(pstats.Stats(str(out)))


def _top(source: cProfile.Profile | pstats.Stats) -> str:
    stream = io.StringIO()
    stats = source if isinstance(source, pstats.Stats) else pstats.Stats(source)
    stats.stream = stream  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats("tottime").print_stats(TOP)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:start + TOP + 1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario", choices=("ack", "click"))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--latency", type=float, default=0.0, help="click: injected process latency, s")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--gil", action="store_true", help="sample only GIL holders (CPU time)")
    parser.add_argument("--py-spy", default=_spy_path() or "py-spy")
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
