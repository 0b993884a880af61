"""The daily digest: at BOT_DIGEST_TIME (in BOT_TIMEZONE), every known approver with pending tasks gets one card
listing them, with their buttons. Exactly once per day across all instances (a lease in the store); approvers with
nothing pending get nothing. Approvers are "known" once the bot has seen them hold a task (notifications, lookups).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import FeishuError, StoreUnavailable
from core.rules import Actor
from handlers import copies, pending
from handlers.context import Context

log = logging.getLogger(__name__)
KNOWN_FOR_S = 30 * 24 * 3600  # approvers seen in the last 30 days


def due_day(digest_time: str, timezone: str, now: float) -> str | None:
    """The local date whose digest is due at `now`, or None (no digest configured, or not yet time)."""
    if not digest_time:
        return None
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    hour, minute = (int(part) for part in digest_time.split(":"))
    if (local.hour, local.minute) < (hour, minute):
        return None
    return local.date().isoformat()


def maybe_send(ctx: Context) -> int:
    """Send today's digest if it is due and no instance has sent it; returns how many cards went out."""
    now = ctx.clock()
    day = due_day(ctx.config.digest_time, ctx.config.timezone, now)
    if day is None:
        return 0
    until = now + timedelta(days=2).total_seconds()  # longer than the day it names
    if not ctx.store.take_lease(f"digest:{day}", uuid.uuid4().hex, until, now):
        return 0
    return _send_all(ctx, f"digest-{day}")


def send_now(ctx: Context) -> int:
    """The digest at once, whatever the time and whether today's went out (the playground's button)."""
    return _send_all(ctx, f"digest-now-{uuid.uuid4().hex[:12]}")


def _send_all(ctx: Context, key: str) -> int:
    """One list card to every known approver with something pending; `key` makes each message's uuid."""
    now = ctx.clock()
    try:
        known = ctx.store.approvers(now - KNOWN_FOR_S)
    except StoreUnavailable as err:
        log.warning("digest %s not sent: store unavailable: %s", key, err.problem)
        return 0
    sent = 0
    for open_id in known:
        reply = pending.list_reply(ctx, Actor(open_id=open_id), skip_empty=True)
        if reply is None or reply.card is None:
            continue
        try:
            message_id = ctx.feishu.send_card(open_id, reply.card, "open_id", uuid=f"{key}-{open_id}")
        except FeishuError as err:
            log.warning("digest not delivered: code=%s log_id=%s", err.code, err.log_id)
            continue
        sent += 1
        copies.remember_sent(ctx, reply, message_id)  # the digest follows its items like any list
    return sent
