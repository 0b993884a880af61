"""docs/security.md T13: arbitrary user text in every user-text field cannot change a card's structure, add mentions,
links or font tags, break the JSON, or push the card over Feishu's limits."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import cards_samples as samples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cards
from cards.environment import safe_url
from core.approval import from_instance
from core.rules import Action
from tests import cardwalk
from tests.properties import examples

EVIL = [
    '"', "\\", "</font>", "<font color='red'>x</font>", "<at id=all></at>", "<AT ID=ALL></AT>", "<at id=ou_x></at>",
    "[ok](https://evil)", "](https://evil.example/)", "\u202e", "\x00", "\ud800", "**bold**", "`code`", "\n# head\n",
    "&lt;at id=all&gt;", "{{ 7*7 }}", "{% raw %}", "</text_tag>", "\u2028", "|a|b|\n|-|-|", "<", "&", "中文",
    "https://evil.example/", "x\r\ny", "\t", "'", "''", ",", "!" * 3, "~~s~~", "_i_",
]

HUGE = st.builds(lambda s, n: (s * n)[:100_000], st.sampled_from([*EVIL, "a", "中", "&", "<at id=all></at>"]),
                 st.integers(min_value=2_000, max_value=100_000))
SHORT = st.one_of(st.text(max_size=30), st.sampled_from(EVIL),
                  st.lists(st.one_of(st.sampled_from(EVIL), st.text(max_size=4)), max_size=5).map("".join))
ANY_TEXT = st.one_of(SHORT, SHORT, HUGE)

ALLOWED_URLS = {safe_url(u) for u in (samples.LINK["pc"], samples.LINK["mobile"], samples.FILE_URL, samples.PDF_URL,
                                      samples.DOC_URL)}
LINK = re.compile(r"\]\(([^)\s]*)\)")
SETTINGS = settings(max_examples=examples(200), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- user text into every user-text field ----------------------------------------------------------------------------


def _fuzz_widget(w: dict[str, Any], nxt: Callable[[], str]) -> None:
    w["name"] = nxt()
    value = w.get("value")
    kind = w["type"]
    if kind in ("input", "textarea", "radio", "radioV2", "address", "number", "formula", "amount", "date"):
        w["value"] = nxt()
    elif kind in ("checkbox", "checkboxV2", "connect"):
        w["value"] = [nxt(), nxt()]
    elif kind in ("attachment", "attachmentV2", "image", "imageV2"):
        w["ext"] = ",".join(f"'{nxt()}'" for _ in value)
    elif kind == "document":
        value["title"] = nxt()
    elif kind == "telephone":
        value["national_number"] = nxt()
    elif kind == "fieldList":
        for row in value:
            for cell in row:
                _fuzz_widget(cell, nxt)
    elif kind == "tripGroup":
        for leg in value["schedule"]:
            for key in ("departure", "destination", "transportation", "oneRound", "remark", "start"):
                leg[key] = nxt()
        value["reason"] = nxt()
    elif isinstance(value, dict):
        for key in ("name", "reason", "end", "punchType"):
            if key in value:
                value[key] = nxt()
    elif kind == "mysteryWidget":
        w["value"] = {"text": nxt()}


def fuzzed_context(texts: list[str], sample: str = "every_widget", fuzz: bool = True) -> dict[str, Any]:
    cycle: Iterator[str] = itertools.cycle(texts)

    def nxt() -> str:
        return next(cycle) if fuzz else "benign"

    data = samples.INSTANCES[sample]()
    form = json.loads(data["form"])
    for widget in form:
        _fuzz_widget(widget, nxt)
    data["form"] = json.dumps(form, ensure_ascii=False)
    data["approval_name"] = nxt()
    for entry in data["timeline"]:
        entry["comment"] = nxt()
    for comment in data["comment_list"]:
        comment["comment"] = nxt()
        for f in comment["files"]:
            f["title"] = nxt()
    names = {k: nxt() for k in samples.NAMES["en_us"]}
    return {
        "approval": from_instance(data, data["instance_code"]),
        "actions": (Action.APPROVE, Action.REJECT),
        "names": names,
        "link": samples.LINK,
        "notice": nxt(),
        "outcome": None,
    }


# --- what must hold ----------------------------------------------------------------------------------------------


STRUCTURAL = {"tag", "type", "template", "color", "width", "form_action_type", "name", "schema", "weight",
              "update_multi", "max_length"}


def skeleton(node: Any, key: str = "") -> Any:
    """Tags, keys and fixed attributes; every free text reads as "str". Whether a text carries ``i18n_content``
    depends on whether its locales word it differently (user text reads the same in all), so it is left out."""
    if isinstance(node, dict):
        return {k: skeleton(v, k) for k, v in node.items() if k != "i18n_content"}
    if isinstance(node, list):
        return [skeleton(v) for v in node]
    return node if key in STRUCTURAL else type(node).__name__


def shape(card: Any) -> Any:
    """The skeleton with list lengths ignored (a truncated card shows fewer rows of the same kinds)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return tuple(sorted((k, walk(v)) for k, v in node.items()))
        if isinstance(node, list):
            return tuple(sorted({json.dumps(walk(v)) for v in node}))
        return node

    return walk(skeleton(card))


def callbacks(card: Any) -> list[Any]:
    return cardwalk.callback_values(card)


def strings(node: Any) -> Iterator[tuple[Any, str]]:
    """Every string with the object it belongs to; the texts of ``i18n_content`` belong to its element."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "i18n_content":
                assert set(v) == set(cards.LOCALES), v
                yield from ((node, text) for text in v.values())
            elif isinstance(v, str):
                yield node, v
            else:
                yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def assert_safe(card: dict[str, Any]) -> None:
    dumped = json.dumps(card, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(dumped) == card
    assert len(dumped.encode("utf-8")) <= 30 * 1024
    assert cards.count_elements(card) <= 200
    for parent, s in strings(card):
        assert "\x00" not in s and "\u202e" not in s and "\u2028" not in s
        if parent.get("tag") == "markdown":
            assert "<" not in s, s[:200]  # no <at>, <font>, <text_tag> … can come from anywhere
            urls = LINK.findall(s)
            assert s.count("](") == len(urls), s[:300]
            assert set(urls) <= ALLOWED_URLS, urls


def _render(context: dict[str, Any], locale: str = "en_us") -> dict[str, Any]:
    return cards.render("approval", locale, **context)


BENIGN = {loc: _render(fuzzed_context([], fuzz=False), loc) for loc in cards.LOCALES}
BENIGN_SMALL = _render(fuzzed_context([], "remedy_pending", fuzz=False))


@SETTINGS
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=12), locale=st.sampled_from(cards.LOCALES))
def test_approval_card_with_any_user_text(texts: list[str], locale: str) -> None:
    card = _render(fuzzed_context(texts), locale)
    assert_safe(card)
    assert shape(card) == shape(BENIGN[locale])
    assert callbacks(card) == callbacks(BENIGN[locale])


@SETTINGS
@given(texts=st.lists(SHORT, min_size=1, max_size=8), reason=SHORT, operator=SHORT)
def test_small_approval_keeps_its_exact_skeleton(texts: list[str], reason: str, operator: str) -> None:
    """Short texts do not trigger truncation, so the skeleton matches element for element."""
    context = fuzzed_context(texts, "remedy_pending")
    card = _render(context)
    assert_safe(card)
    assert skeleton(card) == skeleton(BENIGN_SMALL)
    outcome = {"action": "reject", "operator": operator, "at_ms": samples.T0, "reason": reason or "r"}
    done = _render({**context, "outcome": outcome})
    assert_safe(done)
    assert skeleton(done) == skeleton(_render({**fuzzed_context([], "remedy_pending", fuzz=False),
                                               "outcome": {**outcome, "operator": "x", "reason": "r"}}))


def _other_cards(nxt: Callable[[], str]) -> dict[str, dict[str, Any]]:
    approval = fuzzed_context([nxt() for _ in range(6)], "remedy_pending")["approval"]
    item = {"approval": approval, "approval_id": "7100000000000000001", "title": nxt(), "definition_name": nxt(),
            "initiator": nxt(), "link": samples.LINK, "actions": (Action.APPROVE, Action.REJECT)}
    return {
        "pending_list": cards.render("pending_list", "en_us", items=[item, {**item, "approval": None}, item],
                                     names={"ou_employee": nxt()}, page=1, total=3, next_page_token="pt"),
        "help": cards.render("help", "zh_cn", commands=[{"name": nxt(), "alias": nxt(), "usage_key":
                             "command.help.usage", "summary_key": "command.help.summary"}], notice=nxt() or "x"),
        "notice": cards.render("notice", "en_us", title=nxt(), text=nxt(), tone="error", log_id=nxt() or "l"),
        "summary": cards.render("summary", "zh_cn", results=[
            {"approval_id": nxt(), "outcome": o, "text": nxt()} for o in ("done", "refused", "failed")]),
        "history": cards.render("history", "en_us", approval_id=nxt(), records=[
            {"at_ms": samples.T0, "operator": nxt(), "action": "reject", "outcome": "done", "reason": nxt(),
             "code": None, "log_id": nxt()}]),
        "attendance_only": cards.render("attendance_only", "en_us", approval_id="6800000000000000001",
                                        approval_type="remedy", actions=(Action.APPROVE,), notice=nxt(),
                                        outcome={"action": "approve", "operator": nxt(), "at_ms": 1, "reason": nxt()}),
    }


def _benign() -> str:
    return "benign"


BENIGN_OTHERS = _other_cards(_benign)


@SETTINGS
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=10))
def test_other_cards_with_any_user_text(texts: list[str]) -> None:
    cycle = itertools.cycle(texts)
    rendered = _other_cards(lambda: next(cycle))
    for name, card in rendered.items():
        assert_safe(card)
        assert shape(card) == shape(BENIGN_OTHERS[name]), name
        assert callbacks(card) == callbacks(BENIGN_OTHERS[name]), name


def test_benign_renders_are_themselves_safe() -> None:
    for card in [*BENIGN.values(), BENIGN_SMALL, *BENIGN_OTHERS.values()]:
        assert_safe(card)


def test_known_payloads_are_neutralised() -> None:
    context = fuzzed_context(["[ok](https://evil) <at id=all></at> </font> \u202e\x00 \"\\"])
    card = _render(context)
    text = "\n".join(s for parent, s in strings(card) if parent.get("tag") == "markdown")
    assert "\\[ok\\]\\(https://evil\\)" in text  # brackets and parentheses escaped
    assert "&lt;at id=all&gt;&lt;/at&gt;" in text and "&lt;/font&gt;" in text
    assert "<at" not in text and "](https://evil" not in text and "\x00" not in text
    # plain_text (header, summary) is shown as typed, never parsed: the payload may stay there, cleaned
    assert card["header"]["title"]["content"].startswith("[ok](https://evil) <at id=all></at>")


def test_skeleton_helpers_detect_a_change() -> None:
    other = copy.deepcopy(BENIGN_SMALL)
    other["body"]["elements"].append({"tag": "markdown", "content": "x"})
    assert skeleton(other) != skeleton(BENIGN_SMALL)
    other["body"]["elements"][-1] = {"tag": "div", "text": "x"}
    assert shape(other) != shape(BENIGN_SMALL)
