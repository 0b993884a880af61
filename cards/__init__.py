"""Cards: the only way approval-bot makes Feishu card JSON (schema 2.0), and its one text catalogue.

    render(name, locale, **context) -> dict     templates/<name>.json.j2, in every locale, within Feishu's limits
    text(key, locale, **params) -> str          locales/<locale>.toml; a missing key raises KeyError
    toast(key, locale, **params) -> dict        a callback toast's content and i18n, for each reader's language
    msg(key, **params) -> Msg                   a text for a card context, worded in each locale of the card
    worded(compose) -> Worded                   a text the caller composes per locale, for a card or a toast

Pure: jinja2 plus core.rules / core.approval; no lark_oapi, Flask or store. How a card is made:
view model (cards.views, user text clipped) → template (every output through ``tojson``, markdown through
``md``) → ``json.loads``, once per locale → the renders merged into one card whose texts carry
``i18n_content`` (cards.bilingual; `locale` is the default shown where a client has no language of its own)
→ size guard. A card over 30 KB or 200 elements is made again from a smaller budget (fewer rows, shorter texts,
"… and N more"), deterministically, until it fits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import jinja2

from cards.bilingual import LocaleMismatch, merge
from cards.environment import (
    LOCALES,
    TEMPLATES_DIR,
    Msg,
    Name,
    Worded,
    catalogue,
    environment,
    localize,
    msg,
    normalize_locale,
    text,
    tojson,
    worded,
)
from cards.views import CARD_VERSION, LADDER, VIEWS, Budget

__all__ = ["CARD_VERSION", "LOCALES", "MAX_BYTES", "MAX_ELEMENTS", "CardRenderError", "Msg", "Name", "card_size",
           "count_elements", "localize", "msg", "preload", "render", "text", "toast", "Worded", "worded"]

log = logging.getLogger(__name__)

MAX_BYTES = 30 * 1024
MAX_ELEMENTS = 200


class CardRenderError(Exception):
    """A card could not be rendered: unknown name, a template error or a context that does not fit it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"card {name!r} could not be rendered")
        self.name = name


def card_size(card: Mapping[str, Any]) -> int:
    """UTF-8 bytes of the compact JSON, as Feishu measures the 30 KB limit."""
    return len(tojson(card).encode("utf-8"))


def count_elements(node: Any) -> int:
    """Elements in a card: every object with a ``tag``, text elements (plain_text, lark_md) included, as the
    JSON 2.0 structure page counts them towards the 200. Callback values are data, not elements."""
    found, todo = 0, [node]
    while todo:  # a walk without recursion: every card is sized before it is sent
        item = todo.pop()
        if isinstance(item, list | tuple):
            todo.extend(item)
        elif isinstance(item, dict) or isinstance(item, Mapping):  # dict first: the ABC's check is slow
            found += isinstance(item.get("tag"), str)
            todo.extend(v for k, v in item.items() if k != "value" and not isinstance(v, str))
    return found


def fits(card: Mapping[str, Any]) -> bool:
    return card_size(card) <= MAX_BYTES and count_elements(card) <= MAX_ELEMENTS


def preload() -> None:
    """Compile every template and read every catalogue now: called in the gunicorn master before it forks
    (preload_app), so the workers share them instead of each compiling its own copy on its first card."""
    for name in VIEWS:
        _template(name)
    for partial in TEMPLATES_DIR.glob("_*.json.j2"):  # imported by the cards at their first render: here instead
        environment().get_template(partial.name)
    for locale in LOCALES:
        catalogue(locale)


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


def _in_every_locale(name: str, template: jinja2.Template, default: str, budget: Budget,
                     context: Mapping[str, Any]) -> dict[str, Any]:
    """One card carrying every locale's texts; `default` in ``content``, where clients fall back to."""
    renders = {loc: _render_once(name, template, loc, budget, context) for loc in LOCALES}
    try:
        card = merge(default, renders)
    except LocaleMismatch as exc:  # a view bug: better one language than no card
        log.warning("card %s differs in shape between locales (%s); sent in %s only", name, exc, default)
        card = renders[default]
    card.setdefault("config", {})["locales"] = list(LOCALES)
    return card


def render(name: str, locale: str, **context: Any) -> dict[str, Any]:
    """The card `name` as a dict, ready for Feishu: each reader sees their own language, `locale` is the
    default; raises CardRenderError."""
    locale = normalize_locale(locale)
    template = _template(name)
    for budget in LADDER:
        card = _in_every_locale(name, template, locale, budget, context)
        if fits(card):
            return card
    return _too_large(locale)


def toast(key: str, locale: str | None = None, **params: Any) -> dict[str, Any]:
    """A callback toast's texts: ``{"content": <default locale>, "i18n": {locale: text, …}}`` (add ``type``)."""
    default = normalize_locale(locale)
    return {"content": text(key, default, **params), "i18n": {loc: text(key, loc, **params) for loc in LOCALES}}


def _too_large(locale: str) -> dict[str, Any]:
    """Last resort, never reached with the current ladder: a small notice that always fits."""
    template = _template("notice")
    return _in_every_locale("notice", template, locale, LADDER[-1],
                            {"title": msg("title.too_large"), "text": msg("notice.too_large"), "tone": "warning"})
