"""Approval events for real: the bot subscribes `BOT_APPROVAL_CODES` once, Feishu then pushes `approval_task`
events as tasks change, and the approver whose turn it is gets the card — once per task."""

from __future__ import annotations

from typing import Any

import requests

from bot.app import shutdown
from sandbox import data, worlds
from tests.integration.harness import card_text, start_bot, wait_until

PURCHASE = data.DEFINITIONS["purchase"]["approval_code"]
STEP_ONE = worlds.NATIVE["purchase_step1"]


def _feishu(sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    token = requests.post(f"{sandbox.url}/open-apis/auth/v3/tenant_access_token/internal", timeout=5,
                          json={"app_id": sandbox.app_id, "app_secret": sandbox.app_secret}).json()
    return requests.post(f"{sandbox.url}{path}", json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token['tenant_access_token']}"}).json()


def _cards_for(sandbox, user: str) -> list[dict[str, Any]]:
    """The cards of this purchase the bot sent to `user` (its item is on the card; the code need not be)."""
    return [m for m in sandbox.messages(data.p2p_chat(user)) if "Ergonomic chair" in card_text(m["content"])]


def test_the_next_approvers_get_the_card_when_the_first_step_passes(subscribed_bot, sandbox):
    instance = sandbox.state.instances[STEP_ONE]
    task = next(t for t in instance["task_list"] if t["status"] == "PENDING")
    answer = _feishu(sandbox, "/open-apis/approval/v4/tasks/approve?user_id_type=open_id",
                     {"approval_code": PURCHASE, "instance_code": STEP_ONE, "task_id": task["id"],
                      "user_id": task["open_id"], "comment": "ok"})
    assert answer["code"] == 0, answer
    # step two is an AND node of finance and office: each gets the card, once
    assert wait_until(lambda: _cards_for(sandbox, "finance") and _cards_for(sandbox, "office"), 10)
    assert not _cards_for(sandbox, "lead")
    finance_task = next(t for t in sandbox.state.instances[STEP_ONE]["task_list"]
                        if t["status"] == "PENDING" and t["open_id"] == sandbox.state.people["finance"]["open_id"])
    again = subscribed_bot.sender.approval_task(STEP_ONE, finance_task["id"], "PENDING", approval_code=PURCHASE,
                                                open_id=finance_task["open_id"], user_id=finance_task["user_id"])
    assert again.status == 200  # Feishu pushes PENDING again (AND nodes do): no second card
    subscribed_bot.settled.wait(again.event_id)
    assert len(_cards_for(sandbox, "finance")) == 1


def test_subscriptions_happen_once_per_deployment(subscribed_bot, sandbox, tmp_path):
    second = start_bot(sandbox, tmp_path, BOT_APPROVAL_CODES=PURCHASE)  # another process on the same store
    try:
        requests.get(second.server.url + "/healthz", timeout=5)
        second_ctx = second.app.extensions["approval_bot"].ctx
        from handlers.subscriptions import subscribe_configured

        assert subscribe_configured(second_ctx) == 0
        assert len(sandbox.calls_for("approval_subscribe")) == 1
    finally:
        second.server.stop()
        shutdown(second.app)
