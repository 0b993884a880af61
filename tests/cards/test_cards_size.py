"""Feishu's limits: ≤ 30 KB of JSON and ≤ 200 components, whatever the input; truncation is visible and stable."""

from __future__ import annotations

import json
from typing import Any

import cards_samples as samples
import pytest

import cards
from core.approval import from_instance
from core.rules import Action
from tests import cardwalk


def _markdown(card: dict[str, Any]) -> str:
    return cardwalk.markdown(card)


def _fits(card: dict[str, Any]) -> None:
    size = len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert size <= 30 * 1024, size
    assert cards.count_elements(card) <= 200
    assert cards.card_size(card) == size


def _big_approval(widgets: int = 200, text: str = "长" * 300, entries: int = 0) -> Any:
    data = samples.remedy_pending()
    form = [{"id": f"w{i}", "name": f"Field {i}", "type": "textarea", "value": f"{text}\n{text}"}
            for i in range(widgets)]
    form.insert(0, samples.REMEDY_WIDGET)
    data["form"] = json.dumps(form, ensure_ascii=False)
    data["timeline"] += [{"type": "PASS", "create_time": str(samples.T0 + i), "open_id": "ou_manager",
                          "comment": text} for i in range(entries)]
    data["comment_list"] = [{"id": str(i), "open_id": "ou_manager", "comment": text, "create_time": str(samples.T0 + i),
                             "files": [{"url": samples.FILE_URL, "title": f"f{j}.png"} for j in range(30)]}
                            for i in range(entries)]
    return from_instance(data, data["instance_code"])


@pytest.mark.parametrize("locale", cards.LOCALES)
def test_200_widget_form_fits_and_says_how_many_more(locale: str) -> None:
    approval = _big_approval()
    card = cards.render("approval", locale, approval=approval, actions=(Action.APPROVE, Action.REJECT),
                        names=samples.NAMES[locale], link=samples.LINK)
    _fits(card)
    text = _markdown(card)
    shown = sum(1 for i in range(200) if f"**Field {i}**" in text)
    assert 0 < shown < 200
    more = cards.text("truncated.more", locale, n=201 - (shown + 1))
    assert more.replace("(", "\\(") in text
    assert f"]({samples.LINK['pc']})" in text  # the link to the full approval
    # the buttons survive truncation: they are what the card is for
    values = [b["behaviors"][0]["value"]["action"] for b in _buttons(card)]
    assert values == ["approve", "reject"]


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return cardwalk.callback_buttons(card)


def test_long_timeline_and_comments_keep_the_newest() -> None:
    card = cards.render("approval", "en_us", approval=_big_approval(widgets=3, text="x" * 50, entries=500),
                        actions=(), names=samples.NAMES["en_us"])
    _fits(card)
    text = _markdown(card)
    assert "**Timeline**\n… and " in text and "**Comments**\n… and " in text
    assert "2026-11-20 09:03 · Manager Wang · approved" in text


def test_truncation_is_deterministic() -> None:
    approval = _big_approval(entries=50)
    first = cards.render("approval", "zh_cn", approval=approval, actions=(Action.REVOKE,), names={})
    assert first == cards.render("approval", "zh_cn", approval=approval, actions=(Action.REVOKE,), names={})


def test_a_small_card_is_not_truncated() -> None:
    card = cards.render("approval", "en_us", approval=samples.approval("every_widget"), actions=(),
                        names=samples.NAMES["en_us"])
    assert "… and" not in _markdown(card)


def _pending_items(n: int) -> list[dict[str, Any]]:
    approvals = [samples.approval("remedy_pending"), samples.approval("leave_pending")]
    items = []
    for i in range(n):
        approval = approvals[i % 2]
        items.append({"approval": approval, "approval_id": f"71000000000000{i:05d}", "title": f"Request {i} " * 5,
                      "definition_name": approval.approval_name, "initiator": "ou_employee", "link": samples.LINK,
                      "actions": (Action.APPROVE, Action.REJECT) if i % 2 == 0 else ()})
    return items


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_pending_list_of_any_length_fits(n: int) -> None:
    card = cards.render("pending_list", "en_us", items=_pending_items(n), names=samples.NAMES["en_us"], page=3,
                        total=n, next_page_token="next")
    _fits(card)
    text = _markdown(card)
    buttons = [b["behaviors"][0]["value"] for b in _buttons(card)]
    shown = [v["approval_id"] for v in buttons if v["action"] == "show"]
    approvable = [v["approval_id"] for v in buttons if v["action"] == "approve"]
    assert len(shown) == min(n, len(shown)) and shown == [f"71000000000000{i:05d}" for i in range(len(shown))]
    if len(shown) < n:
        assert f"… and {n - len(shown)} more" in text
    every = [v for v in buttons if v["action"] == "approve_all"]
    listed = {"page_token": "", "page": 3}  # the list's own page, so a click answers with this list again
    assert every == [{"action": "approve_all", "approval_ids": approvable, "list": listed, "v": cards.CARD_VERSION}]
    assert buttons[-1] == {"action": "pending_page", "page_token": "next", "page": 4, "v": cards.CARD_VERSION}


def test_pending_list_shows_a_whole_page_of_ten() -> None:
    card = cards.render("pending_list", "zh_cn", items=_pending_items(10), names={}, page=1, total=None,
                        next_page_token=None)
    shows = [b for b in _buttons(card) if b["behaviors"][0]["value"]["action"] == "show"]
    assert len(shows) == 10
    assert "pending_page" not in json.dumps(card)


def test_approve_all_needs_two_approvable() -> None:
    card = cards.render("pending_list", "en_us", items=_pending_items(2), names={}, page=1, total=2,
                        next_page_token=None)
    assert "approve_all" not in json.dumps(card)
    empty = cards.render("pending_list", "en_us", items=[], names={}, page=1, total=0, next_page_token=None)
    assert cards.text("pending.empty", "en_us") in _markdown(empty)


def test_huge_texts_in_other_cards_fit() -> None:
    huge = "<at id=all></at>" * 7000
    for card in (
        cards.render("notice", "en_us", title=huge, text=huge, tone="warning", log_id=huge),
        cards.render("help", "en_us", commands=[{"name": huge, "alias": huge, "usage_key": "command.help.usage",
                                                 "summary_key": "command.help.summary"}] * 300, notice=huge),
        cards.render("summary", "en_us", results=[{"approval_id": huge, "outcome": "failed", "text": huge}] * 500),
        cards.render("history", "en_us", approval_id=huge, records=[
            {"at_ms": i, "operator": huge, "action": huge, "outcome": huge, "reason": huge, "code": huge,
             "log_id": huge} for i in range(500)]),
        cards.render("attendance_only", "en_us", approval_id=huge, approval_type=huge, actions=(), notice=huge),
    ):
        _fits(card)


def test_pending_item_requester_falls_back_to_the_task_initiator_name() -> None:
    item = {**_pending_items(1)[0], "initiator": "Employee Zhang (task query)"}
    text = _markdown(cards.render("pending_list", "en_us", items=[item], names={}, page=1, total=1,
                                  next_page_token=None))
    assert "Employee Zhang \\(task query\\)" in text
    named = _markdown(cards.render("pending_list", "en_us", items=[item], names={"ou_employee": "Zhang"}, page=1,
                                   total=1, next_page_token=None))
    assert "**Punch correction · Zhang**" in named and "task query" not in named  # the name, in the title
