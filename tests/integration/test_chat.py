"""How the bot behaves in chat: help, mentions, pending lists, duplicates."""

from __future__ import annotations

import json

import cards
from sandbox.data import INSTANCES, RECORD_IDS
from tests.integration.harness import card_text, find_buttons


def test_help_and_unknown_commands(bot):
    text = card_text(bot.say("manager", "/help")["content"])
    for command in ("/approval", "/approve", "/reject", "/revoke", "/pending", "/history"):
        assert command in text
    unknown = card_text(bot.say("manager", "/frobnicate")["content"])
    assert "frobnicate" in unknown and "/approve" in unknown
    assert "/approve" in card_text(bot.say("manager", "hello")["content"])


def test_bad_arguments_get_usage_without_any_call(bot, sandbox):
    before = len(sandbox.calls_for("instance_get"))
    bot.say("manager", "/approval")
    bot.say("manager", "/approval ../../etc/passwd")
    assert len(sandbox.calls_for("instance_get")) == before


def test_group_messages_need_a_mention(bot, sandbox):
    assert bot.say("manager", "/help", chat="group") is None
    assert bot.say("manager", "/help", chat="group", mention=True) is not None


def test_pending_lists_my_tasks_with_buttons(bot):
    reply = bot.say("manager", "/pending")
    values = find_buttons(reply["content"])
    assert {"action": "approve", "approval_id": INSTANCES["remedy_pending"], "approval_type": "remedy",
            "list": {"page_token": "", "page": 1}, "v": cards.CARD_VERSION} in values


def test_approve_all_shown(bot, sandbox):
    reply = bot.say("manager", "/pending")
    all_button = [v for v in find_buttons(reply["content"]) if v.get("action") == "approve_all"]
    assert all_button
    answer = bot.sender.click("manager", all_button[0], message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.status == 200
    ids = all_button[0]["approval_ids"]
    linked_without_record = INSTANCES["attendance_field"]  # names an attendance record attendance does not list
    linked = INSTANCES["linked_remedy"]  # acted on through the record its form names
    assert linked_without_record not in ids  # its record's state is unknown: nothing is offered for it
    assert {linked, INSTANCES["purchase_two_step"]} <= set(ids)
    instances = {i for i in ids if i in sandbox.state.instances}
    records = set(ids) - instances  # attendance records the list shows, if any
    assert {c.json["instance_code"] for c in sandbox.calls_for("task_approve")} == instances - {linked}
    assert {c.json["approval_id"] for c in sandbox.process_calls()} == records | {RECORD_IDS["remedy_linked"]}
    assert bot.store.history(linked_without_record) == []


def test_redelivered_message_acts_once(bot, sandbox):
    sent = bot.sender.message("manager", f"/approve {INSTANCES['remedy_pending']}")
    assert bot.reply_to(sent.message_id) is not None
    again = bot.sender.resend(sent)
    assert again.status == 200
    assert len(sandbox.action_calls()) == 1
    assert len([m for m in sandbox.messages() if m.get("parent_id") == sent.message_id]) == 1


def test_strangers_cannot_read_approvals(bot):
    reply = bot.say("stranger", f"/approval {INSTANCES['remedy_pending']}")
    assert "Employee Zhang" not in card_text(reply["content"])


def test_every_widget_card_renders(bot):
    reply = bot.say("admin", f"/approval {INSTANCES['every_widget']}")
    assert reply is not None and reply["content"]["schema"] == "2.0"


def test_pending_pages_through_many_tasks(bot, sandbox):
    from sandbox.data import seed_pending

    seed_pending(sandbox.state, approver="manager", n=25)
    reply = bot.say("manager", "/pending")
    next_page = [v for v in find_buttons(reply["content"]) if v.get("action") == "pending_page"]
    assert next_page and next_page[0]["page"] == 2
    answer = bot.sender.click("manager", next_page[0], message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.status == 200 and answer.card is not None
    assert len(json.dumps(answer.card, ensure_ascii=False).encode()) <= 30 * 1024
