"""A manager looks up, approves, rejects and revokes — by button and by command — through the sandbox."""

from __future__ import annotations

import threading

import pytest

import cards
from sandbox import worlds
from sandbox.data import INSTANCES, RECORD_IDS
from tests.integration.harness import card_text, find_buttons, wait_until

PENDING = INSTANCES["remedy_pending"]  # a native approval (no attendance widget): acted on through its tasks
LINKED = worlds.NATIVE  # instances whose form names an attendance record: acted on through process
RECORD = worlds.RECORDS


def record_status(sandbox, name: str) -> int:
    return sandbox.state.attendance[RECORD[name]]["status"]


def actions_on(card) -> list[str]:
    return [v["action"] for v in find_buttons(card)]


def test_manager_looks_up_and_approves_by_button(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    assert reply is not None
    assert actions_on(reply["content"]) == ["approve", "reject"]

    answer = bot.click("manager", reply, "approve")
    assert answer.status == 200 and not answer.late
    assert answer.toast["type"] == "success"
    final = bot.card(reply)
    assert actions_on(final) == []
    assert "Manager Wang" in card_text(final)
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"
    assert [c.endpoint for c in sandbox.action_calls()] == ["task_approve"]  # never process on an instance code
    call = sandbox.action_calls()[0]
    assert (call.json["instance_code"], call.json["user_id"], call.query["user_id_type"]) == (
        PENDING, "ou_manager", "open_id")  # the approver's own task, as the approver


def test_second_click_after_approval_does_not_call_process(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    first = bot.click("manager", reply, "approve")
    assert first.toast["type"] == "success"
    # the same (old) button clicked again, e.g. on another copy of the card
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
    again = bot.sender.click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert again.status == 200
    assert "Manager Wang" in again.toast["content"]
    assert len(sandbox.action_calls()) == 1


def test_reject_records_the_reason(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    answer = bot.click("manager", reply, "reject", reason="Badge log shows no entry")
    assert answer.toast["type"] == "success"
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "REJECTED"
    assert "Badge log shows no entry" in card_text(bot.card(reply))
    history = bot.store.history(PENDING)
    assert [(r.action, r.outcome, r.reason) for r in history] == [("reject", "done", "Badge log shows no entry")]


def test_a_linked_remedy_is_approved_then_revoked_through_process_on_its_record(bot, sandbox):
    approval = LINKED["linked_remedy_pending"]
    reply = bot.say("lead", f"/approve {approval}")
    assert "Lead Chen" in card_text(reply["content"])
    assert record_status(sandbox, "remedy_linked") == 2
    bot.say("lead", f"/revoke {approval}")
    assert record_status(sandbox, "remedy_linked") == 4
    assert [(c.endpoint, c.json["approval_id"], c.json["status"]) for c in sandbox.action_calls()] == [
        ("process", RECORD["remedy_linked"], 2), ("process", RECORD["remedy_linked"], 4)]
    history = bot.say("lead", f"/history {approval}")
    text = card_text(history["content"])
    assert "approve" in text.lower() and "revoke" in text.lower()


def test_a_linked_leave_is_revoked_on_its_record_and_its_instance_is_left_alone(bot, sandbox):
    approval = LINKED["linked_leave_approved"]
    before = sandbox.state.snapshot(approval)["instance"]["status"]
    bot.say("lead", f"/revoke {approval}")
    assert [(c.endpoint, c.json) for c in sandbox.action_calls()] == [
        ("process", {"approval_id": RECORD["leave_linked"], "approval_type": "leave", "status": 4})]
    assert record_status(sandbox, "leave_linked") == 4
    assert sandbox.state.snapshot(approval)["instance"]["status"] == before


def test_a_native_approval_is_not_revoked_by_the_bot(bot, sandbox):
    reply = bot.say("admin", f"/revoke {INSTANCES['remedy_approved']}")
    assert "can withdraw it in Feishu Approval" in card_text(reply["content"])
    assert sandbox.action_calls() == []


def test_chinese_aliases(bot, sandbox):
    bot.say("manager", f"/通过 {PENDING}")
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"


@pytest.mark.parametrize(
    "user,approval,action,expected",
    [
        ("stranger", PENDING, "approve", "not_found"),  # not a participant: told nothing about it
        ("employee", PENDING, "approve", "own_request"),
        ("manager", INSTANCES["own_request"], "approve", "own_request"),
        ("admin", INSTANCES["remedy_pending_2"], "approve", "not_your_task"),  # native: only as the task's holder
        ("manager2", INSTANCES["remedy_pending_2"], "reject", "done"),
        ("manager", INSTANCES["leave_pending"], "approve", "done"),  # native: any definition
        ("manager", INSTANCES["remedy_approved"], "revoke", "native_revoke"),
        ("lead", LINKED["linked_remedy_pending"], "approve", "done"),
        ("agent1", LINKED["linked_remedy_pending"], "approve", "own_request"),
        ("lead", LINKED["linked_leave_approved"], "approve", "only_revoke"),  # seed 000, on the record
        ("lead", LINKED["linked_remedy_approved"], "revoke", "done"),  # the approver who passed it
        ("admin", LINKED["linked_leave_approved"], "revoke", "done"),
        ("designlead", LINKED["linked_leave_approved"], "revoke", "not_found"),
        ("lead", LINKED["linked_leave_revoked"], "revoke", "already_revoked"),  # the record says so
        ("manager", INSTANCES["remedy_rejected"], "approve", "already_rejected"),
    ],
)
def test_who_may_act(bot, sandbox, user, approval, action, expected):
    reason = " not covered by the policy" if action == "reject" else ""  # a reject needs its reason
    bot.say(user, f"/{action} {approval}{reason}")
    audit = bot.store.history(approval)
    assert audit, "every attempt is audited"
    last = audit[-1]
    if expected == "done":
        assert last.outcome == "done"
        assert len(sandbox.action_calls()) == 1
    else:
        assert (last.outcome, last.message) == ("refused", expected)
        assert sandbox.action_calls() == []


def test_refusal_says_what_is_possible(bot):
    reply = bot.say("lead", f"/approve {LINKED['linked_leave_approved']}")
    assert "only be revoked" in card_text(reply["content"])


def test_type_named_in_command_must_match(bot, sandbox):
    reply = bot.say("admin", f"/revoke {INSTANCES['trip_approved']} leave")
    assert sandbox.action_calls() == []
    assert "trip" in card_text(reply["content"]).lower()


def test_attendance_id_widget_is_what_process_acts_on(bot, sandbox):
    bot.say("lead", f"/approve {LINKED['linked_remedy_pending']}")
    assert [c.json["approval_id"] for c in sandbox.action_calls()] == [RECORD["remedy_linked"]]
    assert all(not c.json["approval_id"].count("-") for c in sandbox.process_calls())  # never an instance code


def test_attendance_records_without_an_instance_are_acted_on_by_admins_not_strangers(bot, sandbox):
    bot.say("stranger", f"/approve {RECORD_IDS['remedy_pending']}")  # neither an admin nor the requester's leader
    assert sandbox.action_calls() == []
    bot.say("admin", f"/approve {RECORD_IDS['remedy_pending']}")
    assert [c.json for c in sandbox.action_calls()] == [
        {"approval_id": RECORD_IDS["remedy_pending"], "approval_type": "remedy", "status": 2}]
    reply = bot.say("admin", f"/revoke {RECORD_IDS['leave_approved']}")
    assert "type" in card_text(reply["content"]).lower()  # the type is required without an instance
    bot.say("admin", f"/revoke {RECORD_IDS['leave_approved']} leave")
    assert sandbox.action_calls()[-1].json == {"approval_id": RECORD_IDS["leave_approved"],
                                                 "approval_type": "leave", "status": 4}


def test_batch_approve_answers_one_summary(bot, sandbox):
    ids = [INSTANCES["remedy_pending"], INSTANCES["remedy_pending_3"], INSTANCES["remedy_approved"]]
    reply = bot.say("manager", "/approve " + " ".join(ids))
    text = card_text(reply["content"])
    assert all(i in text for i in ids)
    assert len(sandbox.action_calls()) == 2  # the approved one is refused without a call


def test_concurrent_clicks_send_one_process_call(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
    answers = []
    barrier = threading.Barrier(16)

    def click():
        barrier.wait()
        answers.append(bot.sender.click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"]))

    threads = [threading.Thread(target=click) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(sandbox.action_calls()) == 1
    assert all(a.status == 200 for a in answers)
    assert sum(a.toast["type"] == "success" for a in answers) == 1


def test_click_and_command_at_once_act_once(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
    sent = []  # the command is acknowledged first and handled in the pool: its delivery is awaited below
    threads = [
        threading.Thread(target=lambda: bot.sender.click("manager", value, message_id=reply["message_id"],
                                                         chat_id=reply["chat_id"])),
        threading.Thread(target=lambda: sent.append(bot.sender.message("manager", f"/approve {PENDING}"))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    bot.settled.wait(sent[0].event_id)
    assert len(sandbox.action_calls()) == 1


def test_every_copy_of_the_card_is_updated(bot, sandbox):
    first = bot.say("manager", f"/approval {PENDING}")
    second = bot.say("manager", f"/approval {PENDING}", chat="group", mention=True)
    bot.click("manager", first, "approve")
    # the group's copy said whose turn it was ("Waiting for: Manager Wang"): wait for the decision itself
    assert wait_until(lambda: "Approved by Manager Wang" in card_text(bot.card(second)))
    assert actions_on(bot.card(second)) == []


def test_legacy_callback_acts_the_same(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
    answer = bot.sender.legacy_click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.status == 200
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"
    replay = bot.sender.post(answer.request_headers, answer.request_body, "/webhook/card")
    assert replay.status == 200
    assert len(sandbox.action_calls()) == 1


def test_stale_card_is_refreshed_not_acted_on(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": 0}
    answer = bot.sender.click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.toast["type"] == "warning"
    assert sandbox.action_calls() == []


def test_forged_action_gets_a_toast(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    answer = bot.sender.click("manager", {"action": "delete_everything", "v": cards.CARD_VERSION},
                              message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.status == 200 and answer.toast is not None
    assert sandbox.action_calls() == []
