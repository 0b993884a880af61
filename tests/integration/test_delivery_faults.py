"""The real app, the real lark-oapi client and a real SQLite file against the sandbox: a store whose file is
deleted, Feishu down while the bot replies, and the headers of every answer."""

from __future__ import annotations

from pathlib import Path

import cards
from sandbox.data import INSTANCES
from tests.integration.harness import card_text

PENDING = INSTANCES["remedy_pending"]


def database(bot) -> Path:
    return Path(bot.config.database_url.removeprefix("sqlite:///"))


def test_a_deleted_database_gets_a_toast_for_clicks_and_503_for_events_never_500(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    database(bot).unlink()
    answer = bot.click("manager", reply, "approve")
    assert answer.status == 200 and not answer.late
    assert (answer.toast["type"], answer.toast["content"]) == ("error", cards.text("toast.store_unavailable", "en_us"))
    sent = bot.sender.message("manager", f"/approve {PENDING}")
    assert (sent.status, sent.json) == (503, {"code": 503, "msg": "busy, retry later"})
    assert sandbox.action_calls() == []
    assert len(sandbox.calls_for("message_reply")) == 1  # the /approval card, before the file went
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "PENDING"
    assert not database(bot).exists()  # not silently re-created empty


def test_a_reply_feishu_fails_twice_still_arrives_once(bot, sandbox):
    sandbox.inject("message_reply", http_status=503, times=2)
    sent = bot.sender.message("manager", f"/approve {PENDING}")
    assert sent.status == 200
    assert bot.settled.wait(sent.event_id) == "handled"
    reply = bot.reply_to(sent.message_id, wait_s=0)
    assert reply is not None and "Manager" in card_text(reply["content"])
    assert len(sandbox.calls_for("message_reply")) == 3 and len(sandbox.action_calls()) == 1
    assert len([m for m in sandbox.messages() if m.get("parent_id") == sent.message_id]) == 1


def test_every_answer_says_nosniff_the_challenge_included(bot):
    challenge = bot.sender.url_verification()
    refused = bot.sender.post({"Content-Type": "application/json"}, b"{}", "/webhook/event")
    for answer in (challenge, refused):
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", answer.status
    assert challenge.status == 200 and refused.status in (400, 401)


def test_a_reply_feishu_keeps_failing_arrives_as_a_new_message_in_the_chat(bot, sandbox):
    sandbox.inject("message_reply", http_status=503)  # down for replies for good
    sent = bot.sender.message("manager", f"/approve {PENDING}")
    assert sent.status == 200 and bot.settled.wait(sent.event_id) == "handled"
    chat_id = sent.payload["event"]["message"]["chat_id"]
    [fallback] = [m for m in sandbox.messages(chat_id) if m.get("message_type", m.get("msg_type")) == "interactive"]
    assert "Manager" in card_text(fallback["content"]) and not fallback.get("parent_id")
    assert len(sandbox.calls_for("message_reply")) == 4 and len(sandbox.action_calls()) == 1
