"""The one catalogue of user-visible texts: same keys and same {params} in every locale, every key the handlers
and rules need, and strict lookups."""

from __future__ import annotations

import string

import pytest

import cards
from cards.environment import catalogue
from core.rules import Action, ApprovalType, InstanceStatus, available_actions, check_state, explain

FEISHU_CODES = (1220001, 1220002, 1220004, 1220005, 1220600, 1225000, 1226500, 1227500, 1390001, 1390003, 1390004,
                1390009, 1395001, 99991400, 99991661, 99991663, 99991668, 99991672, 99991543, 10014)
COMMANDS = ("help", "approval", "approve", "reject", "revoke", "pending", "history")

REQUIRED: dict[str, set[str]] = {
    "toast.approved": set(), "toast.rejected": set(), "toast.revoked": set(), "toast.processing": set(),
    "toast.stale_card": set(), "toast.unknown_action": set(), "toast.already_done": {"action", "name", "time"},
    "toast.busy": set(), "toast.details": set(),
    "action.approve": set(), "action.reject": set(), "action.revoke": set(),
    "outcome.approved": {"name", "time"}, "outcome.rejected": {"name", "time"}, "outcome.revoked": {"name", "time"},
    "outcome.reason": {"reason"},
    **{f"type.{t.value}": set() for t in ApprovalType},
    **{f"status.{s.value}": set() for s in InstanceStatus},
    "refusal.read_only": set(), "refusal.only_revoke": {"type"}, "refusal.not_for_type": {"type", "possible"},
    "refusal.already_approved": set(), "refusal.already_rejected": set(), "refusal.already_revoked": set(),
    "refusal.canceled": set(), "refusal.deleted": set(), "refusal.not_approved_yet": set(),
    "refusal.unknown_status": {"status"}, "refusal.unknown_user": set(), "refusal.own_request": set(),
    "refusal.not_approver": set(), "refusal.not_revoker": set(), "refusal.type_mismatch": {"actual", "given"},
    "refusal.type_required": set(), "refusal.not_found": {"id"},
    "refusal.reason_required": set(), "refusal.bad_id": {"id"}, "refusal.bad_type": {"type"},
    **{f"error.feishu.{code}": set() for code in FEISHU_CODES},
    "error.timeout": set(), "error.server": {"status"}, "error.unknown": {"code", "msg"},
    "error.log_id": {"log_id"}, "error.internal": {"ref"}, "error.unreachable": set(),
    **{f"command.{c}.{part}": set() for c in COMMANDS for part in ("summary", "usage")},
    "title.notice": set(), "reply.unknown_command": {"command"},
}


def params(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_locales_have_the_same_keys_and_params() -> None:
    zh, en = catalogue("zh_cn"), catalogue("en_us")
    assert set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert params(zh[key]) == params(en[key]), key


@pytest.mark.parametrize("locale", cards.LOCALES)
def test_required_keys_with_their_params(locale: str) -> None:
    texts = catalogue(locale)
    missing = set(REQUIRED) - set(texts)
    assert not missing
    for key, wanted in REQUIRED.items():
        assert params(texts[key]) == wanted, key
        assert texts[key].strip(), key


@pytest.mark.parametrize("locale", cards.LOCALES)
def test_every_refusal_the_rules_can_give_has_a_text(locale: str) -> None:
    keys = set()
    for action in Action:
        for approval_type in [None, *ApprovalType]:
            for status in InstanceStatus:
                verdict = check_state(action, approval_type, status)
                if not verdict:
                    keys.add(verdict.key)
                    cards.text(f"refusal.{verdict.key}", locale, **verdict.params)
    for approval_type in ApprovalType:
        cards.text(f"refusal.{explain(approval_type).key}", locale, **explain(approval_type).params)
    assert {"read_only", "only_revoke", "already_approved"} <= keys
    assert available_actions(ApprovalType.REMEDY, InstanceStatus.PENDING)


def test_texts_are_plain_no_markdown_or_tags() -> None:
    for locale in cards.LOCALES:
        for key, value in catalogue(locale).items():
            assert "**" not in value and "<at" not in value and "<font" not in value, key


def test_text_fills_params_and_fails_on_missing_keys() -> None:
    assert cards.text("outcome.approved", "en_us", name="Manager Wang", time="2026-11-20 10:02") == \
        "Approved by Manager Wang at 2026-11-20 10:02"
    assert cards.text("outcome.approved", "zh_cn", name="王经理", time="2026-11-20 10:02") == \
        "已由 王经理 于 2026-11-20 10:02 通过"
    assert cards.text("refusal.only_revoke", "en_us", type="Business trip") == \
        "Business trip approvals can only be revoked."
    with pytest.raises(KeyError):
        cards.text("no.such.key", "en_us")
    # a forgotten param stays visible instead of failing the whole reply; braces in values are kept as typed
    assert cards.text("refusal.not_found", "en_us") == "No approval {id} was found."
    assert cards.text("refusal.not_found", "en_us", id="{0} {x.y}") == "No approval {0} {x.y} was found."


def test_constants() -> None:
    assert cards.CARD_VERSION == 2  # bumped with the kinds of approval: v1 cards are shown anew
    assert cards.LOCALES == ("zh_cn", "en_us")
