"""Names, not ids, through the real app and lark-oapi against the sandbox's contact API: users/batch and
department GET, each reader's language, the second card without a contact call, and a contact API that fails
leaving the card readable within the answer budget."""

from __future__ import annotations

import time

from tests.cardwalk import read

CONTACT = ("user_batch", "department_get", "user_get")


def _submission(sandbox) -> str:
    """agent1's request naming a witness (contact), a department, a travel companion and a cc'd colleague."""
    form = [
        {"id": "w_reason", "name": "事由 Reason", "type": "input", "value": "客户现场 customer site"},
        {"id": "w_witness", "name": "证明人 Witness", "type": "contact", "value": ["u_agent2"],
         "open_ids": ["ou_agent2"]},
        {"id": "w_department", "name": "协作部门 Departments", "type": "department",
         "value": [{"open_id": "od-ops"}]},
        {"id": "w_trip", "name": "出差 Trip", "type": "tripGroup", "value": {
            "schedule": [{"start": "2026-11-23T09:00:00+08:00", "end": "2026-11-23T18:00:00+08:00",
                          "interval": 1.0, "departure": "中国/北京", "destination": "中国/上海",
                          "transportation": "Train", "oneRound": "One Way"}],
            "interval": 1.0, "reason": "客户拜访 customer visit", "peer": ["u_agent3"]}},
    ]
    code = sandbox.state.submit_instance("native_leave", "agent1", form)
    with sandbox.state.lock:
        inst = sandbox.state.instances[code]
        inst["timeline"].append({"type": "CC", "create_time": inst["timeline"][-1]["create_time"],
                                 "user_id": "u_agent1", "open_id": "ou_agent1", "user_id_list": ["u_ops1"],
                                 "open_id_list": ["ou_ops1"]})
    return code


def _contact_calls(sandbox) -> int:
    return sum(len(sandbox.calls_for(e)) for e in CONTACT)


def test_a_card_names_everyone_in_each_readers_language_and_asks_once(bot, sandbox):
    code = _submission(sandbox)
    shown = bot.say("lead", f"/approval {code}")
    zh, en = read(shown["content"], "zh_cn"), read(shown["content"], "en_us")
    for name in ("刘客服", "客服部", "周客服", "运维部", "吴客服", "郑运维"):
        assert name in zh, name
    for name in ("Agent Liu", "Customer Service", "Agent Zhou", "Operations", "Agent Wu", "Ops Zheng"):
        assert name in en, name
    for text in (zh, en):
        for ident in ("ou_", "u\\_agent", "u_agent", "od-", "cannot see", "无法查看"):
            assert ident not in text, ident
    # one users/batch per id type for the whole card: the open_ids, then the one user_id (the companion) that
    # the open_ids' answer did not already name
    batches = [(c.query.get("user_id_type"), c.query["user_ids"]) for c in sandbox.calls_for("user_batch")]
    assert batches[1] == ("user_id", "u_agent3") and len(batches) == 2 and not sandbox.calls_for("user_get")
    assert len(sandbox.calls_for("department_get")) == 2  # the requester's and the widget's
    before = _contact_calls(sandbox)
    again = bot.say("lead", f"/approval {code}")
    assert "Agent Zhou" in read(again["content"], "en_us")
    assert _contact_calls(sandbox) == before  # names known: the second card asks nobody


def test_a_failing_contact_api_leaves_the_card_readable_within_the_budget(bot, sandbox):
    code = _submission(sandbox)
    for endpoint in ("user_batch", "department_get"):
        sandbox.inject(endpoint, http_status=500, code=-1, times=100)
    started = time.monotonic()
    shown = bot.say("lead", f"/approval {code}")
    took = time.monotonic() - started
    en, zh = read(shown["content"], "en_us"), read(shown["content"], "zh_cn")
    assert "Someone \\(name not visible to the bot\\) · User ID u\\_agent1" in en  # labelled, findable
    assert "用户 ID u\\_agent1" in zh and "ou_agent1" not in en
    assert "客户现场 customer site" in en and took < 2.5
    failed = _contact_calls(sandbox)
    bot.say("lead", f"/approval {code}")
    assert _contact_calls(sandbox) == failed  # a contact API that failed is left alone for a while


def test_the_gateway_reads_users_and_departments_through_the_sdk(sandbox):
    import pytest

    from bot.feishu import FeishuGateway
    from core.errors import FeishuError

    gateway = FeishuGateway(sandbox.app_id, sandbox.app_secret, sandbox.url)
    found = gateway.users_batch(["ou_agent1", "ou_nobody", "ou_lead"])
    assert [(u["open_id"], u["user_id"], u["name"], u["en_name"]) for u in found] == [
        ("ou_agent1", "u_agent1", "刘客服", "Agent Liu"), ("ou_lead", "u_lead", "陈主管", "Lead Chen")]
    assert gateway.users_batch(["u_agent2"], "user_id")[0]["en_name"] == "Agent Zhou"
    with pytest.raises(ValueError):
        gateway.users_batch([f"ou_{i}" for i in range(51)])  # the page's limit: split by the caller
    department = gateway.department("od-cs")
    assert (department["name"], department["i18n_name"]["en_us"]) == ("客服部", "Customer Service")
    assert gateway.department("d_ops", "department_id")["i18n_name"]["en_us"] == "Operations"
    with pytest.raises(FeishuError) as unknown:
        gateway.department("od-nowhere")
    assert unknown.value.code == 40015 and unknown.value.log_id
    with pytest.raises(ValueError):
        gateway.department("../users/ou_lead")  # never a path of another endpoint
    sandbox.inject("user_batch", latency_s=1.5, times=1)
    started = time.monotonic()
    with pytest.raises(FeishuError) as slow:
        gateway.users_batch(["ou_agent1"], deadline=time.monotonic() + 0.5)
    assert slow.value.kind == "timeout" and time.monotonic() - started < 1.2  # the contact client's own timeout
