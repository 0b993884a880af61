"""Scenario 4: the scale of one request.

- `/pending` for a manager with 10, 100 and 1,000 pending tasks (seeded in the sandbox for one approver, the
  sample "stranger", who has none in the seed): time from the message to the reply card, the card's size
  (compact UTF-8 JSON, Feishu's 30 KB measure), and the same for page 2 through the card's "next page" button.
- The dedup store: 100,000 events claimed and finished on a temp SQLite file, the clock advancing so that they
  span four days, swept once a simulated minute as the bot's maintenance does (48 h kept); rows, file size,
  sweep time.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench import events
from bench.procs import Server
from bench.rig import Rig
from bot.store import open_store
from cards import MAX_BYTES, card_size
from sandbox.data import p2p_chat

APPROVER = "stranger"
REPLY_WAIT_S = 15.0
EVENT_SPACING_S = 3.456  # 100,000 events over 96 h: half of them outlive the 48 h the store keeps
SWEEP_EVERY_S = 60.0  # handlers/maintenance.py: one round a minute


@dataclass
class PendingSample:
    reply_s: float  # message sent → reply card visible in the sandbox
    size: int  # page 1, bytes
    page2_s: float | None  # "next page" click → answer with the card
    page2_size: int | None
    items: int  # pending entries the first page shows


@dataclass
class DedupResult:
    events: int
    seconds: float
    rows: int
    file_bytes: int
    sweeps: int
    sweep_median_s: float
    sweep_max_s: float
    rows_peak: int
    budget_hit: bool


@dataclass
class ScaleRuns:
    pending: dict[int, list[PendingSample]] = field(default_factory=dict)
    dedup: DedupResult | None = None


def _find_buttons(node: Any, action: str) -> list[dict[str, Any]]:
    """Every distinct callback value with this action (a button's value may sit in its behaviors too)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if item.get("action") == action and "v" in item:
                found.setdefault(json.dumps(item, sort_keys=True), item)
            for child in item.values():
                walk(child)
        elif isinstance(item, list):
            for child in item:
                walk(child)

    walk(node)
    return list(found.values())


def _wait_reply(rig: Rig, message_id: str, started: float) -> tuple[float, dict[str, Any]]:
    deadline = started + REPLY_WAIT_S
    while time.monotonic() < deadline:
        replies = rig.call("GET", f"/_bench/replies?parent={message_id}")["messages"]
        if replies:
            return time.monotonic() - started, {"message_id": replies[0]["message_id"],
                                                "card": json.loads(replies[0]["body"])}
        time.sleep(0.005)
    raise RuntimeError(f"no reply to /pending within {REPLY_WAIT_S:.0f} s")


def pending_once(rig: Rig, bot: Server) -> PendingSample:
    sender = events.sender(bot.url)
    chat_id = p2p_chat(APPROVER)
    message_id = "om_" + secrets.token_hex(16)
    rig.call("POST", "/_bench/user_message", {"user": APPROVER, "chat_id": chat_id, "message_id": message_id,
                                              "text": "/pending"})
    headers, body = sender.build_message(APPROVER, "/pending", chat="p2p", message_id=message_id)
    started = time.monotonic()
    answer = requests.post(bot.url + events.PATH, data=body, headers=headers, timeout=REPLY_WAIT_S)
    if answer.status_code != 200:
        raise RuntimeError(f"/pending answered {answer.status_code}")
    reply_s, reply = _wait_reply(rig, message_id, started)
    card = reply["card"]
    items = len({b.get("approval_id") for b in _find_buttons(card, "show") + _find_buttons(card, "approve")})
    page2_s = page2_size = None
    nexts = _find_buttons(card, "pending_page")
    if nexts:
        headers, body = sender.build_click(APPROVER, nexts[0], message_id=reply["message_id"], chat_id=chat_id)
        clicked = time.monotonic()
        answer = requests.post(bot.url + events.PATH, data=body, headers=headers, timeout=REPLY_WAIT_S)
        page2_s = time.monotonic() - clicked
        data = answer.json().get("card", {}).get("data") if answer.status_code == 200 else None
        if not isinstance(data, dict):
            raise RuntimeError(f"page 2 answered {answer.status_code} without a card")
        page2_size = card_size(data)
    return PendingSample(reply_s, card_size(card), page2_s, page2_size, items)


def measure_pending(rig: Rig, bot: Server, sizes: tuple[int, ...], reps: int, into: ScaleRuns) -> None:
    seeded = 0
    for size in sizes:
        rig.seed(APPROVER, size - seeded)
        seeded = size
        pending_once(rig, bot)  # warm-up: names cached, templates compiled
        for rep in range(reps):
            sample = pending_once(rig, bot)
            into.pending.setdefault(size, []).append(sample)
            page2 = (f", page 2 {sample.page2_s * 1e3:6.1f} ms {sample.page2_size / 1024:5.1f} KiB"
                     if sample.page2_s is not None and sample.page2_size is not None else "")
            print(f"  4. /pending with {size:>5} tasks rep {rep + 1}: reply {sample.reply_s * 1e3:6.1f} ms, "
                  f"{sample.size / 1024:5.1f} KiB ({sample.items} items){page2}", flush=True)


def measure_dedup(work_dir: Path, n: int, budget_s: float) -> DedupResult:
    """claim + finish `n` distinct keys with the clock advancing; sweep once a simulated minute."""
    path = work_dir / "dedup.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        base = time.time()
        started = time.monotonic()
        sweeps: list[float] = []
        next_sweep = base + SWEEP_EVERY_S
        done = deleted = peak = 0
        for i in range(n):
            if time.monotonic() - started > budget_s:
                break
            now = base + i * EVENT_SPACING_S
            key = f"evt:{uuid.uuid4().hex}"
            store.claim(key, 10.0, now)
            store.finish(key, now)
            done += 1
            if now >= next_sweep:
                peak = max(peak, done - deleted)
                swept = time.perf_counter()
                deleted += store.sweep(now)
                sweeps.append(time.perf_counter() - swept)
                next_sweep = now + SWEEP_EVERY_S
        seconds = time.monotonic() - started
        rows = store.count_seen()
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    finally:
        store.close()
    return DedupResult(done, seconds, rows, size, len(sweeps), statistics.median(sweeps) if sweeps else 0.0,
                       max(sweeps, default=0.0), max(peak, rows), done < n)


def fits(size: int) -> bool:
    return size <= MAX_BYTES
