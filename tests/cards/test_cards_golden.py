"""Every card in every state, with either locale as the default, against reviewed golden JSON (tests/cards/golden/).

Contexts are what a handler passes: the same whatever the default locale (names as the contact API gives them,
catalogue texts as ``cards.msg``), since one card carries every locale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cards_samples as samples
import pytest
from cards_golden import assert_golden

import cards
from core.rules import Action

A, R, V = Action.APPROVE, Action.REJECT, Action.REVOKE
NAMES = samples.NAMES["zh_cn"]


def _approval(sample: str, **extra: Any) -> Callable[[str], dict[str, Any]]:
    def build(locale: str) -> dict[str, Any]:
        context: dict[str, Any] = {"approval": samples.approval(sample), "actions": (), "names": NAMES,
                                   "tz": "Asia/Shanghai", "link": samples.LINK, "outcome": None, "notice": None,
                                   "processing": False}
        context.update(extra)
        return cards.render("approval", locale, **context)
    return build


def _outcome(action: str, reason: str = "") -> Callable[[str], dict[str, Any]]:
    def build(locale: str) -> dict[str, Any]:
        return _approval("remedy_pending" if action != "revoke" else "remedy_approved", outcome={
            "action": action, "operator": NAMES["ou_manager"], "at_ms": samples.T0 + 59 * 60_000,
            "reason": reason})(locale)
    return build


def _processing(locale: str) -> dict[str, Any]:
    return _approval("remedy_pending", processing=True)(locale)


def _attendance_only(locale: str) -> dict[str, Any]:
    return cards.render("attendance_only", locale, approval_id="6800000000000000001", approval_type="remedy",
                        actions=(A, R), outcome=None, notice=None)


def _attendance_only_refused(locale: str) -> dict[str, Any]:
    return cards.render("attendance_only", locale, approval_id="6800000000000000002", approval_type=None,
                        actions=(), outcome=None,
                        notice=cards.msg("refusal.not_found", id="6800000000000000002"))


def _pending_list(locale: str) -> dict[str, Any]:
    item = {"link": samples.LINK, "definition_name": "补卡申请", "initiator": "张三"}  # task query: names
    items = [
        {**item, "approval": samples.approval("remedy_pending"), "approval_id": "7100000000000000001",
         "title": "补卡申请 · 张三", "actions": (A, R)},
        {**item, "approval": samples.approval("attendance_field"), "approval_id": "7100000000000000006",
         "title": "补卡申请 · 张三", "actions": (A, R)},
        {**item, "approval": samples.approval("leave_pending"), "approval_id": "7100000000000000007",
         "title": "请假 · 张三", "definition_name": "请假", "actions": ()},
        {**item, "approval": None, "approval_id": "7100000000000000099", "title": "外出 · 张三",
         "definition_name": "外出", "link": None, "actions": ()},
    ]
    return cards.render("pending_list", locale, items=items, names=NAMES, tz="Asia/Shanghai",
                        page=1, total=14, next_page_token="pt_abc123")


COMMANDS = [
    {"name": n, "alias": a, "usage_key": f"command.{n}.usage", "summary_key": f"command.{n}.summary"}
    for n, a in (("help", "帮助"), ("approval", "审批"), ("approve", "通过"), ("reject", "拒绝"), ("revoke", "撤销"),
                 ("pending", "待办"), ("history", ""))
]


def _help(locale: str) -> dict[str, Any]:
    return cards.render("help", locale, commands=COMMANDS,
                        notice=cards.msg("reply.unknown_command", command="foo"))


def _notice_error(locale: str) -> dict[str, Any]:
    return cards.render("notice", locale, title=cards.msg("title.notice"),
                        text=cards.msg("error.feishu.1220005"), tone="error",
                        log_id="20261120090300ABCDEF0123456789")


def _summary(locale: str) -> dict[str, Any]:
    return cards.render("summary", locale, results=[
        {"approval_id": "7100000000000000001", "outcome": "done", "text": cards.msg("toast.approved")},
        {"approval_id": "7100000000000000006", "outcome": "done", "text": cards.msg("toast.approved")},
        {"approval_id": "7100000000000000007", "outcome": "refused",
         "text": cards.msg("refusal.only_revoke", type=cards.msg("type.leave"))},
        {"approval_id": "7100000000000000009", "outcome": "failed",
         "text": cards.msg("error.feishu.1220005")},
    ])


def _history(locale: str) -> dict[str, Any]:
    names = NAMES
    return cards.render("history", locale, approval_id="7100000000000000002", tz="Asia/Shanghai", records=[
        {"at_ms": samples.T0 + 40 * 60_000, "operator": names["ou_admin"], "action": "revoke", "outcome": "failed",
         "reason": "", "code": 1220005, "log_id": "20261120094300LOG2"},
        {"at_ms": samples.T0 + 30 * 60_000, "operator": names["ou_manager"], "action": "approve", "outcome": "done",
         "reason": "", "code": 0, "log_id": "20261120093300LOG1"},
        {"at_ms": samples.T0 + 50 * 60_000, "operator": "ou_stranger", "action": "revoke", "outcome": "refused",
         "reason": "Wrong day", "code": None, "log_id": ""},
    ])


CASES: dict[str, Callable[[str], dict[str, Any]]] = {
    "approval_pending": _approval("remedy_pending", actions=(A, R)),
    "approval_pending_shared": _approval("remedy_pending", actions=(A, R), shared=True),
    "approval_approved_revoke": _approval("remedy_approved", actions=(V,)),
    "approval_rejected": _approval("remedy_rejected"),
    "approval_revoked": _approval("remedy_reverted"),
    "approval_read_only_shift": _approval("shift_approved"),
    "approval_every_widget": _approval("every_widget", actions=(A, R)),
    "approval_attendance_field": _approval("attendance_field", actions=(A, R), link=None),
    "approval_leave_pending": _approval("leave_pending"),
    "approval_outcome_approved": _outcome("approve"),
    "approval_outcome_rejected": _outcome("reject", "Punch record exists at 08:58"),
    "approval_outcome_revoked": _outcome("revoke"),
    "approval_processing": _processing,
    "attendance_only": _attendance_only,
    "attendance_only_refused": _attendance_only_refused,
    "pending_list": _pending_list,
    "help_notice": _help,
    "notice_error": _notice_error,
    "summary": _summary,
    "history": _history,
}


@pytest.mark.parametrize("locale", cards.LOCALES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_card_matches_golden(case: str, locale: str) -> None:
    assert_golden(f"{case}-{locale}", CASES[case](locale))


def test_every_golden_file_has_a_case() -> None:
    from cards_golden import GOLDEN_DIR

    expected = {f"{c}-{loc}.json" for c in CASES for loc in cards.LOCALES}
    assert {p.name for p in GOLDEN_DIR.glob("*.json")} == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_button_on_every_card_has_a_registered_handler(case: str) -> None:
    from handlers import registry
    from tests import cardwalk

    buttons = registry().buttons
    actions = {value.get("action") for value in cardwalk.callback_values(CASES[case]("en_us"))}
    assert actions <= set(buttons), actions - set(buttons)
    if case in ("approval_pending", "pending_list"):
        assert actions  # the check has something to look at
