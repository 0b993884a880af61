"""What a manager meets, through the real app and lark-oapi against the sandbox: the list stays a list, the
reject reason is required and reaches the requester, the serial number and a pasted link work, each reader's
card shows what they may do, and toasts carry both languages."""

from __future__ import annotations

from sandbox.data import INSTANCES, p2p_chat
from tests import cardwalk
from tests.integration.harness import card_text, find_buttons, wait_until

PENDING = INSTANCES["remedy_pending"]


def _approvable(card) -> list[str]:
    return [v["approval_id"] for v in find_buttons(card) if v.get("action") == "approve"]


def test_a_list_click_keeps_the_list_and_older_lists_follow(bot, sandbox):
    older = bot.say("manager", "/pending")
    listed = bot.say("manager", "/pending")
    assert PENDING in _approvable(listed["content"]) and len(_approvable(listed["content"])) >= 2
    answer = bot.click("manager", listed, "approve", approval_id=PENDING)
    assert answer.status == 200 and answer.card_error == ""
    card = answer.card
    assert card["header"]["title"]["i18n_content"]["en_us"] == "Pending approvals"
    remaining = _approvable(card)
    assert PENDING not in remaining and remaining == [a for a in _approvable(listed["content"]) if a != PENDING]
    assert wait_until(lambda: PENDING not in _approvable(bot.card(older)))
    assert "Pending approvals" in card_text(bot.card(older))  # a list still, not one approval's card


def test_a_reject_needs_its_reason_and_the_requester_is_told(bot, sandbox):
    from sandbox import worlds

    linked = worlds.NATIVE["linked_remedy_pending"]  # attendance decides it, and attendance tells nobody
    shown = bot.say("lead", f"/approval {linked}")
    bare = bot.click("lead", shown, "reject")
    assert bare.toast["type"] == "warning" and sandbox.action_calls() == []
    done = bot.click("lead", shown, "reject", reason="打卡记录显示未到岗 no gate entry")
    assert done.status == 200 and len(sandbox.process_calls()) == 1
    assert "no gate entry" in card_text(done.card)

    def told() -> list[str]:
        return [card_text(m["content"]) for m in sandbox.state.bot_messages(p2p_chat("agent1"))]

    assert wait_until(lambda: any("no gate entry" in t for t in told()))
    assert [r.reason for r in bot.store.history(linked) if r.outcome == "done"] == ["打卡记录显示未到岗 no gate entry"]


def test_the_serial_number_and_a_pasted_link_work(bot, sandbox):
    serial = sandbox.state.snapshot(PENDING)["instance"]["serial_number"]
    shown = bot.say("manager", f"/approval {PENDING}")
    assert serial in card_text(shown["content"])
    by_serial = bot.say("manager", f"/approval {serial}")
    assert PENDING in _approvable(by_serial["content"])
    listed = bot.say("manager", "/pending")
    link = _pasted_link(listed["content"], PENDING)
    bot.say("manager", f"/approve {link} looks right")
    assert len(sandbox.action_calls()) == 1
    assert [r.reason for r in bot.store.history(PENDING) if r.outcome == "done"] == ["looks right"]


def _pasted_link(card, code: str) -> str:
    """The "Open in Feishu" link a list item carries (tasks/query's pc url), as a person would copy it."""
    for text in cardwalk.markdown(card).split("\n"):
        if f"instanceId={code}" in text.replace("\\", ""):
            start = text.index("(https://") + 1
            return text[start:text.index(")", start)].replace("\\", "")
    raise AssertionError(f"no link to {code} on the card")


def test_the_requester_sees_no_button_on_their_own_request_and_toasts_are_bilingual(bot, sandbox):
    own = bot.say("employee", f"/approval {INSTANCES['remedy_approved']}")
    assert [v for v in find_buttons(own["content"]) if v.get("action") == "revoke"] == []
    listed = bot.say("manager", "/pending")
    details = bot.click("manager", listed, "show", approval_id=PENDING)
    assert details.toast["i18n"] == {"zh_cn": "详情如下。", "en_us": "Here are the details."}


def test_a_group_card_says_who_may_act_and_a_one_to_one_card_does_not(bot, sandbox):
    group = bot.say("manager", f"/approval {PENDING}", chat="group", mention=True)
    mine = bot.say("manager", f"/approval {PENDING}")
    assert "Waiting for: Manager Wang" in card_text(group["content"])
    assert "Waiting for" not in card_text(mine["content"])
