"""Approval events from Feishu: approvers get the card, and every card already sent follows the state."""

from __future__ import annotations

import time

from sandbox.data import SAMPLES
from sandbox.state import EventTarget
from tests.integration.harness import ENCRYPT_KEY, TOKEN, card_text, find_buttons, wait_until


def test_new_pending_approval_is_pushed_to_its_approvers(bot, sandbox):
    approval = SAMPLES["remedy_pending_2"]
    answer = bot.sender.approval_instance(approval, "PENDING")
    assert answer.status == 200
    assert wait_until(lambda: len([m for m in sandbox.messages() if approval in card_text(m["content"])]) >= 2)
    chats = {m["chat_id"] for m in sandbox.messages() if approval in card_text(m["content"])}
    assert chats == {"oc_p2p_manager", "oc_p2p_manager2"}
    again = bot.sender.approval_instance(approval, "PENDING")  # another delivery of the same news
    assert again.status == 200
    time.sleep(0.3)
    assert len([m for m in sandbox.messages() if approval in card_text(m["content"])]) == 2


def test_status_changed_elsewhere_updates_cards_already_sent(bot, sandbox):
    approval = SAMPLES["remedy_pending"]
    reply = bot.say("manager", f"/approval {approval}")
    assert find_buttons(reply["content"])
    sandbox.state.set_status(approval, "APPROVED")  # approved in the Feishu app, not through the bot
    bot.sender.approval_instance(approval, "APPROVED")
    assert wait_until(lambda: not [v for v in find_buttons(bot.card(reply)) if v["action"] == "approve"])


def test_sandbox_events_after_the_bots_own_action_keep_the_final_card(bot, sandbox):
    sandbox.state.event_target = EventTarget(bot.server.url, ENCRYPT_KEY, TOKEN)
    approval = SAMPLES["remedy_pending"]
    reply = bot.say("manager", f"/approval {approval}")
    bot.click("manager", reply, "approve")
    assert wait_until(lambda: len(sandbox.calls_for("instance_get")) >= 3)
    time.sleep(0.5)
    assert "Manager Wang" in card_text(bot.card(reply))
    assert len(sandbox.process_calls()) == 1
