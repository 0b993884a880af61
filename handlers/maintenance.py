"""Background upkeep, once a minute per process and once per minute across instances (a lease in the store):
settle actions whose worker died mid-way (intents still "sending"), forget expired dedup rows, and send the
daily digest when it is due.

An intent is written before every process call. One still "sending" after the lock's lifetime belongs to a
worker that died: look the instance up; if it reached the target state, the action happened — record it and
update the cards; otherwise it did not, and the operator is told so (never re-sent blindly).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from cards.messages import user_message
from core.errors import FeishuError, StoreUnavailable
from core.records import AuditRecord
from core.rules import RULES, Action
from handlers import card_context, digest
from handlers.context import Context
from handlers.lookup import UnreadableApproval, load_approval
from handlers.notifications import update_other_cards
from handlers.workflow import LOCK_TTL_S

log = logging.getLogger(__name__)
INTERVAL_S = 60.0


def reconcile(ctx: Context) -> int:
    """Settle intents older than the action lock; returns how many were settled."""
    settled = 0
    for intent in ctx.store.open_intents(ctx.clock() - LOCK_TTL_S):
        try:
            settle(ctx, intent)
        except FeishuError as err:  # Feishu unreachable: try again next round
            log.warning("reconcile postponed: approval=%s code=%s", intent["approval_id"], err.code)
            continue
        settled += 1
    return settled


def settle(ctx: Context, intent: dict) -> None:
    approval_id, action = intent["approval_id"], Action(intent["action"])
    try:
        approval = load_approval(ctx, approval_id)
    except UnreadableApproval:
        ctx.store.finish_intent(intent["intent_id"], "abandoned", ctx.clock())
        return
    reached = approval.status is RULES[action].results_in
    outcome = "done" if reached else "failed"
    ctx.store.append_audit(AuditRecord(
        approval_id=approval_id, action=action.value, operator=intent["operator"], outcome=outcome,
        approval_type=approval.approval_type.value if approval.approval_type else "",
        reason=str(intent["detail"].get("reason", "")), message="reconciled", at=ctx.clock(),
    ), settles=intent["intent_id"])
    card = card_context.current_card(ctx, approval)
    update_other_cards(ctx, approval_id, card)
    if not reached and intent["operator"].startswith("ou_"):
        text = user_message(FeishuError(-1, "interrupted", kind="timeout"), ctx.locale)
        try:
            notice = card_context.notice_card(ctx, f"{approval_id}: {text}", tone="error")
            ctx.feishu.send_card(intent["operator"], notice, "open_id", uuid=f"rc-{intent['intent_id']}")
        except FeishuError as err:
            log.warning("could not tell the operator: code=%s", err.code)


def run_once(ctx: Context) -> None:
    now = ctx.clock()
    if not ctx.store.take_lease(f"maintenance:{int(now // INTERVAL_S)}", uuid.uuid4().hex, now + INTERVAL_S, now):
        return  # another instance runs this minute's round
    reconcile(ctx)
    ctx.store.sweep(now)
    digest.maybe_send(ctx)


class Maintenance:
    """A daemon thread per process, started on its first request (after gunicorn forked the worker)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()

    def ensure_started(self) -> None:
        import os

        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            threading.Thread(target=self._loop, name="bot-maintenance", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def run_round(self) -> None:
        """One round; whatever fails is logged and the loop goes on."""
        try:
            run_once(self._ctx)
        except StoreUnavailable as err:  # one line a round, no traceback: /healthz says the rest
            log.warning("maintenance round skipped: store unavailable: %s", err.problem)
        except Exception:
            log.exception("maintenance round failed")

    def _loop(self) -> None:
        delay = 1.0  # a round soon after start-up: settle what a previous process left behind
        while not self._stop.wait(delay):
            self.run_round()
            delay = INTERVAL_S * (0.75 + 0.5 * (time.monotonic() % 1))  # jitter: instances drift apart
