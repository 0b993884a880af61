"""Approval events reach the app only for the definitions it subscribed (approval v4 `approvals/{code}/subscribe`).

The codes of `BOT_APPROVAL_CODES` are subscribed once per deployment, not once per worker: the first maintenance
round of whichever process gets there claims each code in the shared store. A repeated subscription answers
1390007, which counts as done; the claim expires with the other dedup rows, so a code is confirmed again now and
then. `approval-bot subscribe` does the same on demand, with a line per code (bot/preflight.py).
"""

from __future__ import annotations

import logging

from core.errors import FeishuError
from core.records import ClaimResult
from handlers.context import Context

log = logging.getLogger(__name__)
CLAIM_S = 60.0
_FINAL_CODES = frozenset({1390001, 1390002, 1390009, 99991672})  # wrong code or no permission: retrying won't help


def subscribe_configured(ctx: Context) -> int:
    """Subscribe each configured code no process of the deployment has subscribed yet; returns how many calls."""
    calls = 0
    for code in ctx.config.approval_codes:
        key = f"subscribed:{code}"
        if ctx.store.claim(key, CLAIM_S, ctx.clock()) is not ClaimResult.NEW:
            continue
        calls += 1
        try:
            new = ctx.feishu.subscribe_approval(code)
        except FeishuError as err:
            log.warning("approval events not subscribed: code=%s error=%s log_id=%s", code, err.code, err.log_id)
            if err.code in _FINAL_CODES:
                ctx.store.finish(key, ctx.clock())  # said once; check-config --online says how to fix it
            else:
                ctx.store.release(key)  # Feishu unreachable: the next round tries again
            continue
        log.info("approval events %s: code=%s", "subscribed" if new else "already subscribed", code)
        ctx.store.finish(key, ctx.clock())
    return calls
