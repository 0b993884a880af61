"""Durations and spans read as the requester meant them: the unit comes from the data (the value's `unit`, the
widget type, the span), whole days show dates, and lines joined on one line keep their separators."""

from __future__ import annotations

from typing import Any

import pytest

from cards.environment import md_row
from cards.widgets import Fmt, duration_unit, format_interval, key_line, row_for
from core.approval import Widget


def _row(widget: dict[str, Any], locale: str = "en_us") -> str:
    w = Widget(id="w", name=widget.get("name", "Field"), type=widget["type"], value=widget.get("value"), raw=widget)
    return md_row(row_for(w, Fmt(locale)), locale)


def _overtime(start: str, end: str, interval: float, **extra: Any) -> dict[str, Any]:
    return {"type": "workGroup", "name": "Overtime",
            "value": {"name": "Overtime pay", "start": start, "end": end, "interval": interval, **extra}}


@pytest.mark.parametrize(("locale", "expected"), [("en_us", "Duration: 8 hours"), ("zh_cn", "时长：8 小时")])
def test_an_eight_hour_overtime_reads_eight_hours(locale: str, expected: str) -> None:
    """workGroup carries no unit (seed 004): overtime is counted in hours, never "8 天"."""
    shown = _row(_overtime("2026-11-20T18:00:00+08:00", "2026-11-21T02:00:00+08:00", 8), locale)
    assert expected in shown
    assert "天" not in shown and "days" not in shown


def test_the_span_corrects_a_unit_it_cannot_hold() -> None:
    # a leave without `unit` is in days (seed 004) unless the span is too short for that many days
    assert duration_unit(3, None, "leaveGroup", "2026-11-20T09:00:00+08:00", "2026-11-20T12:00:00+08:00") == "HOUR"
    assert duration_unit(2, None, "leaveGroup", "2019-10-01T00:00:00+08:00", "2019-10-02T00:00:00+08:00") == "DAY"
    # an overtime of 2 in a two-day span: hours fit, so hours (the type's unit)
    assert duration_unit(2, None, "workGroup", "2019-10-01T08:12:01+08:00", "2019-10-02T08:12:01+08:00") == "HOUR"
    # a span that holds neither reading (bad data) keeps the type's unit
    assert duration_unit(30, None, "workGroup", "2026-11-20T00:00:00+08:00", "2026-11-21T00:00:00+08:00") == "HOUR"
    assert duration_unit(9, None, "leaveGroup", "2026-11-20T00:00:00+08:00", "2026-11-20T01:00:00+08:00") == "DAY"
    # the value's own unit always wins; no span: the type's unit
    assert duration_unit(8, "DAY", "workGroup", "2026-11-20T18:00:00+08:00", "2026-11-21T02:00:00+08:00") == "DAY"
    assert duration_unit(8, None, "workGroup") == "HOUR"
    assert duration_unit(2, None, "leaveGroup", "garbage", None) == "DAY"


def test_attendance_unit_numbers_and_half_units() -> None:
    assert format_interval(1.5, 2, "en_us") == "1.5 hours"
    assert format_interval(1, "1", "en_us") == "1 day"
    assert format_interval(3, 3, "zh_cn") == "3 个半天"
    assert format_interval(3, 4, "en_us") == "1.5 hours"  # three half hours
    assert format_interval(2, "HALF_HOUR", "en_us") == "1 hour"


@pytest.mark.parametrize(("start", "end", "shown"), [
    ("2019-10-01T00:00:00+08:00", "2019-10-02T00:00:00+08:00", "2019-10-01 – 2019-10-02"),
    ("2019-10-01T00:00:00+08:00", "2019-10-01T00:00:00+08:00", "2019-10-01"),
    ("2019-10-08T09:00:00+08:00", "2019-10-08T12:00:00+08:00", "2019-10-08 09:00 – 12:00"),
    ("2019-10-08T09:00:00+08:00", "2019-10-09T12:00:00+08:00", "2019-10-08 09:00 – 2019-10-09 12:00"),
])
def test_full_day_ranges_show_dates_not_midnights(start: str, end: str, shown: str) -> None:
    row = _row({"type": "leaveGroupV2", "value": {"name": "Annual", "start": start, "end": end, "interval": 1,
                                                  "unit": "DAY"}})
    assert f"\n{shown}\n" in row
    assert "00:00" not in row or "00:00" in shown


def test_one_line_summaries_keep_their_separators() -> None:
    """A pending-list line and a fieldList cell once read "Time:2026-11-19" and "Reason:Forgot"."""
    remedy = Widget(id="w", name="Remedy", type="remedyGroup",
                    value={"time": "2026-11-19T09:02:00+08:00", "reason": "Forgot"})
    line = "".join(str(p) for p in key_line([remedy], Fmt("en_us")))
    assert line == "Time: 2026-11-19 09:02 · Reason: Forgot"
    assert "".join(str(p) for p in key_line([remedy], Fmt("zh_cn"))) == "时间：2026-11-19 09:02 · 原因：Forgot"
    cell = _row({"type": "fieldList", "name": "Rows", "value": [[
        {"id": "r", "name": "Remedy", "type": "remedyGroup", "value": remedy.value}]]})
    assert "1. Remedy: Time: 2026-11-19 09:02 / Reason: Forgot" in cell


@pytest.mark.parametrize(("locale", "expected"), [
    ("en_us", "Train · Round trip"), ("zh_cn", "高铁 · 单程"),
])
def test_trip_transport_and_one_way_are_in_the_readers_language(locale: str, expected: str) -> None:
    transport, one_round = ("Train", "Round Trip") if locale == "en_us" else ("高铁", "One Way")
    shown = _row({"type": "tripGroup", "value": {"schedule": [
        {"start": "2026-11-20T00:00:00+08:00", "end": "2026-11-21T00:00:00+08:00", "interval": 2,
         "departure": "A", "destination": "B", "transportation": transport, "oneRound": one_round}],
        "interval": 2}}, locale)
    assert expected in shown
    # a transport Feishu does not offer is shown as typed
    assert "Hovercraft" in _row({"type": "tripGroup", "value": {"schedule": [
        {"departure": "A", "destination": "B", "transportation": "Hovercraft"}]}})
