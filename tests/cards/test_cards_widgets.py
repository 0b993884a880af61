"""Widget formatting: every seed-004 type shows a readable, formatted value; nothing raw for known types."""

from __future__ import annotations

import json
import re
from typing import Any

import cards_samples as samples
import pytest

import cards
from cards import widgets
from cards.environment import Link, md, md_row, safe_url
from cards.widgets import Fmt, format_amount, format_interval, format_ms, format_number, format_rfc3339, row_for
from core.approval import Widget
from tests import cardwalk

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _markdown(card: dict[str, Any]) -> str:
    return cardwalk.markdown(card)


def _every_widget(locale: str = "en_us") -> str:
    card = cards.render("approval", locale, approval=samples.approval("every_widget"), actions=(),
                        names=samples.NAMES[locale], tz="Asia/Shanghai", link=samples.LINK)
    return _markdown(card)


@pytest.mark.parametrize("expected", [
    "2019-10-01 08:12",  # date
    "2019-10-03 08:00 – 2019-10-05 18:00 · 2 days",  # dateInterval
    "1,234.56",  # number
    "88.50 CNY",  # amount with currency
    "98,765.4321",  # formula
    "+86 13122222222",  # telephone
    "China / Beijing / Beijing / Chaoyang Qu / chang an jie",  # address
    "Reader error, Badge not read",  # checkbox
    "Manager Li",  # contact → name
    "Sales, R&amp;D",  # department → names (escaped)
    "7100000000000000002",  # connect
    f"[Gate B log]({samples.DOC_URL})",  # document
    f"[receipt.pdf]({samples.PDF_URL})",  # attachmentV2 names as links
    "[photo.png](https://p3-approval-sign.byteimg.com/",
    "[gate.png](", "[screen-1.png](", "[gate-log.pdf](",  # image, imageV2, attachment
    "1. Item: Taxi · Cost: 12.50 · Kind: jxpsebqp-0",  # fieldList rows
    "2. Item: Parking · Cost: 1,000.00",
    "Time: 2026-11-19 09:02",  # remedyGroup
    "Duration: 2 days",  # leaveGroup
    "Duration: 3 hours",  # leaveGroupV2 with unit HOUR
    "Reason: Doctor's appointment",
    "Time: 2019-10-09 18:01",  # remedyGroupV2
    "punchType: off duty",
    "Shift: 2019-10-11 08:12", "Return: 2019-10-12 08:12",  # shiftGroup
    "Overtime pay", "2019-10-13 18:00 – 21:00",  # workGroup (one day: the date once)
    "Leg 1: 2019-10-14 – 2019-10-15 · China / Beijing / Beijing → China / Shanghai / Shanghai"
    " · Plane · One way · 1 day · Customer visit",  # tripGroup: whole days as dates, transport in the reader's words
    "Total: 2.5 days", "Travelling with: Manager Wang",
    "2019-10-17 14:00 – 17:00",  # outGroup
    "**Mystery field**\nmysteryWidget: {\"answer\":42,\"ok\":true}",  # unknown type: name + compact JSON
    "Manager Li · approved: Looks right",  # timeline
    "Admin Zhao · transferred → Manager Wang",
    "Manager Li: Gate log attached · [gate-b.png](",  # comment with file link
])
def test_every_widget_value_appears_formatted(expected: str) -> None:
    assert expected in _every_widget()


def test_every_widget_has_no_raw_rfc3339_json_or_ids() -> None:
    text = _every_widget()
    assert not RFC3339.search(text)
    for raw in ('"start"', '"value"', '"open_id"', "od-sales", "ou_manager2", "u_manager", "'receipt.pdf'"):
        assert raw not in text
    # every widget of the form has its own row (no widget is dropped)
    for widget in samples.EVERY_WIDGET_FORM:
        assert f"**{md(widget['name'])}**" in text


def test_every_widget_in_chinese() -> None:
    text = _every_widget("zh_cn")
    for expected in ("2 天", "3 小时", "时间：2026-11-19 09:02", "李经理", "销售部, 研发部", "行程 1：",
                     "同行人：王经理"):
        assert expected in text


@pytest.mark.parametrize(("raw", "shown"), [
    ("2019-10-01T08:12:01+08:00", "2019-10-01 08:12"),
    ("2019-10-01T00:12:01Z", "2019-10-01 00:12"),
    ("2019-10-01T08:12:01.123-05:00", "2019-10-01 08:12"),
    ("2019-10-01", "2019-10-01"),
    ("2019-10-0T00:00:00Z+08:00", "2019-10-0T00:00:00Z+08:00"),  # seed 004's malformed example: shown as given
    ("2019-10-02T00:0:00+08:00", "2019-10-02T00:0:00+08:00"),
    ("yesterday", "yesterday"),
    (None, ""),
])
def test_rfc3339(raw: Any, shown: str) -> None:
    assert format_rfc3339(raw) == shown


def test_ms_in_zone() -> None:
    assert format_ms(1795136580000, "Asia/Shanghai") == "2026-11-20 09:03"
    assert format_ms(1795136580000, "UTC") == "2026-11-20 01:03"
    assert format_ms(1795136580000, "Not/AZone") == "2026-11-20 09:03"
    assert format_ms(0) == "" and format_ms("x") == "" and format_ms(10**20) == ""


@pytest.mark.parametrize(("raw", "shown"), [
    (1234.56, "1,234.56"), (1234, "1,234"), (2.0, "2"), ("1234567.5", "1,234,567.5"), (-0.25, "-0.25"),
    (True, "True"), ("abc", "abc"), (float("nan"), "nan"), (1e40, "1e+40"),
])
def test_number(raw: Any, shown: str) -> None:
    assert format_number(raw) == shown


def test_amount_and_interval() -> None:
    assert format_amount(1234.5) == "1,234.50"
    assert format_amount("88.555", "USD") == "88.56 USD"
    assert format_amount("n/a") == "n/a"
    assert format_interval(2.0, None, "en_us") == "2 days"
    assert format_interval(1, "DAY", "en_us") == "1 day"
    assert format_interval(2.0, "DAY", "zh_cn") == "2 天"
    assert format_interval(3, "HOUR", "en_us") == "3 hours"
    assert format_interval(3, "HOUR", "zh_cn") == "3 小时"
    assert format_interval(3, "WEEK", "en_us") == "3 WEEK"


def _row(widget: dict[str, Any], locale: str = "en_us", **fmt: Any) -> str:
    w = Widget(id=widget.get("id", "w"), name=widget.get("name", "Field"), type=widget["type"],
               value=widget.get("value"), ext=widget.get("ext"), open_ids=tuple(widget.get("open_ids", ())),
               raw=widget)
    return md_row(row_for(w, Fmt(locale, **fmt)), locale)


def test_attachment_urls_must_be_http_and_are_escaped() -> None:
    shown = _row({"type": "attachmentV2", "ext": "'ok.pdf','evil.pdf','paren.pdf'",
                  "value": ["https://a.example/ok.pdf", "javascript:alert(1)", "https://a.example/x)[y](https://evil"]})
    assert "[ok.pdf](https://a.example/ok.pdf)" in shown
    assert "evil.pdf" in shown and "javascript" not in shown
    assert "[paren.pdf](https://a.example/x%29%5By%5D%28https://evil)" in shown


def test_attachment_names_escaped_and_missing_names_numbered() -> None:
    shown = _row({"type": "imageV2", "ext": "'a](https://evil)'", "value": ["https://a.example/1", "https://a.example/2"]})
    assert "[a\\]\\(https://evil\\)](https://a.example/1)" in shown
    assert "[File 2](https://a.example/2)" in shown


def test_people_and_departments_without_a_name_are_counted_never_shown_as_ids() -> None:
    shown = _row({"type": "contact", "value": ["u_manager", "u_unknown"]}, names=samples.NAMES["en_us"])
    assert shown == "**Field**\nManager Wang, 1 person whose name the bot cannot see"
    shown = _row({"type": "department", "value": ["od-sales", "od-x", "od-y"]}, locale="zh_cn",
                 names=samples.NAMES["zh_cn"])
    assert shown == "**Field**\n销售部, 2 个无法查看名称的部门"


def test_malformed_known_types_fall_back_to_compact_json() -> None:
    shown = _row({"type": "leaveGroup", "name": "Leave", "value": "not an object"})
    assert shown == '**Leave**\nleaveGroup: "not an object"'
    assert "tripGroup" in _row({"type": "tripGroup", "value": [1, 2]})
    assert _row({"type": "dateInterval", "value": None}).startswith("**Field**")


def test_malformed_trip_dates_are_shown_as_given() -> None:
    shown = _row({"type": "tripGroup", "value": {"schedule": [
        {"start": "2019-10-0T00:00:00Z+08:00", "end": "2019-10-01T00:00:00Z+08:00", "departure": "A",
         "destination": "B"}],
        "interval": 2.0, "reason": "business", "peer": ["f7cb567e"]}})
    assert "2019-10-0T00:00:00Z+08:00 – 2019-10-01T00:00:00Z+08:00 · A → B" in shown
    assert "Travelling with: 1 person whose name the bot cannot see" in shown and "f7cb567e" not in shown


def test_unknown_type_is_never_dropped_and_clipped() -> None:
    shown = _row({"type": "hugeWidget", "name": "Huge", "value": {"x": "y" * 5000}})
    assert shown.startswith("**Huge**\nhugeWidget: {\"x\":\"yyy")
    assert len(shown) < 260


def test_nested_field_lists_are_bounded() -> None:
    value: Any = "leaf"
    for _ in range(50):
        value = [[{"type": "fieldList", "name": "n", "value": value}]]
    shown = _row({"type": "fieldList", "name": "Deep", "value": value})
    assert shown.startswith("**Deep**")


def test_long_lists_are_cut_with_a_note() -> None:
    shown = _row({"type": "checkbox", "value": [f"option {i}" for i in range(30)]}, max_items=5)
    assert "option 4" in shown and "option 5" not in shown and "… and 25 more" in shown


def test_formatters_cover_every_seed_004_type() -> None:
    seed_types = {"input", "textarea", "number", "amount", "formula", "date", "dateInterval", "radio", "radioV2",
                  "checkbox", "checkboxV2", "contact", "department", "connect", "document", "attachment",
                  "attachmentV2", "image", "imageV2", "fieldList", "telephone", "address", "leaveGroup",
                  "leaveGroupV2", "remedyGroup", "remedyGroupV2", "shiftGroup", "workGroup", "tripGroup", "outGroup"}
    assert seed_types <= set(widgets.FORMATTERS)
    assert {w["type"] for w in samples.EVERY_WIDGET_FORM} >= seed_types


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a*b_c~d`e\\f[g]h(i)j#k|l", "a\\*b\\_c\\~d\\`e\\\\f\\[g\\]h\\(i\\)j\\#k\\|l"),
    ("<at id=all></at> & <font color='red'>x</font>",
     "&lt;at id=all&gt;&lt;/at&gt; &amp; &lt;font color='red'&gt;x&lt;/font&gt;"),
    ("nul\x00bidi\u202egpj.exe\u2066x\u2069", "nulbidigpj.exex"),
    ("tab\there\r\nnext", "tab here\nnext"),
])
def test_md_escape(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


@pytest.mark.parametrize(("url", "safe"), [
    ("https://a.example/x?y=1&z=2#f", "https://a.example/x?y=1&z=2#f"),
    ("http://a.example/a b", None),
    ("javascript:alert(1)", None),
    ("data:text/html,hi", None),
    ("https:///nohost", None),
    ("//a.example/x", None),
    ("https://a.example/(x)", "https://a.example/%28x%29"),
    ("https://a.example/\u202ex", None),
    (42, None),
])
def test_safe_url(url: Any, safe: str | None) -> None:
    assert safe_url(url) == safe


def test_link_with_bad_url_is_plain_escaped_text() -> None:
    row = widgets.Row("L", ((Link("[x]", "javascript:1"),),))
    assert md_row(row, "en_us") == "**L**\n\\[x\\]"


def test_compact_json_is_valid_and_short() -> None:
    assert json.loads(widgets.compact_json({"a": [1, 2]})) == {"a": [1, 2]}
    assert widgets.compact_json("x" * 1000, 50).endswith("…")


def test_attachment_names_without_urls_are_still_shown() -> None:
    shown = _row({"type": "attachmentV2", "ext": "'a.pdf','b.pdf'", "value": []})
    assert shown == "**Field**\na.pdf\nb.pdf"


def test_quotes_inside_attachment_names_do_not_confuse_the_split() -> None:
    shown = _row({"type": "attachmentV2", "ext": "'it''s.pdf','x'", "value": ["https://a.example/1"]})
    assert "[it''s.pdf](https://a.example/1)" in shown and "\nx" in shown
