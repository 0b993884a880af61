"""One card, each reader's own language: every card carries both locales' texts (``i18n_content``,
``config.locales``), so a manager whose Feishu is in English reads English whatever ``BOT_LOCALE`` is."""

from __future__ import annotations

import re
from typing import Any

import cards_samples
import pytest
from test_cards_golden import CASES

import cards
from cards.bilingual import LocaleMismatch, merge
from tests.cardwalk import reader_view, texts

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_reader_sees_their_own_language_whatever_the_default(case: str) -> None:
    """A card sent with the zh_cn default reads, in an English client, exactly as the en_us card does."""
    zh_default, en_default = CASES[case]("zh_cn"), CASES[case]("en_us")
    for card in (zh_default, en_default):
        assert card["config"]["locales"] == ["zh_cn", "en_us"]
    assert reader_view(zh_default, "en_us") == reader_view(en_default, "en_us")
    assert reader_view(en_default, "zh_cn") == reader_view(zh_default, "zh_cn")


def test_an_english_reader_sees_no_chinese_label_on_a_chinese_default_card() -> None:
    card = cards.render("help", "zh_cn", commands=[
        {"name": "approve", "alias": "", "usage_key": "command.approve.usage",
         "summary_key": "command.approve.summary"}])
    assert any(CJK.search(t) for t in texts(card))  # the default (and older clients) is Chinese
    english = reader_view(card, "en_us")
    assert not [t for t in texts(english) if CJK.search(t)]
    assert english["header"]["title"]["content"] == "Approval Bot"


def test_header_tags_use_the_headers_own_multi_language_list() -> None:
    card = cards.render("approval", "zh_cn", approval=cards_samples.approval("remedy_pending"), names={})
    header = card["header"]
    assert [t["text"]["content"] for t in header["text_tag_list"]] == ["审批中"]
    assert [t["text"]["content"] for t in header["i18n_text_tag_list"]["en_us"]] == ["Pending"]
    assert [t["text"]["content"] for t in header["i18n_text_tag_list"]["zh_cn"]] == ["审批中"]


def test_texts_that_read_the_same_stay_plain() -> None:
    card = cards.render("notice", "en_us", title="Zhang San", text="ok")
    assert card["header"]["title"] == {"tag": "plain_text", "content": "Zhang San"}


def test_the_summary_in_the_chat_list_is_in_both_languages() -> None:
    card = cards.render("pending_list", "en_us", items=[], names={}, page=1, total=0, next_page_token=None)
    summary = card["config"]["summary"]
    assert summary["content"] == summary["i18n_content"]["en_us"]
    assert CJK.search(summary["i18n_content"]["zh_cn"])


def test_msg_is_worded_in_each_locale_of_the_card() -> None:
    card = cards.render("notice", "zh_cn", title=cards.msg("title.notice"),
                        text=cards.msg("refusal.not_found", id="7100000000000000001"), tone="error")
    body = card["body"]["elements"][0]
    assert body["i18n_content"]["en_us"] == "No approval 7100000000000000001 was found."
    assert body["content"] == body["i18n_content"]["zh_cn"]
    assert card["header"]["title"]["i18n_content"] == {"zh_cn": "审批机器人", "en_us": "Approval Bot"}
    with pytest.raises(KeyError):
        cards.msg("no.such.key")


def test_toast_carries_both_languages_and_the_default() -> None:
    assert cards.toast("toast.approved", "en_us") == {"content": "Approved",
                                                      "i18n": {"zh_cn": "已通过", "en_us": "Approved"}}
    busy = cards.toast("toast.already_done", action=cards.msg("action.approve"), name="Wang", time="10:02")
    assert busy["content"] == busy["i18n"]["zh_cn"]  # no locale: the catalogue's default
    assert "approve by Wang at 10:02" in busy["i18n"]["en_us"] and "通过" in busy["i18n"]["zh_cn"]


def test_merge_refuses_renders_of_different_shapes() -> None:
    one = {"tag": "markdown", "content": "a"}
    with pytest.raises(LocaleMismatch):
        merge("zh_cn", {"zh_cn": [one], "en_us": [one, one]})
    with pytest.raises(LocaleMismatch):
        merge("zh_cn", {"zh_cn": {"value": {"a": 1}}, "en_us": {"value": {"a": 2}}})
    assert merge("zh_cn", {"zh_cn": one, "en_us": {"tag": "markdown", "content": "b"}}) == {
        "tag": "markdown", "content": "a", "i18n_content": {"zh_cn": "a", "en_us": "b"}}


def test_text_elements_count_towards_the_200() -> None:
    """The JSON 2.0 structure page counts text elements such as plain_text among the 200."""
    button = {"tag": "button", "text": {"tag": "plain_text", "content": "x"},
              "behaviors": [{"type": "callback", "value": {"tag": "not an element"}}]}
    assert cards.count_elements(button) == 2
    assert cards.count_elements({"tag": "div", "text": {"tag": "lark_md", "content": "x"}}) == 2


def test_a_view_that_differs_in_shape_between_locales_still_sends_its_default(monkeypatch, caplog) -> None:
    """A bug of that kind costs the second language, never the card."""
    from cards import views

    real = views.VIEWS["notice"]

    def uneven(locale: str, budget: Any, **context: Any) -> dict[str, Any]:
        view = real(locale, budget, **context)
        return {**view, "log_id": "Log ID: x" if locale == "en_us" else None}

    monkeypatch.setitem(views.VIEWS, "notice", uneven)
    card = cards.render("notice", "zh_cn", title=cards.msg("title.notice"), text="ok")
    assert card["header"]["title"] == {"tag": "plain_text", "content": "审批机器人"}
    assert len(card["body"]["elements"]) == 1 and "i18n_content" not in str(card)
    assert "differs in shape between locales" in caplog.text
