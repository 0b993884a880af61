"""The bot itself over the long connection: `/approval`, a button approval and an approval event act exactly as
through the webhook, a re-pushed event acts once, and webhook and long connection share one store.

The long-connection bot is a second bot on the same SQLite store whose frames go through `pipeline_handle`, the
same `dispatch` the webhook calls (no token, no signature: Feishu authenticated the connection).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.app import shutdown
from bot.longconn import pipeline_handle, pipeline_triage
from sandbox.data import INSTANCES
from sandbox.longconn import long_connection_sender
from tests.integration.harness import Bot, card_text, find_buttons, start_bot
from tests.longconn.conftest import wait_until

PENDING = INSTANCES["remedy_pending"]


@pytest.fixture
def bots(sandbox, tmp_path) -> Iterator[tuple[Bot, Bot]]:
    """(webhook bot, long-connection bot): two processes' worth of bot on one SQLite store."""
    webhook, longconn = start_bot(sandbox, tmp_path), start_bot(sandbox, tmp_path)
    try:
        yield webhook, longconn
    finally:
        sandbox.release_holds()
        for running in (webhook, longconn):
            running.server.stop()
            shutdown(running.app)


@pytest.fixture
def handled(bots, connect, hub, sandbox) -> list[dict[str, Any]]:
    """The long-connection bot wired as `approval-bot connect` is (bot/cli.py): the pipeline's triage on the event
    loop, its handle in the pool; the payloads that reached the handle."""
    _, longconn = bots
    services = longconn.app.extensions["approval_bot"]
    pooled = pipeline_handle(services.dispatch, longconn.config.app_id, longconn.config.answer_budget_s)
    reached: list[dict[str, Any]] = []

    def handle(payload: dict[str, Any]) -> Any:
        reached.append(payload)
        return pooled(payload)

    connect(handle, triage=pipeline_triage(services.settle, longconn.config.app_id))
    return reached


@pytest.fixture
def over_ws(bots, handled, hub, sandbox) -> Bot:
    """The long-connection bot, driven through the sandbox's WebSocket (messages as events, clicks as cards)."""
    _, longconn = bots
    return Bot(sandbox, longconn.server, long_connection_sender(hub, sandbox.state, timeout=5), longconn.app,
               longconn.config, longconn.settled)


def test_chatter_is_answered_on_the_event_loop_and_commands_in_the_pool(over_ws, handled, hub):
    chatter = over_ws.sender.message("employee", "lunch at noon?", chat="group")
    command = over_ws.sender.message("manager", "/help")
    assert chatter.ok and command.ok and over_ws.reply_to(command.message_id) is not None
    assert [p["event"]["message"]["message_id"] for p in handled] == [command.message_id]
    assert [d.kind for d in hub.deliveries] == ["event", "event"]


def test_approval_command_then_button_approval(over_ws, hub, sandbox):
    reply = over_ws.say("manager", f"/approval {PENDING}")
    assert reply is not None and [v["action"] for v in find_buttons(reply["content"])] == ["approve", "reject"]
    answer = over_ws.click("manager", reply, "approve")
    assert answer.ok and not answer.late and answer.toast["type"] == "success"
    assert [d.kind for d in hub.deliveries] == ["event", "card"]
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"
    assert len(sandbox.action_calls()) == 1
    assert "Manager Wang" in card_text(over_ws.card(reply))  # the card in the reply frame replaced the old one


def test_an_approval_event_sends_the_approvers_their_cards(over_ws, sandbox):
    approval = INSTANCES["remedy_pending_2"]
    code = sandbox.state.instances[approval]["approval_code"]
    for task in [t for t in sandbox.state.instances[approval]["task_list"] if t["status"] == "PENDING"]:
        assert over_ws.sender.approval_task(approval, task["id"], "PENDING", approval_code=code,
                                            open_id=task["open_id"], user_id=task["user_id"]).ok
    assert wait_until(lambda: {m["chat_id"] for m in sandbox.messages() if approval in card_text(m["content"])}
                      == {"oc_p2p_manager", "oc_p2p_manager2"}, 8)


def test_a_repushed_event_acts_once(over_ws, hub, sandbox):
    sent = over_ws.sender.message("manager", f"/approve {PENDING}")
    assert sent.ok and over_ws.reply_to(sent.message_id) is not None
    assert hub.push_event(sent.payload).accepted  # Feishu pushes it again
    assert len(sandbox.action_calls()) == 1
    assert len([m for m in sandbox.messages() if m.get("parent_id") == sent.message_id]) == 1


def test_webhook_and_long_connection_at_once_act_once(bots, over_ws, hub, sandbox):
    webhook, _ = bots
    payload = webhook.sender.message_payload("manager", f"/approve {PENDING}")
    message = payload["event"]["message"]
    sandbox.state.record_user_message("ou_manager", message["chat_id"], "", message_id=message["message_id"],
                                      message_type="text", content=message["content"])
    results: dict[str, Any] = {}
    sealed = webhook.sender.seal(payload)
    both = [threading.Thread(target=lambda: results.update(webhook=webhook.sender.post(*sealed))),
            threading.Thread(target=lambda: results.update(longconn=hub.push_event(payload)))]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(10)
    assert results["webhook"].status in (200, 503)  # 503: the other delivery holds the claim; Feishu retries
    assert wait_until(lambda: any(d.accepted for d in hub.deliveries_of(payload)), 5)
    assert len(sandbox.action_calls()) == 1
    assert len([m for m in sandbox.messages() if m.get("parent_id") == message["message_id"]]) == 1
