"""A worker that died mid-action: the intent it left is settled by a lookup, never re-sent blindly."""

from __future__ import annotations

from handlers import maintenance
from sandbox.data import INSTANCES
from tests.integration.harness import card_text, wait_until


def ctx_of(bot):
    return bot.app.extensions["approval_bot"].ctx


def test_intent_that_reached_feishu_is_recorded_as_done(bot, sandbox):
    ctx = ctx_of(bot)
    approval = INSTANCES["remedy_pending"]
    reply = bot.say("manager", f"/approval {approval}")
    old = ctx.clock() - 120
    ctx.store.record_intent("dead-worker-1", approval, "approve", "ou_manager", old, {"reason": ""})
    sandbox.state.decide(approval, approve=True)  # Feishu applied it; the worker died before recording
    assert maintenance.reconcile(ctx) == 1
    assert [(r.action, r.outcome) for r in ctx.store.history(approval)] == [("approve", "done")]
    assert ctx.store.open_intents(ctx.clock()) == []
    assert wait_until(lambda: "Manager Wang" in card_text(bot.card(reply)))
    assert sandbox.action_calls() == []


def test_intent_that_never_arrived_is_looked_for_then_reported_not_resent(bot, sandbox):
    ctx = ctx_of(bot)
    approval = INSTANCES["remedy_pending"]
    ctx.store.record_intent("dead-worker-2", approval, "approve", "ou_manager", ctx.clock() - 120, {})
    assert maintenance.reconcile(ctx) == 0  # inside the settle window: Feishu may still apply it
    assert ctx.store.history(approval) == [] and len(ctx.store.open_intents(ctx.clock())) == 1
    ctx.store.record_intent("dead-worker-3", INSTANCES["remedy_pending_2"], "approve", "ou_manager",
                            ctx.clock() - 700, {})
    assert maintenance.reconcile(ctx) == 1  # the other one is past BOT_SETTLE_WINDOW_S (600 s)
    assert ctx.store.history(INSTANCES["remedy_pending_2"])[-1].outcome == "unknown"
    assert sandbox.action_calls() == []
    approval = INSTANCES["remedy_pending_2"]
    told = [m for m in sandbox.messages("oc_p2p_manager") if approval in card_text(m["content"])]
    assert len(told) == 1


def test_fresh_intents_are_left_to_their_worker(bot):
    ctx = ctx_of(bot)
    ctx.store.record_intent("live-worker", INSTANCES["remedy_pending"], "approve", "ou_manager", ctx.clock(), {})
    assert maintenance.reconcile(ctx) == 0
