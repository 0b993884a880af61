"""Background upkeep, once a minute per process and once per minute across instances (a lease in the store):
settle actions whose worker died mid-way (intents still "sending"), forget expired dedup rows, and send the
daily digest when it is due.

An intent is written before every process call and settled by the audit row that follows it. One still
"sending" after the lock's lifetime belongs to a worker that died or to a call whose answer was lost: look the
approval up, again and again with back-off, for `BOT_SETTLE_WINDOW_S`. Once it reached the target state the action
happened: record it, update the cards, tell the operator. If the approval no longer exists, or the window passes
without the state changing, settle it (abandoned, unknown) and tell the operator to look. Never re-sent blindly.

Intents from before the kinds of approval (flagged ``"replayable": false`` by the store's v2 migration) named an
instance code as an attendance id: they are settled as not replayable, with one log line each and no Feishu call;
whoever asks for that approval's card is told to look at it in Feishu (`card_context.not_replayable_notice`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import cards
from core.approval import Approval
from core.errors import FeishuError, StoreUnavailable
from core.records import NOT_REPLAYABLE, AuditRecord
from core.rules import RULES, Action, Kind
from handlers import card_context, digest
from handlers.context import Context
from handlers.lookup import UnreadableApproval, is_not_found, load_approval
from handlers.notifications import update_other_cards
from handlers.records import find_linked_record
from handlers.subscriptions import subscribe_configured
from handlers.workflow import LOCK_TTL_S

log = logging.getLogger(__name__)
INTERVAL_S = 60.0


FIRST_RECHECK_S = 30.0
MAX_RECHECK_S = 240.0


class Rechecks:
    """When each open intent is looked at next (per process: after a restart everything is looked at at once)."""

    def __init__(self) -> None:
        self._next: dict[str, tuple[float, float]] = {}  # intent id -> (not before, next delay)

    def due(self, intent_id: str, now: float) -> bool:
        return self._next.get(intent_id, (0.0, 0.0))[0] <= now

    def later(self, intent_id: str, now: float) -> None:
        delay = self._next.get(intent_id, (0.0, FIRST_RECHECK_S / 2))[1] * 2
        self._next[intent_id] = (now + delay, min(delay, MAX_RECHECK_S))

    def forget(self, intent_id: str) -> None:
        self._next.pop(intent_id, None)


def reconcile(ctx: Context, rechecks: Rechecks | None = None) -> int:
    """Look at intents older than the action lock that are due; returns how many were settled."""
    rechecks = rechecks or Rechecks()
    settled = 0
    now = ctx.clock()
    for intent in ctx.store.open_intents(now - LOCK_TTL_S):
        if not rechecks.due(intent["intent_id"], now):
            continue
        try:
            done = settle(ctx, intent)
        except FeishuError as err:  # Feishu unreachable: look again later
            log.warning("reconcile postponed: approval=%s code=%s", intent["approval_id"], err.code)
            done = False
        if done:
            rechecks.forget(intent["intent_id"])
            settled += 1
        else:
            rechecks.later(intent["intent_id"], now)
    return settled


def settle(ctx: Context, intent: dict) -> bool:
    """Settle the intent if its outcome is known (or can no longer be); False to look again later."""
    approval_id = intent["approval_id"]
    if intent["detail"].get("replayable") is False:
        log.warning("intent not replayed: approval=%s action=%s operator=%s was written before the kinds of "
                    "approval (its id may be an instance code sent as an attendance id); settled as %s, look at "
                    "it in Feishu", approval_id, intent["action"], intent["operator"] or "-", NOT_REPLAYABLE)
        _record(ctx, intent, NOT_REPLAYABLE, "", at=float(intent["created"]))  # when it was tried
        return True
    try:
        approval = load_approval(ctx, approval_id)
    except UnreadableApproval:
        ctx.store.finish_intent(intent["intent_id"], "abandoned", ctx.clock())
        return True
    except FeishuError as err:
        if not is_not_found(err):
            raise
        _record(ctx, intent, "abandoned", "")
        _tell(ctx, intent, "notice.vanished", "error")
        return True
    approval_type = approval.approval_type.value if approval.approval_type else ""
    if _applied(ctx, intent, approval):
        _record(ctx, intent, "done", approval_type)
        update_other_cards(ctx, approval_id, card_context.current_card(ctx, approval))
        _tell(ctx, intent, "notice.confirmed", "success")
        return True
    if ctx.clock() - float(intent["created"]) < ctx.config.settle_window_s:
        return False
    _record(ctx, intent, "unknown", approval_type)
    update_other_cards(ctx, approval_id, card_context.current_card(ctx, approval))
    _tell(ctx, intent, "notice.not_applied", "error")
    return True


def _applied(ctx: Context, intent: dict, approval: Approval) -> bool:
    """Did Feishu apply it? Native: the intent's task has moved on; linked: the attendance record reached the
    target. Intents without a kind (none is written any more) are judged by the instance status."""
    detail, target = intent["detail"], RULES[Action(intent["action"])].results_in
    if detail.get("kind") == Kind.NATIVE.value:
        return any(t.id == detail.get("task_id") and t.status.upper() != "PENDING" for t in approval.tasks)
    if detail.get("kind") == Kind.LINKED.value:
        record = find_linked_record(ctx, approval)
        return record is not None and record.state is target
    return approval.status is target


def _record(ctx: Context, intent: dict, outcome: str, approval_type: str, at: float | None = None) -> None:
    ctx.store.append_audit(AuditRecord(
        approval_id=intent["approval_id"], action=intent["action"], operator=intent["operator"], outcome=outcome,
        approval_type=approval_type, reason=str(intent["detail"].get("reason", "")), message="reconciled",
        at=ctx.clock() if at is None else at,
    ), settles=intent["intent_id"])


def _tell(ctx: Context, intent: dict, key: str, tone: str) -> None:
    """The person who acted learns how it ended (a one-to-one message: only open ids can be sent to)."""
    if not intent["operator"].startswith("ou_"):
        return
    action = cards.text(f"action.{intent['action']}", ctx.locale)
    minutes = str(int(ctx.config.settle_window_s // 60))
    text = cards.text(key, ctx.locale, id=intent["approval_id"], action=action, minutes=minutes)
    try:
        ctx.feishu.send_card(intent["operator"], card_context.notice_card(ctx, text, tone=tone), "open_id",
                             uuid=f"rc-{intent['intent_id']}")
    except FeishuError as err:
        log.warning("could not tell the operator: code=%s", err.code)


def run_once(ctx: Context, rechecks: Rechecks | None = None) -> None:
    now = ctx.clock()
    if not ctx.store.take_lease(f"maintenance:{int(now // INTERVAL_S)}", uuid.uuid4().hex, now + INTERVAL_S, now):
        return  # another instance runs this minute's round
    subscribe_configured(ctx)
    reconcile(ctx, rechecks)
    ctx.store.sweep(now)
    digest.maybe_send(ctx)


class Maintenance:
    """A daemon thread per process, started on its first request (after gunicorn forked the worker)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()
        self._rechecks = Rechecks()

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
            run_once(self._ctx, self._rechecks)
        except StoreUnavailable as err:  # one line a round, no traceback: /healthz says the rest
            log.warning("maintenance round skipped: store unavailable: %s", err.problem)
        except Exception:
            log.exception("maintenance round failed")

    def _loop(self) -> None:
        delay = 1.0  # a round soon after start-up: settle what a previous process left behind
        while not self._stop.wait(delay):
            self.run_round()
            delay = INTERVAL_S * (0.75 + 0.5 * (time.monotonic() % 1))  # jitter: instances drift apart
