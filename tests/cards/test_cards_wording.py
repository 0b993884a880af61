"""What a manager reads on the cards: names where the context gives them (ids only to copy, labelled), no text
said twice, counts and plurals that read right, and no box or claim on a card that does not apply."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import cards_samples as samples
import pytest

import cards
from cards.environment import md
from cards.messages import user_message
from core.approval import from_instance
from core.rules import Action
from tests.cardwalk import read, reader_view

NAMES_EN = samples.NAMES["en_us"]


def _components(card: Any, tag: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") == tag:
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return found


# --- the log id once ---


@pytest.mark.parametrize("locale", cards.LOCALES)
def test_a_feishu_error_shows_its_log_id_once(locale: str) -> None:
    """commands pass `user_message(err)` (which ends in the log id) and `log_id=err.log_id` to the notice."""
    err = SimpleNamespace(kind="api", code=1390009, msg="no operation permission", http_status=403,
                          log_id="20261120090300ABCDEF")
    card = cards.render("notice", locale, title=cards.msg("title.notice"), text=user_message(err, locale),
                        tone="error", log_id=err.log_id)
    for reader in cards.LOCALES:
        assert read(card, reader).count("20261120090300ABCDEF") == 1, reader
    assert cards.text("error.feishu.1390009", locale) in read(card, locale)


# --- timeline: names, never ids ---


def _reverted_by_attendance() -> Any:
    data = samples.remedy_approved()
    data.update(status="REVERTED")
    # what Feishu (and the sandbox) record when attendance revokes: the entry names no one
    data["timeline"].append({"type": "REVERTED", "create_time": str(samples.T0 + 90 * samples.MIN), "user_id": "",
                             "open_id": ""})
    return from_instance(data, data["instance_code"])


def test_a_revoke_row_in_the_timeline_says_who_or_that_it_is_not_recorded() -> None:
    approval = _reverted_by_attendance()
    told = cards.render("approval", "en_us", approval=approval, names=NAMES_EN, outcome={
        "action": "revoke", "operator": "Admin Zhao", "at_ms": samples.T0 + 90 * samples.MIN, "reason": ""})
    assert "2026-11-20 10:33 · Admin Zhao · revoked" in read(told, "en_us")
    untold = cards.render("approval", "zh_cn", approval=approval, names=NAMES_EN)
    assert md("2026-11-20 10:33 · Revoked in Feishu Attendance (who revoked it is not recorded)") in \
        read(untold, "en_us")
    assert "2026-11-20 10:33 · 已在飞书考勤中撤销（未记录操作人）" in read(untold, "zh_cn")


def test_cc_and_transfer_targets_are_names_and_unknown_people_are_counted() -> None:
    approval = samples.approval("every_widget")
    text = read(cards.render("approval", "en_us", approval=approval, names=NAMES_EN), "en_us")
    assert "Manager Li · copied → Admin Zhao" in text
    assert "Admin Zhao · transferred → Manager Wang" in text
    bare = read(cards.render("approval", "en_us", approval=approval, names={}), "en_us")
    for raw in ("ou_", "u_manager", "u_admin", "od-"):
        assert raw not in bare
    assert md("Someone (name not visible to the bot) · copied → 1 person whose name the bot cannot see") in bare


def test_the_requesters_department_is_named() -> None:
    card = cards.render("approval", "en_us", approval=samples.approval("remedy_pending"), names=NAMES_EN)
    assert "**Requester**\nEmployee Zhang · Sales" in read(card, "en_us")


def test_a_shared_pending_card_says_whose_turn_it_is() -> None:
    card = cards.render("approval", "zh_cn", approval=samples.approval("remedy_pending"),
                        names=samples.NAMES["zh_cn"], shared=True)
    assert "Waiting for: 王经理" in read(card, "en_us") and "等待审批：王经理" in read(card, "zh_cn")
    done = cards.render("approval", "en_us", approval=samples.approval("remedy_approved"), names=NAMES_EN,
                        shared=True)
    assert "Waiting for" not in read(done, "en_us")
    own = cards.render("approval", "en_us", approval=samples.approval("remedy_pending"), names=NAMES_EN)
    assert "Waiting for" not in read(own, "en_us")  # one-to-one: the buttons say what the reader may do


# --- ids only to copy, and labelled ---


def test_ids_are_not_in_titles_or_previews_but_labelled_in_the_body() -> None:
    history = cards.render("history", "en_us", approval_id="7100000000000000002", records=[])
    attendance = cards.render("attendance_only", "en_us", approval_id="6800000000000000001", approval_type="remedy")
    for card in (history, attendance):
        preview = json.dumps([card["header"], card["config"]["summary"]], ensure_ascii=False)
        assert "7100000000000000002" not in preview and "6800000000000000001" not in preview
    assert "Approval ID 7100000000000000002" in read(history, "en_us")
    assert "**Attendance record ID**\n6800000000000000001" in read(attendance, "en_us")
    approval = cards.render("approval", "en_us", approval=samples.approval("remedy_pending"), names=NAMES_EN)
    assert approval["header"]["subtitle"]["content"] == "Employee Zhang · Serial No. 202611200001"


# --- lists ---


def test_a_pending_item_does_not_repeat_its_title() -> None:
    item = {"approval": samples.approval("remedy_pending"), "approval_id": "7100000000000000001",
            "title": "补卡申请 · 张三", "definition_name": "补卡申请", "initiator": "张三", "link": None,
            "actions": (Action.APPROVE,)}
    card = cards.render("pending_list", "zh_cn", items=[item], names=samples.NAMES["zh_cn"], page=1, total=1,
                        next_page_token=None)
    [row] = [m["content"] for m in _components(reader_view(card, "zh_cn"), "markdown")
             if m["content"].startswith("**补卡申请 · 张三**")]
    assert row.count("补卡申请") == 1 and row.count("张三") == 1
    assert "2026-11-20 09:03" in row and "时间：2026-11-19 09:02" in row


def test_an_empty_list_has_no_pages_and_no_zero_count() -> None:
    card = cards.render("pending_list", "en_us", items=[], names={}, page=1, total=0, next_page_token=None)
    for locale in cards.LOCALES:
        text = read(card, locale)
        assert cards.text("pending.empty", locale) in text
        assert "0" not in text, text  # neither "Page 1 · 0 in all" nor "0 pending"


def test_batch_counts_name_only_what_happened_and_refused_is_not_rejected() -> None:
    card = cards.render("summary", "en_us", results=[
        {"approval_id": "7100000000000000001", "outcome": "done", "text": cards.msg("toast.approved")},
        {"approval_id": "7100000000000000007", "outcome": "refused", "text": cards.msg("refusal.own_request")}])
    tags = [t["text"]["content"] for t in card["header"]["text_tag_list"]]
    assert tags == ["1 done", "1 not allowed"]
    assert card["header"]["subtitle"]["content"] == "2 requests"
    zh = read(card, "zh_cn")
    assert "被拒" not in zh and "1 个不允许" in zh
    one = cards.render("summary", "en_us", results=[{"approval_id": "7", "outcome": "done", "text": "ok"}])
    assert one["header"]["subtitle"]["content"] == "1 request"
    assert "Done · Approval ID 7: ok" in read(one, "en_us")


def test_history_reads_as_sentences_with_plurals() -> None:
    card = cards.render("history", "en_us", approval_id="7100000000000000002", records=[
        {"at_ms": samples.T0, "operator": "Manager Wang", "action": "reject", "outcome": "done", "reason": "Late",
         "code": None, "log_id": ""}])
    text = read(card, "en_us")
    assert card["header"]["subtitle"]["content"] == "1 recorded action"
    assert "Reject: done" in text and "reject · Done" not in text
    assert "拒绝：成功" in read(card, "zh_cn")


# --- what does not apply is not shown ---


def test_a_revoke_only_card_has_no_reason_box() -> None:
    card = cards.render("approval", "en_us", approval=samples.approval("remedy_approved"), names=NAMES_EN,
                        actions=(Action.REVOKE,))
    assert not _components(card, "input") and not _components(card, "form")
    [revoke] = _components(card, "button")[:1]
    assert revoke["behaviors"][0]["value"]["action"] == "revoke" and revoke["confirm"]
    approve_only = cards.render("approval", "en_us", approval=samples.approval("remedy_pending"), names=NAMES_EN,
                                actions=(Action.APPROVE,))
    [box] = _components(approve_only, "input")
    assert box["placeholder"]["content"] == "Comment (optional)"


def test_details_has_a_toast_of_its_own() -> None:
    toast = cards.toast("toast.details", "en_us")
    assert toast["content"] == "Here are the details." and toast["i18n"]["zh_cn"] == "详情如下。"


def test_an_operator_the_contact_api_could_not_name_is_not_shown_as_an_open_id() -> None:
    """Handlers fall back to the operator's open_id when the contact lookup fails."""
    open_id = "ou_3cda9c969f737aaa05e6915dce306cb9"
    card = cards.render("approval", "en_us", approval=samples.approval("remedy_pending"), names=NAMES_EN,
                        outcome={"action": "approve", "operator": open_id, "at_ms": samples.T0, "reason": ""})
    history = cards.render("history", "en_us", approval_id="7100000000000000001", records=[
        {"at_ms": samples.T0, "operator": open_id, "action": "approve", "outcome": "done"}])
    for shown in (card, history):
        assert open_id not in json.dumps(shown) and "Someone" in read(shown, "en_us")
