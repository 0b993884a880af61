"""Slow, failing and rate-limited Feishu: answered in time, said clearly, never done twice."""

from __future__ import annotations

import time

import pytest

import cards
from sandbox import worlds
from sandbox.data import INSTANCES
from tests.integration.harness import card_text, wait_until

PENDING = INSTANCES["remedy_pending"]  # native: tasks/approve as the manager
LINKED = worlds.NATIVE["linked_remedy_pending"]  # linked: process on its attendance record, by its approver "lead"
VALUE = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}




@pytest.mark.parametrize(("endpoint", "user", "approval"), [("task_approve", "manager", PENDING),
                                                          ("process", "lead", LINKED)])
def test_a_slow_action_answers_in_time_then_updates_the_card(bot, sandbox, endpoint, user, approval):
    reply = bot.say(user, f"/approval {approval}")
    sandbox.inject(endpoint, latency_s=3.5, times=1)
    answer = bot.click(user, reply, "approve")
    assert answer.status == 200 and not answer.late, answer.elapsed_s
    assert answer.toast["type"] == "info"  # "processing…"
    assert wait_until(lambda: sandbox.calls_for("card_update"))
    name = {"manager": "Manager Wang", "lead": "Lead Chen"}[user]
    assert wait_until(lambda: name in card_text(bot.card(reply)))
    assert [c.endpoint for c in sandbox.action_calls()] == [endpoint]


def test_slow_lookup_is_answered_in_time_too(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    sandbox.inject("instance_get", latency_s=1.9, times=2)
    answer = bot.click("manager", reply, "approve")
    assert not answer.late
    assert wait_until(lambda: sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED")
    assert len(sandbox.action_calls()) == 1


@pytest.mark.parametrize(
    "code,expected",
    [
        (1220001, "1220001"),
        (1220002, "1220002"),
        (1220004, "1220004"),
        (1220005, "1220005"),
        (1220600, "1220600"),
        (1225000, "1225000"),
        (1226500, "1226500"),
        (1227500, "1227500"),
    ],
)
def test_each_seed_error_code_has_a_message_with_the_log_id(bot, sandbox, code, expected):
    import cards

    reply = bot.say("lead", f"/approval {LINKED}")
    sandbox.inject("process", code=code, http_status=400 if code < 1225000 else 500, times=1)
    answer = bot.click("lead", reply, "approve")
    assert answer.toast["type"] == "error"
    message = cards.text(f"error.feishu.{expected}", "en_us")
    assert message in answer.toast["content"]
    log_id = sandbox.action_calls()[-1].log_id
    assert log_id and log_id in answer.toast["content"]
    assert len(sandbox.action_calls()) == 1
    audit = bot.store.history(LINKED)[-1]
    assert (audit.outcome, audit.code, audit.log_id) == ("failed", code, log_id)


def test_process_is_never_retried_blindly_after_a_5xx(bot, sandbox):
    bot.say("lead", f"/approval {LINKED}")
    sandbox.inject("process", http_status=502, times=1)
    reply = bot.say("lead", f"/approve {LINKED}")
    assert len(sandbox.action_calls()) == 1
    assert sandbox.state.attendance[worlds.RECORDS["remedy_linked"]]["status"] == 0
    # the sandbox answers 502 with attendance's own internal-error code: the manager is told to look first
    assert "Feishu Attendance had an internal error. Look at the record before trying again." in card_text(
        reply["content"])


def test_applied_but_answer_lost_is_reconciled_by_a_lookup(bot, sandbox):
    sandbox.inject("task_approve", drop_after_apply=True, times=1)
    reply = bot.say("manager", f"/approve {PENDING}")
    assert len(sandbox.action_calls()) == 1
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"
    assert "Manager Wang" in card_text(reply["content"])
    assert bot.store.history(PENDING)[-1].outcome == "done"


def test_reads_retry_rate_limits_honouring_the_reset_header(bot, sandbox):
    sandbox.inject("instance_get", rate_limit_reset_s=0.3, times=1)
    started = time.monotonic()
    reply = bot.say("manager", f"/approval {PENDING}")
    assert time.monotonic() - started >= 0.3
    assert "Employee Zhang" in card_text(reply["content"])
    assert len(sandbox.calls_for("instance_get")) == 2


def test_reads_retry_5xx(bot, sandbox):
    sandbox.inject("instance_get", http_status=503, times=1)
    reply = bot.say("manager", f"/approval {PENDING}")
    assert "Employee Zhang" in card_text(reply["content"])


def test_rejected_token_is_refreshed_once(bot, sandbox):
    bot.say("manager", "/help")  # warm the token
    sandbox.state.revoke_tokens()
    reply = bot.say("manager", f"/approval {PENDING}")
    assert "Employee Zhang" in card_text(reply["content"])


def test_rate_limited_process_says_so(bot, sandbox):
    import cards

    sandbox.inject("process", rate_limit_reset_s=1, times=1)
    reply = bot.say("lead", f"/approve {LINKED}")
    assert cards.text("error.feishu.99991400", "en_us") in card_text(reply["content"])
    assert len(sandbox.action_calls()) == 1
