"""Names in each reader's language: a `cards.Name` carries a person's or department's name in every locale the
contact API gave, and each place a card names someone shows it worded for its reader (zh_cn / en_us) — the
requester and their department, cc and transfer targets, the contact and department widgets, trip companions,
list items — never an id. An id shown is labelled for what it is."""

from __future__ import annotations

import cards_samples as samples
import pytest

import cards
from tests.cardwalk import read


def _names(default: str) -> dict[str, cards.Name]:
    zh, en = samples.NAMES["zh_cn"], samples.NAMES["en_us"]
    return {k: cards.Name({"zh_cn": zh[k], "en_us": en[k]}, default) for k in zh}


def _line(text: str, marker: str) -> str:
    return next(line for line in text.split("\n") if marker in line)


@pytest.mark.parametrize("default", ["zh_cn", "en_us"])
def test_every_place_names_someone_in_the_readers_language(default: str) -> None:
    card = cards.render("approval", default, approval=samples.approval("every_widget"), names=_names(default),
                        tz="Asia/Shanghai")
    zh, en = read(card, "zh_cn"), read(card, "en_us")
    assert "张三 · 销售部" in zh and "Employee Zhang · Sales" in en  # requester and department
    assert "→ 赵管理员" in _line(zh, "抄送") and "→ Admin Zhao" in _line(en, "copied")  # cc targets
    assert "→ 王经理" in zh and "→ Manager Wang" in en  # the transfer
    assert "销售部, 研发部" in zh and "Sales, R&amp;D" in en  # department widget
    assert "李经理" in zh and "Manager Li" in en  # contact widget
    peers = {"zh_cn": "同行人", "en_us": "Travelling with"}
    assert "王经理" in _line(zh, peers["zh_cn"]) and "Manager Wang" in _line(en, peers["en_us"])
    for text, other in ((zh, ("Employee Zhang", "Admin Zhao", "Manager Li", "Sales,")),
                        (en, ("张三", "赵管理员", "李经理", "销售部"))):
        for word in other:
            assert word not in text  # one language per reader, names included
        for ident in ("ou_", "u_admin", "u_manager", "od-"):
            assert ident not in text


@pytest.mark.parametrize("default", ["zh_cn", "en_us"])
def test_a_list_names_its_requesters_in_the_readers_language(default: str) -> None:
    items = [{"approval": samples.approval("remedy_pending"), "approval_id": "7100000000000000001",
              "title": "补卡申请", "definition_name": "补卡申请", "initiator": "张三", "actions": ()}]
    card = cards.render("pending_list", default, items=items, names=_names(default), page=1, total=1)
    assert "Employee Zhang" in read(card, "en_us") and "张三" not in read(card, "en_us")
    assert "张三" in read(card, "zh_cn")


def test_an_unnamed_requester_is_someone_with_their_labelled_user_id() -> None:
    card = cards.render("approval", "en_us", approval=samples.approval("remedy_pending"), names={})
    en, zh = read(card, "en_us"), read(card, "zh_cn")
    assert "Someone \\(name not visible to the bot\\) · User ID u\\_employee" in en
    assert "用户 ID u\\_employee" in zh
    assert "ou_employee" not in en and "ou\\_employee" not in en  # an open_id means nothing to a person
    header = card["header"]["subtitle"]["i18n_content"]["en_us"]
    assert "u_employee" not in header and "u\\_employee" not in header  # titles stay readable


def test_a_name_reads_as_the_locale_it_was_made_for() -> None:
    name = cards.Name({"zh_cn": "张三", "en_us": "San Zhang"}, "en_us")
    assert name == "San Zhang" and f"{name}" == "San Zhang"
    assert cards.localize(name, "zh_cn") == "张三" and cards.localize(name, "en_us") == "San Zhang"
    only_zh = cards.Name({"zh_cn": "张三", "en_us": ""}, "en_us")
    assert only_zh == "张三" and cards.localize(only_zh, "en_us") == "张三"
