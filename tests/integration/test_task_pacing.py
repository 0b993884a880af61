"""Task calls allow 100 a minute (approval v4 tasks/approve and tasks/reject pages): a batch paces itself under
that, and a call answered 429 — refused before it reached the API — is sent again after `x-ogw-ratelimit-reset`,
within a budget, never taken for "outcome unknown". The real lark-oapi client against the sandbox, whose clock
moves with the gateway's injected one (no real waiting), then the whole bot once with a real one-second reset."""

from __future__ import annotations

import pytest

from bot.feishu import TASK_CALLS_PER_MINUTE, FeishuGateway
from core.errors import FeishuError
from sandbox import data, worlds
from tests.integration.harness import card_text, find_buttons
from tests.integration.test_card_pacing import Clock

PURCHASE = data.DEFINITIONS["purchase"]["approval_code"]
STEP_ONE = worlds.NATIVE["purchase_step1"]


def gateway_of(sandbox) -> tuple[FeishuGateway, Clock]:
    clock = Clock(sandbox)
    return FeishuGateway(sandbox.app_id, sandbox.app_secret, sandbox.url, clock=clock, sleep=clock.sleep), clock


def pending_task(sandbox, instance_code: str) -> dict:
    return next(t for t in sandbox.state.instances[instance_code]["task_list"] if t["status"] == "PENDING")


def approve_step_one(gateway: FeishuGateway, sandbox) -> dict:
    task = pending_task(sandbox, STEP_ONE)
    return gateway.act_on_task("approve", PURCHASE, STEP_ONE, task["id"], task["open_id"], comment="ok")


def refused_call(gateway: FeishuGateway) -> None:
    """A task call Feishu counts against the limit and refuses (no such user): it changes nothing."""
    with pytest.raises(FeishuError) as refused:
        gateway.act_on_task("approve", PURCHASE, STEP_ONE, "0", "ou_nobody")
    assert refused.value.code == 1390001


def passes(sandbox, instance_code: str) -> list[dict]:
    return [e for e in sandbox.state.instances[instance_code]["timeline"] if e["type"] == "PASS"]


def test_a_batch_of_task_calls_paces_itself_and_none_is_refused(sandbox):
    gateway, clock = gateway_of(sandbox)
    for _ in range(TASK_CALLS_PER_MINUTE - 5):
        refused_call(gateway)
    clock.sleep(30.0)  # half a minute later, a batch of ten: five fit in this minute, five wait for the next
    for _ in range(9):
        refused_call(gateway)
    approve_step_one(gateway, sandbox)
    statuses = [c.status for c in sandbox.calls_for("task_approve")]
    assert len(statuses) == TASK_CALLS_PER_MINUTE + 5 and 429 not in statuses
    assert 30.0 <= sum(clock.slept) - 30.0 < 31.0  # one wait of about half a minute, for the sixth of the batch
    assert len(passes(sandbox, STEP_ONE)) == 1


def test_a_task_call_answered_429_is_sent_again_after_the_reset_and_applied_once(sandbox):
    gateway, clock = gateway_of(sandbox)
    sandbox.inject("task_approve", rate_limit_reset_s=3, times=1)
    approve_step_one(gateway, sandbox)
    assert [c.status for c in sandbox.calls_for("task_approve")] == [429, 200]
    assert clock.slept == [3.0]  # x-ogw-ratelimit-reset, in seconds
    assert len(passes(sandbox, STEP_ONE)) == 1


def test_a_reset_beyond_the_budget_fails_as_rate_limited_and_the_rest_of_a_batch_is_not_sent(sandbox):
    gateway, clock = gateway_of(sandbox)
    sandbox.inject("task_approve", rate_limit_reset_s=gateway.task_wait_s + 10, times=1)
    with pytest.raises(FeishuError) as limited:
        approve_step_one(gateway, sandbox)
    assert limited.value.kind == "rate_limit" and not limited.value.outcome_unknown
    with pytest.raises(FeishuError) as held:  # the next item of the batch: refused here, without a call
        approve_step_one(gateway, sandbox)
    assert held.value.kind == "rate_limit" and held.value.retry_after_s is not None
    assert [c.status for c in sandbox.calls_for("task_approve")] == [429]
    assert clock.slept == [] and passes(sandbox, STEP_ONE) == []


def test_a_click_answered_429_is_approved_once_after_the_reset(bot, sandbox):
    """The whole bot: the manager's click, one 429 with a one-second reset, one re-send, one effect."""
    reply = bot.say("lead", f"/approval {STEP_ONE}")
    assert [v["action"] for v in find_buttons(reply["content"])] == ["approve", "reject"]
    sandbox.inject("task_approve", rate_limit_reset_s=1, times=1)
    answer = bot.click("lead", reply, "approve")
    assert answer.status == 200 and answer.toast["type"] == "success", answer.toast
    assert [(c.endpoint, c.status) for c in sandbox.action_calls()] == [("task_approve", 429), ("task_approve", 200)]
    assert len(passes(sandbox, STEP_ONE)) == 1
    assert [(r.action, r.outcome) for r in bot.store.history(STEP_ONE)] == [("approve", "done")]
    assert "Lead Chen" in card_text(bot.card(reply))


def test_a_429_page_from_a_proxy_is_not_taken_for_outcome_unknown(sandbox):
    """A 429 without Feishu's JSON (a proxy's page): still refused before the API, so sent again (after a second,
    with no reset header), not looked up as a write whose answer was lost."""
    gateway, clock = gateway_of(sandbox)
    sandbox.inject("task_approve", http_status=429, body="<html>429 Too Many Requests</html>", times=1)
    approve_step_one(gateway, sandbox)
    assert [c.status for c in sandbox.calls_for("task_approve")] == [429, 200]
    assert clock.slept == [1.0] and len(passes(sandbox, STEP_ONE)) == 1
