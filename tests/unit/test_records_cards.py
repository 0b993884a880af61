"""The card of each attendance record type, in both locales: requester, type (a leave's or an out's own name from
`i18n_names`), dates and times in the record's time zone else BOT_TIMEZONE, duration from `interval` in seconds
whatever `unit` says, reason, status, and the buttons the rules allow — within the card limits."""

from __future__ import annotations

import json

import pytest

import cards
from core.approval import from_record
from core.attendance import AttendanceRecord
from core.rules import Action, ApprovalType, Kind, buttons
from tests import cardwalk
from tests.cardwalk import read


def card_of(approval_type: ApprovalType, raw: dict, status: int, tz: str = "Asia/Shanghai"):
    record = AttendanceRecord("7430000000000000099", approval_type, status, "u_ann", raw)
    approval = from_record(record, "ou_ann", frozenset({"u_boss"}))
    assert approval.kind is Kind.ATTENDANCE
    actions = buttons(approval.kind, approval.approval_type, approval.status)
    card = cards.render("record", "en_us", approval=approval, actions=actions, names={"ou_ann": "Ann Liu"}, tz=tz)
    assert cards.card_size(card) <= cards.MAX_BYTES and cards.count_elements(card) <= cards.MAX_ELEMENTS
    return card, [v["action"] for v in cardwalk.callback_values(card)]


REMEDY = {"remedy_date": 20261119, "punch_no": 1, "work_type": 2, "remedy_time": "2026-11-19 18:30",
          "time": "1795084200", "time_zone": "Asia/Tokyo", "reason": "phone died", "status": 0}


def test_a_pending_remedy_in_both_locales():
    card, actions = card_of(ApprovalType.REMEDY, REMEDY, 0)
    assert actions == ["approve", "reject"]
    en, zh = read(card, "en_us"), read(card, "zh_cn")
    assert "Ann Liu" in en and "Punch correction" in en and "2026-11-19" in en
    assert "Clock-out no. 2" in en and "第 2 次下班" in zh
    assert "2026-11-19 19:30" in en  # `time` (18:30 in Shanghai) shown in the record's own zone, Tokyo
    assert "Asia/Tokyo" in en and "phone died" in en and "Pending" in en and "审批中" in zh


def test_a_remedy_without_a_time_zone_uses_bot_timezone():
    raw = {**REMEDY, "time_zone": ""}
    card, _ = card_of(ApprovalType.REMEDY, raw, 0, tz="Europe/Berlin")
    en = read(card, "en_us")
    assert "Europe/Berlin" in en and "2026-11-19 11:30" in en  # the same instant in Berlin


LEAVE = {"interval": 28800, "unit": 1, "start_time": "2026-11-18 09:00:00", "end_time": "2026-11-18 18:00:00",
         "i18n_names": {"ch": "年假", "en": "Annual leave", "ja": ""}, "default_locale": "ch", "reason": "rest",
         "date": "20261118", "time_zone": "Asia/Shanghai"}


def test_an_approved_leave_shows_its_own_name_and_its_interval_in_seconds():
    card, actions = card_of(ApprovalType.LEAVE, LEAVE, 2)
    assert actions == ["revoke"]
    en, zh = read(card, "en_us"), read(card, "zh_cn")
    assert "Annual leave" in en and "年假" in zh
    assert "8 h" in en and "8 小时" in zh  # 28800 s, although `unit` says days
    assert "2026-11-18 09:00:00 – 2026-11-18 18:00:00" in en and "rest" in en


def test_a_leave_without_duration_says_feishu_does_not_give_it():
    raw = {k: v for k, v in LEAVE.items() if k != "interval"}
    card, _ = card_of(ApprovalType.LEAVE, raw, 2)
    assert "not provided by Feishu yet" in read(card, "en_us") and "飞书暂未提供" in read(card, "zh_cn")


def test_an_out_uses_its_default_locale_name_where_the_readers_is_missing():
    raw = {**LEAVE, "i18n_names": {"ch": "市内外出", "en": "", "ja": ""}, "interval": 12600}
    card, actions = card_of(ApprovalType.OUT, raw, 2)
    assert actions == ["revoke"] and "市内外出" in read(card, "en_us") and "3.5 h" in read(card, "en_us")


def test_overtime_and_trip():
    overtime = {"duration": 3.0, "unit": 2, "category": 1, "type": 1, "start_time": "2026-11-10 19:00:00",
                "end_time": "2026-11-10 22:00:00", "reason": "sale day"}
    card, actions = card_of(ApprovalType.OVERTIME, overtime, 2)
    assert actions == ["revoke"] and "Overtime" in read(card, "en_us") and "3.0 h" in read(card, "en_us")
    assert "加班" in read(card, "zh_cn")
    trip = {"start_time": "2026-11-01 09:00:00", "end_time": "2026-11-02 18:00:00", "reason": "inspection"}
    card, actions = card_of(ApprovalType.TRIP, trip, 4)
    assert actions == [] and "Business trip" in read(card, "en_us") and "Revoked" in read(card, "en_us")


@pytest.mark.parametrize("status,expected", [(0, ["approve", "reject"]), (2, ["revoke"]), (1, []), (4, [])])
def test_the_buttons_follow_the_rules(status, expected):
    _, actions = card_of(ApprovalType.REMEDY, REMEDY, status)
    assert actions == expected


def test_user_text_is_escaped():
    raw = {**REMEDY, "reason": "**bold** [link](http://evil.example) <at id=all></at>"}
    card, _ = card_of(ApprovalType.REMEDY, raw, 0)
    dumped = json.dumps(card, ensure_ascii=False)
    assert "<at id=all></at>" not in dumped and "[link](http://evil.example)" not in dumped


def test_revoke_is_the_only_action_on_an_approved_record_for_a_decider():
    record = AttendanceRecord("1", ApprovalType.LEAVE, 2, "u_ann", LEAVE)
    approval = from_record(record, "ou_ann", frozenset({"u_boss"}))
    from core.rules import Actor
    assert buttons(approval.kind, approval.approval_type, approval.status, Actor("ou_boss", "u_boss"),
                   approval.roles(), ()) == (Action.REVOKE,)
    assert buttons(approval.kind, approval.approval_type, approval.status, Actor("ou_ann", "u_ann"),
                   approval.roles(), ()) == ()


def test_a_groups_card_says_who_may_decide():
    record = AttendanceRecord("1", ApprovalType.REMEDY, 0, "u_ann", REMEDY)
    approval = from_record(record, "ou_ann", frozenset({"u_boss"}))
    card = cards.render("record", "en_us", approval=approval, actions=(Action.APPROVE, Action.REJECT),
                        names={"u_boss": "Boss Chen"}, shared=True)
    assert "Waiting for: Boss Chen" in read(card, "en_us") and "等待审批：Boss Chen" in read(card, "zh_cn")
    alone = cards.render("record", "en_us", approval=approval, actions=(), names={"u_boss": "Boss Chen"})
    assert "Waiting for" not in read(alone, "en_us")
