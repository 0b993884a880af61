"""A task call Feishu still throttles after the gateway's re-sends (bot/feishu.py) was not applied: the action
failed and may be tried again; it is not "outcome unknown" (no settling lookups, no open intent, no "checking")."""

from __future__ import annotations

import pytest

from core.errors import FeishuError
from core.outcome import Status
from core.rules import Action, Actor
from handlers.workflow import ActionRequest, act
from tests import samples
from tests.fakes import FakeGateway, FakeStore, make_context


def test_a_throttled_task_call_fails_as_rate_limited_and_settles_its_intent():
    data = samples.remedy_pending()  # native: acted on through the manager's task
    code = data["instance_code"]
    gateway = FakeGateway(instances={code: data})
    gateway.process_error = FeishuError(99991400, "request trigger frequency limit", kind="rate_limit",
                                        http_status=429, retry_after_s=50.0, log_id="log-429")
    store = FakeStore()
    ctx = make_context(gateway, store)
    reply = act(ctx, ActionRequest(Action.APPROVE, code, Actor("ou_manager", "u_manager")), as_message=True)
    assert reply.toast.kind == "error" and "rate-limiting" in reply.toast.text and "log-429" in reply.toast.text
    assert gateway.count("task_approve") == 1 and gateway.count("instance_get") == 1  # no settling lookups
    assert [i["state"] for i in store.intents.values()] == ["failed"]
    assert [(r.outcome, r.code) for r in store.audit] == [("failed", 99991400)]
    assert data["status"] == "PENDING" and store.last_success(code) is None
    assert Status.UNKNOWN.value not in {r.outcome for r in store.audit}


def test_the_task_call_limit_is_feishus_unless_set_and_a_bad_value_is_refused():
    from bot.config import ConfigError, load_config

    base = {"FEISHU_APP_ID": "cli_a", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "t",
            "FEISHU_ENCRYPT_KEY": "k"}
    assert load_config(base).task_calls_per_minute == 100
    assert load_config({**base, "BOT_TASK_CALLS_PER_MINUTE": "500"}).task_calls_per_minute == 500
    with pytest.raises(ConfigError, match="BOT_TASK_CALLS_PER_MINUTE"):
        load_config({**base, "BOT_TASK_CALLS_PER_MINUTE": "0"})
