"""Attendance records as first-class approvals, through the real app and lark-oapi against the sandbox: a manager
who is not an admin lists their team's pending punch corrections beside their own to-dos, approves one, rejects
one with a reason, revokes an approved leave with `/revoke <id>` alone, and is refused on another team's record."""

from __future__ import annotations

import time

from sandbox import worlds
from tests.integration.harness import card_text, find_buttons, wait_until

RECORD = worlds.RECORDS


def status_of(sandbox, name: str) -> int:
    return sandbox.state.attendance[RECORD[name]]["status"]


def buttons(card, action: str) -> list[str]:
    return [v["approval_id"] for v in find_buttons(card) if v.get("action") == action]


def test_a_manager_handles_the_team_records_from_pending(bot, sandbox):
    assert "ou_lead" not in bot.config.admins
    listed = bot.say("lead", "/pending")
    card = listed["content"]
    text = card_text(card)
    approvable = buttons(card, "approve")
    # the team's pending remedies: agent1 and agent2 (departments lead leads), agent3 (no leader, in od-cs),
    # pm1 (leader_user_id lead, in lead's own od-pmo); never lead's own, another team's or a sub-department's
    for name in ("remedy_pending", "remedy_pending_2", "remedy_no_leader", "remedy_own_department"):
        assert RECORD[name] in approvable, name
    for name in ("remedy_manager_own", "remedy_other_team", "remedy_sub_department", "remedy_approved"):
        assert RECORD[name] not in text, name
    assert "Agent Liu" in text or "刘客服" in text  # the requester by name, from the contact listing
    assert "忘记打卡 forgot to clock in" in text  # the reason
    native = worlds.NATIVE["purchase_step1"]  # lead's own to-do task, in the same card
    assert native in approvable
    approve_all = [v for v in find_buttons(card) if v.get("action") == "approve_all"]
    assert approve_all and RECORD["remedy_pending"] in approve_all[0]["approval_ids"] \
        and native in approve_all[0]["approval_ids"]

    answer = bot.click("lead", listed, "approve", approval_id=RECORD["remedy_pending"])
    assert answer.status == 200 and answer.toast["type"] == "success", answer.toast
    assert status_of(sandbox, "remedy_pending") == 2
    call = sandbox.process_calls()[-1]
    assert call.json == {"approval_id": RECORD["remedy_pending"], "approval_type": "remedy", "status": 2}
    assert RECORD["remedy_pending"] not in buttons(answer.card, "approve")  # the list, that item handled
    assert RECORD["remedy_pending_2"] in buttons(answer.card, "approve")

    details = bot.say("lead", f"/approval {RECORD['remedy_pending_2']}")
    assert buttons(details["content"], "reject") == [RECORD["remedy_pending_2"]]
    assert "18:30" in card_text(details["content"])  # the requested time
    rejected = bot.click("lead", details, "reject", reason="没有打卡机记录 no badge log")
    assert rejected.toast["type"] == "success", rejected.toast
    assert status_of(sandbox, "remedy_pending_2") == 1
    history = {r.outcome for r in bot.store.history(RECORD["remedy_pending_2"])}
    assert "done" in history


def test_revoke_of_a_team_leave_needs_no_type_nor_a_list_first(bot, sandbox):
    bot.say("lead", "/pending")  # lists pending remedies only: the leave is found by the revoke itself
    reply = bot.say("lead", f"/revoke {RECORD['leave_approved']}")
    assert status_of(sandbox, "leave_approved") == 4, card_text(reply["content"])
    assert sandbox.process_calls()[-1].json == {"approval_id": RECORD["leave_approved"], "approval_type": "leave",
                                                "status": 4}


def test_the_team_card_lists_pending_and_approved_records_with_their_buttons(bot, sandbox):
    reply = bot.say("lead", "/team")
    card = reply["content"]
    assert RECORD["remedy_pending"] in buttons(card, "approve")
    assert RECORD["leave_approved"] in buttons(card, "revoke")
    assert RECORD["out_approved"] in buttons(card, "revoke")
    assert RECORD["leave_other_team"] not in card_text(card)
    answer = bot.click("lead", reply, "revoke", approval_id=RECORD["out_approved"])
    assert answer.toast["type"] == "success" and status_of(sandbox, "out_approved") == 4


def test_a_given_type_that_disagrees_is_refused_naming_the_right_one(bot, sandbox):
    bot.say("lead", "/team")
    reply = bot.say("lead", f"/revoke {RECORD['leave_approved']} trip")
    assert "Leave" in card_text(reply["content"]) and status_of(sandbox, "leave_approved") == 2
    assert sandbox.process_calls() == []


def test_another_teams_record_is_refused(bot, sandbox):
    bot.say("designlead", "/pending")  # designlead's team lists the designer's records
    bot.say("lead", "/pending")
    reply = bot.say("lead", f"/approve {RECORD['remedy_other_team']}")
    assert "No approval" in card_text(reply["content"]) or "not" in card_text(reply["content"])
    assert status_of(sandbox, "remedy_other_team") == 0 and sandbox.process_calls() == []
    revoke = bot.say("lead", f"/revoke {RECORD['leave_other_team']}")
    assert status_of(sandbox, "leave_other_team") == 2 and sandbox.process_calls() == [], card_text(revoke)
    own = bot.say("designlead", f"/approve {RECORD['remedy_other_team']}")
    assert status_of(sandbox, "remedy_other_team") == 2, card_text(own["content"])


def test_the_requester_may_not_decide_their_own_record(bot, sandbox):
    bot.say("lead", "/pending")
    reply = bot.say("agent1", f"/approve {RECORD['remedy_pending']}")
    assert status_of(sandbox, "remedy_pending") == 0 and sandbox.process_calls() == [], card_text(reply)


def test_a_slow_remedy_query_is_answered_in_time_and_the_card_follows(bot, sandbox):
    sandbox.inject("remedy_query", latency_s=2.0, times=1)  # one of the team's calls outlives the budget
    started = time.monotonic()
    listed = bot.say("lead", "/pending")
    assert time.monotonic() - started < 2.0 + 1.0
    assert "Still looking" in card_text(listed["content"])
    assert wait_until(lambda: RECORD["remedy_pending"] in buttons(bot.card(listed), "approve"), timeout=8)
    assert "Still looking" not in card_text(bot.card(listed))


def test_a_failing_contact_is_named_not_an_empty_team(bot, sandbox):
    sandbox.inject("user_find_by_department", code=41050, msg="no user authority error")
    listed = bot.say("lead", "/team")
    text = card_text(listed["content"])
    assert "contact data range" in text and "No records" not in text
