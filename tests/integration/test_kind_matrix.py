"""Each kind of approval × each action × each role, through the real app and the real lark-oapi client against
the sandbox's two worlds (DESIGN.md, "Where an approval lives"):

- native: a Feishu Approval instance, acted on only through approval v4 tasks/approve and tasks/reject, by the
  approver who holds the PENDING task and as them; never revoked by the bot;
- linked: a native instance whose form names an attendance record: process on that record, by the rules of
  seed 000 on the record's state (approvers with a task and admins; revoke: who passed it and admins);
- attendance record: no instance at all: process, by the requester's leader and admins (another team's leader
  is told it was not found).

Roles: the approver with the task (for an attendance record: the requester's leader), the approver of another
step (one who passed the first step), an admin without a task, the requester, a stranger. For each, what they
read back and the exact Feishu calls; no process call ever names an instance code. Then the two-step approval
by button, the second step's approvers getting the card from the `approval_task` event, every copy following.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import cards
from core.approval import detail_links
from sandbox import data, flow, worlds
from tests.integration.harness import card_text, find_buttons, wait_until

PURCHASE = data.DEFINITIONS["purchase"]["approval_code"]
RECORDS = worlds.RECORDS
ROLES = ("stranger", "requester", "other_step", "admin", "with_task")
REASON = "the badge log disagrees"

NOT_FOUND = "No approval {id} was found."
OWN = "You cannot act on your own request."
NOT_YOUR_TASK = "this request is not waiting for you"
NOT_APPROVER = "You are not an approver of this request right now."
NATIVE_REVOKE = "Its submitter can withdraw it in Feishu Approval"


@dataclass(frozen=True)
class Case:
    """One approval, who plays each role on it, and how a command names it."""

    approval_id: str
    people: dict[str, str]  # role -> sandbox user
    type_word: str = ""  # `/revoke <id> <type>`: an attendance record has no instance to say its type


# -- the approvals ------------------------------------------------------------------------------------------------


def _pass_step(sandbox, code: str, who: str) -> None:
    """`who` approves their open task in Feishu Approval itself (not through the bot)."""
    state = sandbox.state
    with state.lock:
        inst = state.instances[code]
        task = next(t for t in flow.open_tasks(inst) if t["user_id"] == state.people[who]["user_id"])
        flow.approve(inst, task, "ok", state.now_ms(), state.new_task_id)


def _days_ago(sandbox, days: int) -> Any:
    from datetime import timedelta

    return worlds.today_in_tenant(sandbox.state.now()) - timedelta(days=days)


def native_pending(sandbox) -> Case:
    """The world's purchase at step two: the lead passed step one; finance and office (AND) each hold a task."""
    return Case(worlds.NATIVE["purchase_step2"], {"stranger": "designer", "requester": "agent2",
                                                  "other_step": "lead", "admin": "admin", "with_task": "finance"})


def linked_pending(sandbox) -> Case:
    """A two-step request whose form names agent1's pending remedy record; the lead passed step one."""
    day = _days_ago(sandbox, 2)
    form = worlds.remedy_form(worlds.rfc(day, "09:00"), "忘记打卡 forgot to clock in", RECORDS["remedy_pending"])
    code = sandbox.state.submit_instance("purchase", "agent1", form)
    _pass_step(sandbox, code, "lead")
    return Case(code, {"stranger": "designer", "requester": "agent1", "other_step": "lead", "admin": "admin",
                       "with_task": "finance"})


def linked_approved(sandbox) -> Case:
    """A two-step request naming agent1's approved leave record, passed by the lead, then finance and office."""
    day = _days_ago(sandbox, 7)
    form = worlds.leave_form(worlds.rfc(day), worlds.rfc(day, "18:00"), 1.0, "年假 annual",
                             attendance_id=RECORDS["leave_approved"])
    code = sandbox.state.submit_instance("purchase", "agent1", form)
    for who in ("lead", "finance", "office"):
        _pass_step(sandbox, code, who)
    assert sandbox.state.instances[code]["status"] == "APPROVED"
    return Case(code, {"stranger": "designer", "requester": "agent1", "other_step": "lead", "admin": "admin",
                       "with_task": "finance"})


def record_only(name: str, type_word: str = "") -> Callable[[Any], Case]:
    """An attendance record with no instance: the requester's leader (who holds no task) and admins may act;
    finance leads another team."""
    return lambda _sandbox: Case(RECORDS[name], {"stranger": "designer", "requester": "agent1",
                                                 "other_step": "finance", "admin": "admin", "with_task": "lead"},
                                 type_word)


# -- the matrix ---------------------------------------------------------------------------------------------------

DONE = {"approve": "Approved by {name}", "reject": "Rejected by {name}", "revoke": "Revoked by {name}"}
NAMES = {"finance": "Finance Yang", "admin": "Admin Zhao", "lead": "Lead Chen"}


def _done(action: str, who: str) -> str:
    return DONE[action].format(name=NAMES[who])


# a record's requester and other teams' leaders never found it (the bot finds records through a leader's team)
RECORD_ORDER = ("stranger", "requester", "other_step", "with_task", "admin")

# (kind, action) -> the approval, the order roles act in, what each reads back, the action calls made
MATRIX: dict[tuple[str, str], tuple[Callable[[Any], Case], tuple[str, ...], dict[str, str], Any]] = {
    ("native", "approve"): (native_pending, ROLES,
                            {"stranger": NOT_FOUND, "requester": OWN, "other_step": NOT_YOUR_TASK,
                             "admin": NOT_YOUR_TASK, "with_task": _done("approve", "finance")},
                            ("task_approve", "finance", "")),
    ("native", "reject"): (native_pending, ROLES,
                           {"stranger": NOT_FOUND, "requester": OWN, "other_step": NOT_YOUR_TASK,
                            "admin": NOT_YOUR_TASK, "with_task": _done("reject", "finance")},
                           ("task_reject", "finance", REASON)),
    ("native", "revoke"): (native_pending, ROLES,
                           {"stranger": NOT_FOUND, "requester": NATIVE_REVOKE, "other_step": NATIVE_REVOKE,
                            "admin": NATIVE_REVOKE, "with_task": NATIVE_REVOKE}, None),
    ("linked", "approve"): (linked_pending, ("stranger", "requester", "other_step", "with_task", "admin"),
                            {"stranger": NOT_FOUND, "requester": OWN, "other_step": NOT_APPROVER,
                             "with_task": _done("approve", "finance"), "admin": _done("approve", "finance")},
                            ("process", RECORDS["remedy_pending"], "remedy", 2)),
    ("linked", "reject"): (linked_pending, ROLES,  # the admin acts, then the approver reads who did
                           {"stranger": NOT_FOUND, "requester": OWN, "other_step": NOT_APPROVER,
                            "admin": _done("reject", "admin"), "with_task": _done("reject", "admin")},
                           ("process", RECORDS["remedy_pending"], "remedy", 1)),
    ("linked", "revoke"): (linked_approved, ("stranger", "requester", "with_task", "other_step", "admin"),
                           {"stranger": NOT_FOUND, "requester": OWN, "with_task": _done("revoke", "finance"),
                            "other_step": _done("revoke", "finance"), "admin": _done("revoke", "finance")},
                           ("process", RECORDS["leave_approved"], "leave", 4)),
    ("attendance", "approve"): (record_only("remedy_pending"), RECORD_ORDER,
        {"stranger": NOT_FOUND, "requester": NOT_FOUND, "other_step": NOT_FOUND,
         "with_task": _done("approve", "lead"), "admin": _done("approve", "lead")},
                                ("process", RECORDS["remedy_pending"], "remedy", 2)),
    ("attendance", "reject"): (record_only("remedy_pending"), RECORD_ORDER,
        {"stranger": NOT_FOUND, "requester": NOT_FOUND, "other_step": NOT_FOUND,
         "with_task": _done("reject", "lead"), "admin": _done("reject", "lead")},
                               ("process", RECORDS["remedy_pending"], "remedy", 1)),
    ("attendance", "revoke"): (record_only("leave_approved", "leave"), RECORD_ORDER,
        {"stranger": NOT_FOUND, "requester": NOT_FOUND, "other_step": NOT_FOUND,
         "with_task": _done("revoke", "lead"), "admin": _done("revoke", "lead")},
                               ("process", RECORDS["leave_approved"], "leave", 4)),
}


def command(action: str, case: Case) -> str:
    if action == "reject":
        return f"/reject {case.approval_id} {REASON}"
    if action == "revoke" and case.type_word:
        return f"/revoke {case.approval_id} {case.type_word}"
    return f"/{action} {case.approval_id}"


def described(call: Any, sandbox) -> tuple[Any, ...]:
    """An action call as the matrix states it: task calls by who sent them, process by what it names."""
    body = call.json
    if call.endpoint == "process":
        return ("process", body["approval_id"], body["approval_type"], body["status"])
    holder = next(name for name, p in sandbox.state.people.items() if p["open_id"] == body["user_id"])
    task = flow.find_task(sandbox.state.instances[body["instance_code"]], body["task_id"])
    assert call.query["user_id_type"] == "open_id" and task["user_id"] == sandbox.state.people[holder]["user_id"]
    return (call.endpoint, holder, body.get("comment", ""))


def never_process_on_an_instance(sandbox) -> None:
    for call in sandbox.action_calls():
        if call.endpoint == "process":
            named = call.json["approval_id"]
            assert named.isdigit() and named in sandbox.state.attendance and named not in sandbox.state.instances


@pytest.mark.parametrize(("kind", "action"), list(MATRIX), ids=[f"{k}-{a}" for k, a in MATRIX])
def test_kind_action_role(bot, sandbox, kind, action):
    make, order, expected, call = MATRIX[(kind, action)]
    case = make(sandbox)
    before = {code: inst["status"] for code, inst in sandbox.state.instances.items()}
    for role in order:
        reply = bot.say(case.people[role], command(action, case))
        assert reply is not None, role
        seen = card_text(reply["content"])
        assert expected[role].format(id=case.approval_id) in seen, (role, seen)
        if expected[role] == NATIVE_REVOKE:  # and the card opens the request in Feishu Approval, to withdraw it
            assert detail_links(case.approval_id, bot.config.base_url)["pc"] in seen
    assert [described(c, sandbox) for c in sandbox.action_calls()] == ([call] if call else [])
    never_process_on_an_instance(sandbox)
    if call and call[0] == "process":  # attendance only: the instances are left as they were
        assert {code: inst["status"] for code, inst in sandbox.state.instances.items()} == before
        assert sandbox.state.attendance[call[1]]["status"] == {2: 2, 1: 1, 4: 4}[call[3]]


# -- what each reader's card offers --------------------------------------------------------------------------------

VIEWS = {  # the approval, and the buttons each role's one-to-one card shows (None: told it was not found)
    "native pending": (native_pending, {"stranger": None, "requester": [], "other_step": [], "admin": [],
                                        "with_task": ["approve", "reject"]}),
    "linked pending": (linked_pending, {"stranger": None, "requester": [], "other_step": [],
                                        "admin": ["approve", "reject"], "with_task": ["approve", "reject"]}),
    "linked approved": (linked_approved, {"stranger": None, "requester": [], "other_step": ["revoke"],
                                          "admin": ["revoke"], "with_task": ["revoke"]}),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_each_reader_sees_the_buttons_their_role_allows(bot, sandbox, name):
    make, wanted = VIEWS[name]
    case = make(sandbox)
    for role, buttons in wanted.items():
        reply = bot.say(case.people[role], f"/approval {case.approval_id}")
        if buttons is None:
            assert NOT_FOUND.format(id=case.approval_id) in card_text(reply["content"])
        else:
            assert [v["action"] for v in find_buttons(reply["content"])] == buttons, role
    assert sandbox.action_calls() == []


def test_a_linked_card_follows_its_record_not_its_instance(bot, sandbox):
    """The world's leave whose instance stays APPROVED while its record was revoked in attendance."""
    code = worlds.NATIVE["linked_leave_revoked"]
    assert sandbox.state.instances[code]["status"] == "APPROVED"
    for user in ("admin", "lead"):
        reply = bot.say(user, f"/approval {code}")
        assert [v["action"] for v in find_buttons(reply["content"])] == [], user  # nothing left to revoke
        assert "Revoked" in card_text(reply["content"])
    reply = bot.say("admin", f"/revoke {code}")
    assert "already revoked" in card_text(reply["content"])
    assert sandbox.action_calls() == []


def test_a_card_from_before_the_kinds_is_shown_anew_and_not_acted_on(bot, sandbox):
    case = native_pending(sandbox)
    reply = bot.say("finance", f"/approval {case.approval_id}")
    old = {"action": "approve", "approval_id": case.approval_id, "approval_type": "", "v": 1}
    assert cards.CARD_VERSION != 1
    answer = bot.sender.click("finance", old, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert answer.status == 200 and answer.toast["type"] == "warning"
    assert "older version of the bot, so nothing was done" in answer.toast["content"]
    assert sandbox.action_calls() == []


# -- the two-step approval by button --------------------------------------------------------------------------------


def _card_of(sandbox, user: str, item: str) -> dict[str, Any] | None:
    """The newest card about `item` in `user`'s one-to-one chat with the bot."""
    found = [m for m in sandbox.messages(data.p2p_chat(user)) if item in card_text(m["content"])]
    return found[-1] if found else None


def _actions(bot, message: dict[str, Any]) -> list[str]:
    return [v["action"] for v in find_buttons(bot.card(message))]


def test_a_two_step_approval_by_button_each_approver_as_themselves(subscribed_bot, sandbox):
    bot, code, item = subscribed_bot, worlds.NATIVE["purchase_step1"], "Ergonomic chair"
    lead_card = bot.say("lead", f"/approval {code}")
    assert _actions(bot, lead_card) == ["approve", "reject"]
    assert bot.click("lead", lead_card, "approve").toast["type"] == "success"

    # step two (finance and office, AND): each gets the card from the approval_task event, with their buttons
    assert wait_until(lambda: _card_of(sandbox, "finance", item) and _card_of(sandbox, "office", item), 10)
    finance, office = _card_of(sandbox, "finance", item), _card_of(sandbox, "office", item)
    assert _actions(bot, finance) == ["approve", "reject"] and _actions(bot, office) == ["approve", "reject"]
    assert _actions(bot, lead_card) == []  # the lead's turn is over

    assert bot.click("finance", finance, "approve").toast["type"] == "success"
    assert _actions(bot, office) == ["approve", "reject"]  # an AND node: office's task is still open
    assert bot.click("office", office, "approve").toast["type"] == "success"
    assert sandbox.state.instances[code]["status"] == "APPROVED"

    # every copy follows: each reader's card shows the approval approved, with nothing left to click
    assert wait_until(lambda: all(_actions(bot, m) == [] and "Approved" in card_text(bot.card(m))
                                  for m in (lead_card, finance, office)), 10)
    assert [described(c, sandbox) for c in sandbox.action_calls()] == [
        ("task_approve", "lead", ""), ("task_approve", "finance", ""), ("task_approve", "office", "")]
    assert len([m for m in sandbox.messages(data.p2p_chat("finance")) if item in card_text(m["content"])]) == 1
