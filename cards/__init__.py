"""Cards: the only way approval-bot makes Feishu card JSON (schema 2.0), and its one text catalogue.

    render(name, locale, **context) -> dict     templates/<name>.json.j2, escaped, within Feishu's limits
    text(key, locale, **params) -> str          locales/<locale>.toml; a missing key raises KeyError

Pure: jinja2 plus core.rules / core.approval; no lark_oapi, Flask or store. How a card is made:
view model (cards.views, user text clipped) → template (every output through ``tojson``, markdown through
``md``) → ``json.loads`` → size guard. A card over 30 KB or 200 components is made again from a smaller
budget (fewer rows, shorter texts, "… and N more"), deterministically, until it fits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jinja2

from cards.environment import LOCALES, environment, normalize_locale, text
from cards.views import CARD_VERSION, LADDER, VIEWS, Budget, notice_view

__all__ = ["CARD_VERSION", "LOCALES", "MAX_BYTES", "MAX_ELEMENTS", "CardRenderError", "card_size",
           "count_elements", "render", "text"]

MAX_BYTES = 30 * 1024
MAX_ELEMENTS = 200
# Text objects are properties of a component, not components of their own (Feishu's 200 counts components).
_NOT_COMPONENTS = frozenset({"plain_text", "lark_md"})


class CardRenderError(Exception):
    """A card could not be rendered: unknown name, a template error or a context that does not fit it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"card {name!r} could not be rendered")
        self.name = name


def card_size(card: Mapping[str, Any]) -> int:
    """UTF-8 bytes of the compact JSON, as Feishu measures the 30 KB limit."""
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def count_elements(node: Any) -> int:
    """Components in a card: every object with a ``tag`` except the plain_text/lark_md text objects."""
    if isinstance(node, Mapping):
        own = 1 if "tag" in node and node["tag"] not in _NOT_COMPONENTS else 0
        return own + sum(count_elements(v) for v in node.values())
    if isinstance(node, list | tuple):
        return sum(count_elements(v) for v in node)
    return 0


def fits(card: Mapping[str, Any]) -> bool:
    return card_size(card) <= MAX_BYTES and count_elements(card) <= MAX_ELEMENTS


def _template(name: str) -> jinja2.Template:
    if name not in VIEWS:
        raise CardRenderError(name)
    try:
        return environment().get_template(f"{name}.json.j2")
    except jinja2.TemplateError as exc:
        raise CardRenderError(name) from exc


def _render_once(name: str, template: jinja2.Template, locale: str, budget: Budget,
                 context: Mapping[str, Any]) -> dict[str, Any]:
    try:
        view = VIEWS[name](locale, budget, **context)
        card = json.loads(template.render(v=view, locale=locale, t=lambda key, **p: text(key, locale, **p)))
    # StrictUndefined inside tojson surfaces as TypeError; a bad context as TypeError/KeyError/ValueError.
    except (jinja2.TemplateError, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise CardRenderError(name) from exc
    if not isinstance(card, dict):
        raise CardRenderError(name)
    return card


def render(name: str, locale: str, **context: Any) -> dict[str, Any]:
    """The card `name` in `locale` as a dict, ready for Feishu; raises CardRenderError."""
    locale = normalize_locale(locale)
    template = _template(name)
    for budget in LADDER:
        card = _render_once(name, template, locale, budget, context)
        if fits(card):
            return card
    return _too_large(locale)


def _too_large(locale: str) -> dict[str, Any]:
    """Last resort, never reached with the current ladder: a small notice that always fits."""
    budget = LADDER[-1]
    card = json.loads(environment().get_template("notice.json.j2").render(
        v=notice_view(locale, budget, title=text("title.too_large", locale), text=text("notice.too_large", locale),
                      tone="warning"),
        locale=locale, t=lambda key, **p: text(key, locale, **p)))
    return card
