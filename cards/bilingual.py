"""One card in every locale: the texts of each locale's render side by side.

Feishu shows each reader the language of their own client when a text carries ``i18n_content``; JSON 2.0
cards support only this per-text ("local") form, not a whole ``i18n_elements`` body. So the card is rendered once
per locale from the same context and budget, the renders are laid over each other, and every text whose
wording differs between them keeps the default locale in ``content`` (older clients, message previews) and
all of them in ``i18n_content``. Texts that read the same in every locale (names, ids, user text) stay plain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LocaleMismatch(ValueError):
    """The renders of two locales differ in shape (a view that branches on a translated text)."""


def merge(default_locale: str, renders: Mapping[str, Any]) -> Any:
    """The default locale's card with ``i18n_content`` wherever the locales' texts differ.

    `renders` maps every locale (the default one included) to its render of the same card.
    """
    if default_locale not in renders:
        raise KeyError(default_locale)
    locales = tuple(renders)
    card = _merge(locales, locales.index(default_locale), tuple(renders.values()))
    if isinstance(card, dict) and isinstance(card.get("header"), dict):
        _header_tags(card["header"], {loc: r.get("header") or {} for loc, r in renders.items()})
    return card


def _header_tags(header: dict[str, Any], headers: Mapping[str, Mapping[str, Any]]) -> None:
    """Title tags in each locale also go in ``i18n_text_tag_list``, the JSON 2.0 header's own multi-language
    field, which wins over ``text_tag_list``; ``text_tag_list`` keeps the default locale (and its texts'
    ``i18n_content``) for clients that only read it."""
    tags = header.get("text_tag_list")
    if tags and any("i18n_content" in (t.get("text") or {}) for t in tags):
        header["i18n_text_tag_list"] = {loc: h.get("text_tag_list") for loc, h in headers.items()}


# One node of the card in every locale: `values` in the order of `locales`, `d` the default's index. json.loads made
# the renders: plain dicts and lists (the ABCs' isinstance would cost more than the merge).


def _merge(locales: tuple[str, ...], d: int, values: tuple[Any, ...]) -> Any:
    base = values[d]
    if values.count(base) == len(values):  # most of a card reads the same in every locale: C comparisons
        return base
    if isinstance(base, dict):
        return _merge_object(locales, d, values)
    if isinstance(base, list):
        for v in values:
            if not isinstance(v, list) or len(v) != len(base):
                raise LocaleMismatch("list lengths differ")
        return [_merge(locales, d, column) for column in zip(*values, strict=True)]
    return base


def _merge_object(locales: tuple[str, ...], d: int, values: tuple[Any, ...]) -> dict[str, Any]:
    base = values[d]
    for v in values:
        if not isinstance(v, dict) or v.keys() != base.keys():
            raise LocaleMismatch("object keys differ")
    out: dict[str, Any] = {}
    for key, value in base.items():
        column = tuple(v[key] for v in values)
        if key == "content" and isinstance(value, str):
            out[key] = value
            for c in column:
                if not isinstance(c, str):
                    raise LocaleMismatch("a content is not text in every locale")
            if len(set(column)) > 1:
                out["i18n_content"] = dict(zip(locales, column, strict=True))
            continue
        if key in ("behaviors", "value"):  # callback values are data: identical in every locale by construction
            for c in column:
                if c != value:
                    raise LocaleMismatch(f"{key} differs")
            out[key] = value
            continue
        out[key] = _merge(locales, d, column)
    return out
