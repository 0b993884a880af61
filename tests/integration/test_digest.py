"""The daily digest: once a day across instances, only to approvers with something pending."""

from __future__ import annotations

from bot.app import shutdown
from handlers import digest
from sandbox.data import INSTANCES
from tests.integration.harness import card_text, start_bot


def test_due_day_respects_time_and_zone():
    # 2026-11-25 01:30 UTC is 09:30 in Shanghai
    now = 1795570200.0
    assert digest.due_day("09:00", "Asia/Shanghai", now) == "2026-11-25"
    assert digest.due_day("10:00", "Asia/Shanghai", now) is None
    assert digest.due_day("", "Asia/Shanghai", now) is None


def test_digest_goes_once_to_approvers_with_pending_tasks(sandbox, tmp_path):
    bot = start_bot(sandbox, tmp_path, BOT_DIGEST_TIME="00:00")
    try:
        ctx = bot.app.extensions["approval_bot"].ctx
        ctx.store.remember_approvers(["ou_manager", "ou_stranger"], ctx.clock())
        assert digest.maybe_send(ctx) == 1
        to_manager = sandbox.messages("oc_p2p_manager")
        assert len(to_manager) == 1 and INSTANCES["remedy_pending"] in card_text(to_manager[0]["content"])
        assert sandbox.messages("oc_p2p_stranger") == []
        assert digest.maybe_send(ctx) == 0  # today's lease is taken
        other = start_bot(sandbox, tmp_path)  # a second instance on the same store
        other_ctx = other.app.extensions["approval_bot"].ctx
        try:
            assert digest.maybe_send(ctx) == 0 and digest.maybe_send(other_ctx) == 0
        finally:
            other.server.stop()
            shutdown(other.app)
    finally:
        bot.server.stop()
        shutdown(bot.app)


def test_looking_at_an_approval_makes_its_approvers_known(bot):
    bot.say("manager", f"/approval {INSTANCES['remedy_pending_2']}")
    ctx = bot.app.extensions["approval_bot"].ctx
    assert set(ctx.store.approvers(0)) == {"ou_manager", "ou_manager2"}
