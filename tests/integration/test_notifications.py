"""Approval events from Feishu: approvers get the card, and every card already sent follows the state."""

from __future__ import annotations

import time

from sandbox.data import INSTANCES
from sandbox.state import EventTarget
from tests.integration.harness import ENCRYPT_KEY, TOKEN, card_text, find_buttons, wait_until


def _pending_tasks(sandbox, approval):
    return [t for t in sandbox.state.instances[approval]["task_list"] if t["status"] == "PENDING"]


def test_each_approver_whose_task_is_pending_gets_the_card_once(bot, sandbox):
    approval = INSTANCES["remedy_pending_2"]
    code = sandbox.state.instances[approval]["approval_code"]
    for task in _pending_tasks(sandbox, approval):
        sent = bot.sender.approval_task(approval, task["id"], "PENDING", approval_code=code,
                                        open_id=task["open_id"], user_id=task["user_id"])
        assert sent.status == 200
        bot.settled.wait(sent.event_id)
    chats = {m["chat_id"] for m in sandbox.messages() if approval in card_text(m["content"])}
    assert chats == {"oc_p2p_manager", "oc_p2p_manager2"}
    task = _pending_tasks(sandbox, approval)[0]
    again = bot.sender.approval_task(approval, task["id"], "PENDING", approval_code=code, open_id=task["open_id"],
                                     user_id=task["user_id"])  # a new event id: Feishu re-pushes AND nodes
    bot.settled.wait(again.event_id)
    assert len([m for m in sandbox.messages() if approval in card_text(m["content"])]) == 2


def test_an_instance_event_pushes_no_new_cards(bot, sandbox):
    approval = INSTANCES["remedy_pending_2"]
    sent = bot.sender.approval_instance(approval, "PENDING")
    assert sent.status == 200
    bot.settled.wait(sent.event_id)
    assert [m for m in sandbox.messages() if approval in card_text(m["content"])] == []


def test_status_changed_elsewhere_updates_cards_already_sent(bot, sandbox):
    approval = INSTANCES["remedy_pending"]
    reply = bot.say("manager", f"/approval {approval}")
    assert find_buttons(reply["content"])
    sandbox.state.decide(approval, approve=True)  # approved in the Feishu app, not through the bot
    bot.sender.approval_instance(approval, "APPROVED")
    assert wait_until(lambda: not [v for v in find_buttons(bot.card(reply)) if v["action"] == "approve"])


def test_sandbox_events_after_the_bots_own_action_keep_the_final_card(bot, sandbox):
    sandbox.state.event_target = EventTarget(bot.server.url, ENCRYPT_KEY, TOKEN)
    approval = INSTANCES["remedy_pending"]
    sandbox.state.subscribe(sandbox.state.instances[approval]["approval_code"])
    reply = bot.say("manager", f"/approval {approval}")
    bot.click("manager", reply, "approve")
    # Feishu pushes the task's APPROVED and the instance's APPROVED after the bot's own tasks/approve
    assert sandbox.state.wait_notifications(2)
    assert [(n["type"], n["status"], n["http_status"]) for n in sandbox.state.notifications] == [
        ("approval_task", "APPROVED", 200), ("approval_instance", "APPROVED", 200)]
    time.sleep(0.5)
    assert "Manager Wang" in card_text(bot.card(reply))
    assert len(sandbox.action_calls()) == 1
