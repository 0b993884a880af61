"""A manager looks up, approves, rejects and revokes — by button and by command — through the sandbox."""

from __future__ import annotations

import threading

import pytest

from sandbox.data import SAMPLES
from tests.integration.harness import card_text, find_buttons, wait_until

PENDING = SAMPLES["remedy_pending"]


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
    assert len(sandbox.process_calls()) == 1
    assert sandbox.process_calls()[0].json == {"approval_id": PENDING, "approval_type": "remedy", "status": 2}


def test_second_click_after_approval_does_not_call_process(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    first = bot.click("manager", reply, "approve")
    assert first.toast["type"] == "success"
    # the same (old) button clicked again, e.g. on another copy of the card
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": 1}
    again = bot.sender.click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert again.status == 200
    assert "Manager Wang" in again.toast["content"]
    assert len(sandbox.process_calls()) == 1


def test_reject_records_the_reason(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    answer = bot.click("manager", reply, "reject", reason="Badge log shows no entry")
    assert answer.toast["type"] == "success"
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "REJECTED"
    assert "Badge log shows no entry" in card_text(bot.card(reply))
    history = bot.store.history(PENDING)
    assert [(r.action, r.outcome, r.reason) for r in history] == [("reject", "done", "Badge log shows no entry")]


def test_approve_then_revoke_by_command_then_history(bot, sandbox):
    reply = bot.say("manager", f"/approve {PENDING}")
    assert "Manager Wang" in card_text(reply["content"])
    reply = bot.say("manager", f"/revoke {PENDING}")
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "REVERTED"
    assert [c.json["status"] for c in sandbox.process_calls()] == [2, 4]
    history = bot.say("manager", f"/history {PENDING}")
    text = card_text(history["content"])
    assert "approve" in text.lower() and "revoke" in text.lower()


def test_chinese_aliases(bot, sandbox):
    bot.say("manager", f"/通过 {PENDING}")
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"


@pytest.mark.parametrize(
    "user,sample,action,expected",
    [
        ("stranger", "remedy_pending", "approve", "not_found"),  # not a participant: told nothing about it
        ("employee", "remedy_pending", "approve", "own_request"),
        ("manager", "own_request", "approve", "own_request"),
        ("admin", "remedy_pending_2", "approve", "done"),
        ("manager2", "remedy_pending_2", "reject", "done"),
        ("manager", "leave_pending", "approve", "only_revoke"),
        ("manager", "remedy_approved", "revoke", "done"),
        ("manager2", "remedy_approved", "revoke", "not_found"),
        ("admin", "trip_approved", "revoke", "done"),
        ("stranger", "trip_approved", "revoke", "not_found"),
        ("admin", "shift_approved", "revoke", "read_only"),
        ("manager", "remedy_rejected", "approve", "already_rejected"),
    ],
)
def test_who_may_act(bot, sandbox, user, sample, action, expected):
    approval_id = SAMPLES[sample]
    reason = " not covered by the policy" if action == "reject" else ""  # a reject needs its reason
    bot.say(user, f"/{action} {approval_id}{reason}")
    audit = bot.store.history(approval_id)
    assert audit, "every attempt is audited"
    last = audit[-1]
    if expected == "done":
        assert last.outcome == "done"
        assert len(sandbox.process_calls()) == 1
    else:
        assert (last.outcome, last.message) == ("refused", expected)
        assert sandbox.process_calls() == []


def test_refusal_says_what_is_possible(bot):
    reply = bot.say("manager", f"/approve {SAMPLES['leave_pending']}")
    assert "only be revoked" in card_text(reply["content"])


def test_type_named_in_command_must_match(bot, sandbox):
    reply = bot.say("admin", f"/revoke {SAMPLES['trip_approved']} leave")
    assert sandbox.process_calls() == []
    assert "trip" in card_text(reply["content"]).lower()


def test_attendance_id_widget_is_what_process_acts_on(bot, sandbox):
    bot.say("manager", f"/approve {SAMPLES['attendance_field']}")
    assert [c.json["approval_id"] for c in sandbox.process_calls()] == [SAMPLES["attendance_field_id"]]


def test_attendance_only_records_are_for_admins(bot, sandbox):
    bot.say("manager", f"/approve {SAMPLES['attendance_only_remedy']}")
    assert sandbox.process_calls() == []
    bot.say("admin", f"/approve {SAMPLES['attendance_only_remedy']}")
    assert [c.json for c in sandbox.process_calls()] == [
        {"approval_id": SAMPLES["attendance_only_remedy"], "approval_type": "remedy", "status": 2}]
    reply = bot.say("admin", f"/revoke {SAMPLES['attendance_only_leave']}")
    assert "type" in card_text(reply["content"]).lower()  # the type is required without an instance
    bot.say("admin", f"/revoke {SAMPLES['attendance_only_leave']} leave")
    assert sandbox.process_calls()[-1].json == {"approval_id": SAMPLES["attendance_only_leave"],
                                                 "approval_type": "leave", "status": 4}


def test_batch_approve_answers_one_summary(bot, sandbox):
    ids = [SAMPLES["remedy_pending"], SAMPLES["remedy_pending_3"], SAMPLES["leave_pending"]]
    reply = bot.say("manager", "/approve " + " ".join(ids))
    text = card_text(reply["content"])
    assert all(i in text for i in ids)
    assert len(sandbox.process_calls()) == 2


def test_concurrent_clicks_send_one_process_call(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": 1}
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
    assert len(sandbox.process_calls()) == 1
    assert all(a.status == 200 for a in answers)
    assert sum(a.toast["type"] == "success" for a in answers) == 1


def test_click_and_command_at_once_act_once(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": 1}
    threads = [
        threading.Thread(target=lambda: bot.sender.click("manager", value, message_id=reply["message_id"],
                                                         chat_id=reply["chat_id"])),
        threading.Thread(target=lambda: bot.sender.message("manager", f"/approve {PENDING}")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(sandbox.process_calls()) == 1


def test_every_copy_of_the_card_is_updated(bot, sandbox):
    first = bot.say("manager", f"/approval {PENDING}")
    second = bot.say("manager", f"/approval {PENDING}", chat="group", mention=True)
    bot.click("manager", first, "approve")
    # the group's copy said whose turn it was ("Waiting for: Manager Wang"): wait for the decision itself
    assert wait_until(lambda: "Approved by Manager Wang" in card_text(bot.card(second)))
    assert actions_on(bot.card(second)) == []


def test_legacy_callback_acts_the_same(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": 1}
    answer = bot.sender.legacy_click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.status == 200
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"
    replay = bot.sender.post(answer.request_headers, answer.request_body, "/webhook/card")
    assert replay.status == 200
    assert len(sandbox.process_calls()) == 1


def test_stale_card_is_refreshed_not_acted_on(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    value = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": 0}
    answer = bot.sender.click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.toast["type"] == "warning"
    assert sandbox.process_calls() == []


def test_forged_action_gets_a_toast(bot, sandbox):
    reply = bot.say("manager", f"/approval {PENDING}")
    answer = bot.sender.click("manager", {"action": "delete_everything", "v": 1}, message_id=reply["message_id"],
                              chat_id=reply["chat_id"])
    assert answer.status == 200 and answer.toast is not None
    assert sandbox.process_calls() == []
