"""A click pays no contact call for names the bot already knows (handlers/names.py): the card that was shown
named everyone, so approving from it, and the copies re-rendered after, ask the contact API nothing."""

from __future__ import annotations

import time

from handlers.pipeline import dispatch
from tests import cardwalk, samples
from tests.fakes import FakeGateway, click, make_context, message

CODE = "7100000000000000001"
CONTACT = ("user_batch", "department_get", "user_get")


def test_a_click_after_the_card_was_shown_makes_no_contact_call() -> None:
    gateway = FakeGateway(users={
        "u_manager": {"open_id": "ou_manager", "name": "王经理", "en_name": "Manager Wang"},
        "u_employee": {"open_id": "ou_employee", "name": "张三", "en_name": "Employee Zhang"}},
        departments={"od-sales": {"name": "销售部", "i18n_name": {"zh_cn": "销售部", "en_us": "Sales"}}})
    data = samples.remedy_pending()
    data["task_list"][0]["id"] = "t1"
    gateway.instances = {CODE: data}
    ctx = make_context(gateway)
    dispatch(ctx, message("manager", f"/approval {CODE}"), time.monotonic() + 2.5)
    shown = gateway.sent[-1]
    assert "Employee Zhang · Sales" in cardwalk.markdown(shown["card"])
    asked = sum(gateway.count(e) for e in CONTACT)
    assert asked >= 1
    (approve,) = [v for v in cardwalk.callback_values(shown["card"]) if v.get("action") == "approve"]
    answer = dispatch(ctx, click("manager", approve, message_id=shown["message_id"]), time.monotonic() + 2.5)
    assert answer.body["toast"]["content"] == "Approved"
    card = cardwalk.markdown(answer.body["card"]["data"])
    assert "Manager Wang" in card and "Employee Zhang" in card
    assert sum(gateway.count(e) for e in CONTACT) == asked  # nothing asked on the click's path
