"""What a manager meets, in-process through the one pipeline: lists that stay lists, reasons that are required
and told, ids people can type, cards that show each reader what they may do, toasts in both languages."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import cards
from core.inbound import ApprovalEvent
from handlers.pipeline import dispatch
from tests import cardwalk, samples
from tests.fakes import FakeGateway, FakeStore, click, make_context, message

FIRST = "7100000000000000001"
SECOND = "7100000000000000005"
SERIAL = "202611200001"  # what the card of FIRST shows
LINK = ("https://applink.feishu.cn/client/mini_program/open?appId=cli_9cb844403dbb9108&mode=appCenter"
        f"&path=pc/pages/in-process/index?instanceId={FIRST}")


def soon() -> float:
    return time.monotonic() + 2.5


def _second() -> dict[str, Any]:
    data = samples.remedy_pending()
    data.update(instance_code=SECOND, serial_number="202611200005", uuid=f"uuid-{SECOND}")
    return data


def linked(data: dict[str, Any], status: int, gateway: FakeGateway | None = None) -> dict[str, Any]:
    """The sample as a linked approval: its form names an attendance record (here numbered like the instance),
    which the fake attendance lists with `status` — so actions go through process and requesters are told."""
    form = json.loads(data["form"])
    form.append({"id": "w_att", "custom_id": "attendance_approval_id", "type": "input",
                 "value": data["instance_code"]})
    data["form"] = json.dumps(form, ensure_ascii=False)
    if gateway is not None:
        gateway.records.append({"approval_id": data["instance_code"], "status": status, "user_id": "u_employee",
                                "kind": "remedy"})
    return data


def _task(code: str) -> dict[str, Any]:
    return {"process_code": code, "title": f"Remedy {code[-2:]}", "definition_name": "补卡申请",
            "initiator_names": ["Employee Zhang"]}


@pytest.fixture
def gateway() -> FakeGateway:
    gateway = FakeGateway(names={"ou_manager": "Manager Wang", "ou_employee": "Employee Zhang"},
                          tasks={"ou_manager": [_task(FIRST), _task(SECOND)]})
    gateway.instances = {FIRST: linked(samples.remedy_pending(), 0, gateway), SECOND: linked(_second(), 0, gateway)}
    return gateway


def _say(ctx: Any, gateway: FakeGateway, user: str, text: str, chat: str = "p2p") -> dict[str, Any]:
    """Send a message; the bot's reply (card and message id)."""
    dispatch(ctx, message(user, text, chat=chat, mention_bot=chat != "p2p"), soon())
    return gateway.sent[-1]


def _values(card: Any, action: str) -> list[dict[str, Any]]:
    return [v for v in cardwalk.callback_values(card) if v.get("action") == action]


def _title(card: Any) -> str:
    return card["header"]["title"]["content"]


# -- a list stays a list -------------------------------------------------------------------------------------


def test_approving_an_item_of_the_list_answers_with_the_list_that_item_done_the_rest_intact(gateway):
    ctx = make_context(gateway)
    listed = _say(ctx, gateway, "manager", "/pending")
    (first, second) = _values(listed["card"], "approve")
    assert first["list"] == {"page_token": "", "page": 1}  # the list's context rides on its buttons

    answer = dispatch(ctx, click("manager", first, message_id=listed["message_id"]), soon())

    card = answer.body["card"]["data"]
    assert _title(card) == "Pending approvals" and answer.body["toast"]["content"] == "Approved"
    assert [v["approval_id"] for v in _values(card, "approve")] == [SECOND]  # no live button for the done one
    assert [v["approval_id"] for v in _values(card, "show")] == [FIRST, SECOND]  # the rest intact
    assert "Now: Approved" in cardwalk.markdown(card)
    assert gateway.count("process") == 1


def test_every_list_showing_the_item_follows_and_older_lists_lose_its_button(gateway):
    ctx = make_context(gateway)
    older = _say(ctx, gateway, "manager", "/pending")
    newer = _say(ctx, gateway, "manager", "/pending")
    approve = _values(newer["card"], "approve")[0]
    dispatch(ctx, click("manager", approve, message_id=newer["message_id"]), soon())

    patched = dict(gateway.patched)
    assert newer["message_id"] not in patched  # the clicked card is the answer
    again = patched[older["message_id"]]
    assert _title(again) == "Pending approvals"  # a list, not one approval's card
    assert [v["approval_id"] for v in _values(again, "approve")] == [SECOND]


def test_approve_all_shown_answers_with_the_list_and_each_other_list_is_updated_once(gateway):
    ctx = make_context(gateway)
    older = _say(ctx, gateway, "manager", "/pending")
    listed = _say(ctx, gateway, "manager", "/pending")
    (every,) = _values(listed["card"], "approve_all")
    answer = dispatch(ctx, click("manager", every, message_id=listed["message_id"]), soon())
    card = answer.body["card"]["data"]
    assert _title(card) == "Pending approvals" and _values(card, "approve") == []
    assert cardwalk.markdown(card).count("Now: Approved") == 2
    assert answer.body["toast"]["content"] == "2 approved, 0 not approved (see the list)."
    assert gateway.count("process") == 2
    (patched,) = [card for message_id, card in gateway.patched if message_id == older["message_id"]]
    assert _values(patched, "approve") == [] and cardwalk.markdown(patched).count("Now: Approved") == 2


def test_a_list_follows_an_approval_decided_elsewhere(gateway):
    ctx = make_context(gateway)
    listed = _say(ctx, gateway, "manager", "/pending")
    gateway.instances[FIRST]["status"] = "APPROVED"
    next(r for r in gateway.records if r["approval_id"] == FIRST)["status"] = 2  # its record: the truth
    dispatch(ctx, ApprovalEvent("ev_elsewhere", "approval_instance", FIRST, "APPROVED"), soon())
    card = dict(gateway.patched)[listed["message_id"]]
    assert _title(card) == "Pending approvals"
    assert [v["approval_id"] for v in _values(card, "approve")] == [SECOND]


# -- the reject reason, the approve comment ------------------------------------------------------------------


def test_a_reject_click_without_a_reason_is_a_prompt_and_nothing_else(gateway):
    store = FakeStore()
    ctx = make_context(gateway, store)
    reject = {"action": "reject", "approval_id": FIRST, "approval_type": "remedy", "v": cards.CARD_VERSION}
    answer = dispatch(ctx, click("manager", reject, reason="   "), soon())
    assert answer.body["toast"]["type"] == "warning" and "reason" in answer.body["toast"]["content"]
    assert "理由" in answer.body["toast"]["i18n"]["zh_cn"]
    assert gateway.count("process") == 0 and store.locks == {} and store.audit == []


def test_a_reject_command_without_a_reason_is_a_prompt(gateway):
    store = FakeStore()
    ctx = make_context(gateway, store)
    reply = _say(ctx, gateway, "manager", f"/reject {FIRST}")
    assert "/reject &lt;id&gt; &lt;reason…&gt;" in cardwalk.markdown(reply["card"])
    zh = [n["i18n_content"]["zh_cn"] for n in cardwalk.tagged(reply["card"], "markdown") if "i18n_content" in n]
    assert any("请填写理由" in text for text in zh)  # a notice is in each reader's language too
    assert gateway.count("process") == 0 and store.locks == {} and store.audit == []


def test_a_rejection_records_its_reason_shows_it_and_tells_the_requester(gateway):
    store = FakeStore()
    ctx = make_context(gateway, store)
    reply = _say(ctx, gateway, "manager", f"/reject {FIRST} The gate log shows no visit")
    told = [s for s in gateway.sent if s["kind"] == "send" and s["to"] == "ou_employee"]
    assert "Reason: The gate log shows no visit" in cardwalk.markdown(reply["card"])
    assert "Manager Wang · rejected: The gate log shows no visit" in cardwalk.markdown(reply["card"])  # timeline
    assert [r.reason for r in store.audit] == ["The gate log shows no visit"]
    (notice,) = told
    text = cardwalk.markdown(notice["card"])
    assert "Manager Wang rejected your Punch correction request" in text and "The gate log shows no visit" in text
    history = _say(ctx, gateway, "manager", f"/history {FIRST}")
    assert "The gate log shows no visit" in cardwalk.markdown(history["card"])


def test_approve_takes_an_optional_comment_after_the_ids(gateway):
    store = FakeStore()
    ctx = make_context(gateway, store)
    _say(ctx, gateway, "manager", f"/approve {FIRST} {SECOND} seen the gate log")
    assert [(r.approval_id, r.reason) for r in store.audit] == [(FIRST, "seen the gate log"),
                                                                (SECOND, "seen the gate log")]
    told = [cardwalk.markdown(s["card"]) for s in gateway.sent if s["to"] == "ou_employee"]
    assert len(told) == 2 and all("Comment: seen the gate log" in t for t in told)


# -- which id do I type? ---------------------------------------------------------------------------------------


def test_the_serial_number_on_a_card_is_accepted_once_the_bot_has_shown_it(gateway):
    ctx = make_context(gateway)
    before = _say(ctx, gateway, "manager", f"/approval {SERIAL}")
    assert "No approval" in cardwalk.markdown(before["card"])
    shown = _say(ctx, gateway, "manager", f"/approval {FIRST}")
    assert SERIAL in cardwalk.markdown(shown["card"]) and "Commands take this serial number" in cardwalk.markdown(
        shown["card"])
    after = _say(ctx, gateway, "manager", f"/approval {SERIAL}")
    assert after["card"] == shown["card"]
    _say(ctx, gateway, "manager", f"/approve {SERIAL}")
    assert [c for c in gateway.calls if c[0] == "process"] == [("process", (FIRST, "remedy", 2))]


def test_a_pasted_feishu_link_names_its_approval(gateway):
    ctx = make_context(gateway)
    reply = _say(ctx, gateway, "manager", f"/approve {LINK} fine")
    assert ("process", (FIRST, "remedy", 2)) in gateway.calls
    assert "Manager Wang" in cardwalk.markdown(reply["card"])


def test_help_says_which_ids_commands_take(gateway):
    reply = _say(make_context(gateway), gateway, "manager", "/help")
    assert "serial number" in cardwalk.markdown(reply["card"]) and "link" in cardwalk.markdown(reply["card"])


# -- each reader's card ------------------------------------------------------------------------------------------


def test_a_new_task_card_shows_the_approver_their_buttons_and_copies_are_rendered_for_their_reader(gateway):
    ctx = make_context(gateway)
    approved = linked(samples.remedy_approved(), 2, gateway)
    gateway.instances[approved["instance_code"]] = approved
    code = approved["instance_code"]
    mine = _say(ctx, gateway, "employee", f"/approval {code}")  # the requester's own one-to-one chat
    group = _say(ctx, gateway, "manager", f"/approval {code}", chat="group")
    assert _values(mine["card"], "revoke") == []  # nobody acts on their own request
    assert _values(group["card"], "revoke")  # a shared card shows what the state allows …
    assert "Waiting for" not in cardwalk.markdown(group["card"])  # … (nobody's turn: approved)

    dispatch(ctx, ApprovalEvent("ev_changed", "approval_instance", code, "APPROVED"), soon())
    patched = dict(gateway.patched)
    assert _values(patched[mine["message_id"]], "revoke") == []
    assert _values(patched[group["message_id"]], "revoke")


def test_a_task_notification_shows_only_what_each_approver_may_do(gateway):
    ctx = make_context(gateway)
    own = gateway.instances[FIRST]
    own["task_list"].append({**own["task_list"][0], "id": "t2", "open_id": "ou_employee", "user_id": "u_employee"})
    for task in own["task_list"]:  # Feishu pushes approval_task PENDING for each approver whose turn it is
        dispatch(ctx, ApprovalEvent(f"ev_{task['id']}", "approval_task", FIRST, "PENDING", task_id=task["id"],
                                    open_id=task["open_id"], user_id=task["user_id"]), soon())
    sent = {s["to"]: s["card"] for s in gateway.sent if s["kind"] == "send"}
    assert {v["action"] for v in cardwalk.callback_values(sent["ou_manager"])} == {"approve", "reject"}
    assert cardwalk.callback_values(sent["ou_employee"]) == []  # a task on their own request: nothing to do
    assert "Waiting for" not in cardwalk.markdown(sent["ou_manager"])  # their own card: no "whose turn"


def test_details_answers_with_the_details_toast(gateway):
    ctx = make_context(gateway)
    listed = _say(ctx, gateway, "manager", "/pending")
    show = _values(listed["card"], "show")[0]
    answer = dispatch(ctx, click("manager", show, message_id=listed["message_id"]), soon())
    assert answer.body["toast"] == {"type": "info", "content": "Here are the details.",
                                    "i18n": {"zh_cn": "详情如下。", "en_us": "Here are the details."}}
    details = gateway.sent[-1]
    assert details["kind"] == "reply" and {v["action"] for v in cardwalk.callback_values(details["card"])} == {
        "approve", "reject"}


def test_a_refusal_toast_carries_both_languages(gateway):
    ctx = make_context(gateway)
    approve = {"action": "approve", "approval_id": FIRST, "approval_type": "remedy", "v": cards.CARD_VERSION}
    answer = dispatch(ctx, click("employee", approve), soon())  # their own request
    toast = answer.body["toast"]
    assert toast["content"] == "You cannot act on your own request."
    assert toast["i18n"]["en_us"] == toast["content"] and toast["i18n"]["zh_cn"] != toast["content"]


def test_the_approve_buttons_comment_is_recorded_and_told(gateway):
    store = FakeStore()
    ctx = make_context(gateway, store)
    approve = {"action": "approve", "approval_id": FIRST, "approval_type": "remedy", "v": cards.CARD_VERSION}
    answer = dispatch(ctx, click("manager", approve, reason="checked the gate log"), soon())
    assert answer.body["toast"]["type"] == "success"
    assert [r.reason for r in store.audit] == ["checked the gate log"]
    (told,) = [s for s in gateway.sent if s["to"] == "ou_employee"]
    assert "Comment: checked the gate log" in cardwalk.markdown(told["card"])


@pytest.mark.parametrize("named", ["补卡", "remedy", "REMEDY", "punch"])
def test_revoke_takes_type_names_in_either_language(gateway, named):
    approved = linked(samples.remedy_approved(), 2, gateway)
    gateway.instances[approved["instance_code"]] = approved
    ctx = make_context(gateway)
    reply = _say(ctx, gateway, "manager", f"/撤销 {approved['instance_code']} {named}")
    if named == "punch":  # not a type name in any language: said so, nothing sent
        assert "is not a type" in cardwalk.markdown(reply["card"]) and gateway.count("process") == 0
    else:
        assert [c for c in gateway.calls if c[0] == "process"] == [
            ("process", (approved["instance_code"], "remedy", 4))]


@pytest.mark.parametrize("command", ["approval", "approve", "history"])
def test_a_stranger_typing_a_known_serial_learns_what_an_unknown_serial_tells(gateway, command):
    ctx = make_context(gateway)
    _say(ctx, gateway, "manager", f"/approval {FIRST}")  # the serial is now known to the bot
    known = _say(ctx, gateway, "stranger", f"/{command} {SERIAL}")
    unknown = _say(ctx, gateway, "stranger", f"/{command} 202611209999")
    assert cardwalk.markdown(known["card"]).replace(SERIAL, "<id>") == cardwalk.markdown(
        unknown["card"]).replace("202611209999", "<id>")
    assert FIRST not in json.dumps(known["card"]) and gateway.count("process") == 0


def test_the_unknown_command_notice_is_in_each_readers_language(gateway):
    reply = _say(make_context(gateway), gateway, "manager", "/frobnicate")
    notices = [n["i18n_content"] for n in cardwalk.tagged(reply["card"], "markdown") if "frobnicate" in n["content"]]
    assert notices and "Unknown command" in notices[0]["en_us"] and "Unknown" not in notices[0]["zh_cn"]
