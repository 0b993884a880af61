"""The renderer's own rules: every template output is escaped JSON, only known JSON 2.0 properties are emitted,
button values have one shape, bad input raises CardRenderError, and `cards` stays pure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cards_samples as samples
import pytest
from cards_golden import GOLDEN_DIR
from jinja2 import nodes

import cards
from cards.environment import TEMPLATES_DIR, environment
from cards.views import VIEWS
from core.rules import Action

ROOT = Path(__file__).resolve().parents[2]


def unescaped_outputs(source: str) -> list[str]:
    """Every ``{{ … }}`` whose expression neither ends in ``|tojson`` nor calls a macro."""
    tree = environment().parse(source)
    macros = {m.name for m in tree.find_all(nodes.Macro)}
    imported = {i.target for i in tree.find_all(nodes.Import)}
    bad = []
    for output in tree.find_all(nodes.Output):
        for expr in output.nodes:
            if isinstance(expr, nodes.TemplateData):
                continue
            if isinstance(expr, nodes.Filter) and expr.name == "tojson":
                continue
            if isinstance(expr, nodes.Call):
                callee = expr.node
                if isinstance(callee, nodes.Name) and callee.name in macros:
                    continue
                if (isinstance(callee, nodes.Getattr) and isinstance(callee.node, nodes.Name)
                        and callee.node.name in imported):
                    continue
            bad.append(repr(expr)[:120])
    return bad


TEMPLATES = sorted(p.name for p in TEMPLATES_DIR.glob("*.json.j2"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_output_is_tojson_or_a_macro_call(name: str) -> None:
    assert unescaped_outputs((TEMPLATES_DIR / name).read_text(encoding="utf-8")) == []


def test_the_lint_catches_raw_outputs() -> None:
    assert unescaped_outputs('{"a":{{ x }}}')
    assert unescaped_outputs('{"a":{{ x|md }}}')
    assert unescaped_outputs('{"a":{{ x|tojson|md }}}')
    assert unescaped_outputs('{"a":{{ range(3) }}}')
    assert not unescaped_outputs('{% macro f(x) %}{{ x|tojson }}{% endmacro %}{"a":{{ f(1) }}}')


def test_every_card_name_has_a_template_and_a_view() -> None:
    assert {n.removesuffix(".json.j2") for n in TEMPLATES if not n.startswith("_")} == set(VIEWS)


# Properties each JSON 2.0 tag may carry (2.0 rejects unknown ones); checked on every golden card.
ALLOWED: dict[str, set[str]] = {
    "plain_text": {"tag", "content", "i18n_content"},
    "text_tag": {"tag", "text", "color"},
    "markdown": {"tag", "content", "i18n_content"},
    "hr": {"tag"},
    "column_set": {"tag", "columns"},
    "column": {"tag", "width", "weight", "elements"},
    "button": {"tag", "text", "type", "name", "form_action_type", "confirm", "behaviors"},
    "form": {"tag", "name", "elements"},
    "input": {"tag", "name", "placeholder", "max_length", "width"},
}
HEADER_KEYS = {"title", "subtitle", "template", "text_tag_list", "i18n_text_tag_list"}
TEMPLATE_COLOURS = {"blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine", "violet",
                    "purple", "indigo", "grey", "default"}
TAG_COLOURS = {"neutral", "blue", "turquoise", "lime", "orange", "violet", "indigo", "wathet", "green", "yellow",
               "red", "purple", "carmine"}


def _components(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "tag" in node:
            found.append(node)
        for v in node.values():
            found += _components(v)
    elif isinstance(node, list):
        for v in node:
            found += _components(v)
    return found


GOLDEN = sorted(GOLDEN_DIR.glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_cards_are_valid_json_2(path: Path) -> None:
    card = json.loads(path.read_text(encoding="utf-8"))
    assert set(card) == {"schema", "config", "header", "body"} and card["schema"] == "2.0"
    assert card["config"]["update_multi"] is True and card["config"]["summary"]["content"]
    assert card["config"]["locales"] == list(cards.LOCALES)
    assert set(card["header"]) <= HEADER_KEYS and card["header"]["template"] in TEMPLATE_COLOURS
    assert len(card["header"].get("text_tag_list", [])) <= 3
    for loc, tags in card["header"].get("i18n_text_tag_list", {}).items():
        assert loc in cards.LOCALES and len(tags) == len(card["header"]["text_tag_list"])
    assert card["header"]["title"]["content"]
    names = []
    for c in _components(card):
        assert c["tag"] in ALLOWED, c["tag"]  # no 1.0 `action`, `note`, `div` …
        assert set(c) <= ALLOWED[c["tag"]], (c["tag"], set(c) - ALLOWED[c["tag"]])
        if "i18n_content" in c:  # every locale, the default one in `content` too
            assert list(c["i18n_content"]) == list(cards.LOCALES) and c["content"] in c["i18n_content"].values()
        if c["tag"] == "text_tag":
            assert c["color"] in TAG_COLOURS
        if c["tag"] == "button":
            assert c["type"] in {"default", "primary", "danger"}
            [behavior] = c["behaviors"]
            assert behavior["type"] in {"callback", "open_url"}
            if behavior["type"] == "open_url":
                assert set(behavior) == {"type", "default_url", "pc_url", "android_url", "ios_url"}
        if "name" in c:
            names.append(c["name"])
    assert len(names) == len(set(names)), "form component names must be unique in a card"
    for form in (c for c in _components(card) if c["tag"] == "form"):
        buttons = [b for b in _components(form) if b["tag"] == "button"]
        assert buttons and all(b["form_action_type"] == "submit" and b["name"] for b in buttons)
        assert [i["name"] for i in _components(form) if i["tag"] == "input"] == ["reason"]


def _approval_card(actions: tuple[Action, ...], **extra: Any) -> dict[str, Any]:
    return cards.render("approval", "en_us", approval=samples.approval("every_widget"), actions=actions,
                        names={}, **extra)


def _callbacks(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [c["behaviors"][0]["value"] for c in _components(card)
            if c["tag"] == "button" and c["behaviors"][0]["type"] == "callback"]


def test_buttons_are_exactly_the_actions_given_with_one_value_shape() -> None:
    for actions in [(), (Action.APPROVE,), (Action.APPROVE, Action.REJECT), (Action.REVOKE,)]:
        card = _approval_card(actions)
        assert _callbacks(card) == [
            {"action": a.value, "approval_id": "7100000000000000008", "approval_type": "remedy",
             "v": cards.CARD_VERSION} for a in actions]
        forms = [c for c in _components(card) if c["tag"] == "form"]
        takes_text = {Action.APPROVE, Action.REJECT} & set(actions)
        assert len(forms) == (1 if takes_text else 0)
        assert not forms or forms[0]["name"] == "approval_form"


def test_reject_and_revoke_ask_for_confirmation() -> None:
    card = _approval_card((Action.APPROVE, Action.REJECT, Action.REVOKE))
    buttons = {b["behaviors"][0]["value"]["action"]: b for b in _components(card) if b["tag"] == "button"
               and b["behaviors"][0]["type"] == "callback"}
    assert "confirm" not in buttons["approve"] and buttons["approve"]["type"] == "primary"
    assert buttons["reject"]["confirm"]["title"]["content"] and buttons["reject"]["type"] == "danger"
    assert buttons["revoke"]["confirm"]["text"]["content"] and buttons["revoke"]["type"] == "danger"


def test_acting_on_the_attendance_id_is_said_and_the_value_keeps_the_instance_code() -> None:
    card = cards.render("approval", "en_us", approval=samples.approval("attendance_field"),
                        actions=(Action.APPROVE,), names={})
    text = json.dumps(card)
    assert "The buttons act on the linked attendance record, ID 6737202939523236113" in text
    assert _callbacks(card)[0]["approval_id"] == "7100000000000000006"


def test_outcome_replaces_the_buttons() -> None:
    card = _approval_card((Action.APPROVE,), outcome={"action": "approve", "operator": "Manager Wang",
                                                      "at_ms": samples.T0, "reason": ""})
    assert _callbacks(card) == []
    assert card["header"]["template"] == "green"
    assert "Approved by Manager Wang at 2026-11-20 09:03" in json.dumps(card)
    assert "Reason:" not in card["body"]["elements"][0]["content"]


def test_header_by_state() -> None:
    def header(sample: str, **extra: Any) -> tuple[str, list[str]]:
        card = cards.render("approval", "en_us", approval=samples.approval(sample), actions=(), names={}, **extra)
        h = card["header"]
        return h["template"], [t["text"]["content"] for t in h.get("text_tag_list", [])]

    assert header("remedy_pending") == ("orange", ["Pending"])
    assert header("remedy_approved") == ("green", ["Approved"])
    assert header("remedy_rejected") == ("red", ["Rejected"])
    assert header("remedy_reverted") == ("grey", ["Revoked"])
    assert header("shift_approved") == ("grey", ["Approved", "Read-only"])
    assert header("remedy_pending", processing=True) == ("orange", ["Pending", "Processing"])


def test_unknown_and_canceled_statuses_are_read_only() -> None:
    for status, tag in (("CANCELED", "Canceled"), ("DELETED", "Deleted"), ("WEIRD", "Unknown status")):
        data = samples.remedy_pending()
        data["status"] = status
        from core.approval import from_instance

        card = cards.render("approval", "en_us", approval=from_instance(data), actions=(), names={})
        tags = [t["text"]["content"] for t in card["header"]["text_tag_list"]]
        assert card["header"]["template"] == "grey" and tags == [tag, "Read-only"]


def test_open_link_only_for_http_urls() -> None:
    card = _approval_card((), link={"pc": "javascript:alert(1)", "mobile": ""})
    assert "open_url" not in json.dumps(card)
    card = _approval_card((), link={"pc": "", "mobile": "https://m.example/x"})
    [behavior] = [c["behaviors"][0] for c in _components(card) if c["tag"] == "button"]
    assert behavior["default_url"] == behavior["pc_url"] == behavior["ios_url"] == "https://m.example/x"


@pytest.mark.parametrize(("name", "context"), [
    ("no_such_card", {}),
    ("approval", {}),  # approval missing
    ("approval", {"approval": "not an approval"}),
    ("approval", {"approval": None}),
    ("notice", {"title": "t"}),  # text missing
    ("notice", {"title": "t", "text": "x", "unexpected": 1}),
    ("help", {"commands": [{"name": "x", "alias": "", "usage_key": "command.nope.usage", "summary_key": "x"}]}),
    ("approval", {"approval": "A", "actions": ("transfer",)}),
    ("attendance_only", {"approval_id": "1", "outcome": {"action": "explode"}}),
    ("../notice", {}),
])
def test_bad_input_raises_card_render_error(name: str, context: dict[str, Any]) -> None:
    if context.get("approval") == "A":
        context = {**context, "approval": samples.approval("remedy_pending")}
    with pytest.raises(cards.CardRenderError):
        cards.render(name, "en_us", **context)


def test_locale_names_are_normalised() -> None:
    a = cards.render("notice", "en-US", title="t", text="x")
    assert a == cards.render("notice", "en_us", title="t", text="x")
    assert cards.render("notice", "fr_fr", title="t", text="x") == cards.render("notice", "zh_cn", title="t", text="x")


def test_cards_is_pure() -> None:
    code = ("import sys, cards; cards.render('help', 'en_us', commands=[]);"
            "bad = [m for m in sys.modules"
            " if m.split('.')[0] in ('lark_oapi', 'flask', 'sqlite3', 'psycopg', 'requests')"
            " or m in ('bot.store', 'bot.feishu', 'bot.app')]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_environment_is_built_once() -> None:
    assert environment() is environment()
    env = environment()
    assert env.autoescape is False and env.undefined.__name__ == "StrictUndefined"


def test_preload_compiles_every_template_a_card_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn's master preloads the cards: a worker's first card must compile nothing (its own copy of a
    template would cost the worker memory and its first click the time)."""
    env = environment()
    env.cache.clear()
    cards.preload()
    compiled: list[str] = []
    real = type(env).compile

    def counting(self, source, name=None, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        compiled.append(name)
        return real(self, source, name, *args, **kwargs)

    monkeypatch.setattr(type(env), "compile", counting)
    cards.render("notice", "en_us", title="t", text="x")
    cards.render("help", "zh_cn", commands=[])
    assert compiled == []
