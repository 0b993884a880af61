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
    card = _merge(default_locale, dict(renders))
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


def _merge(default: str, nodes: dict[str, Any]) -> Any:
    base = nodes[default]
    others = [n for loc, n in nodes.items() if loc != default]
    if others == [base] * len(others):  # most of a card reads the same in every locale: one C comparison
        return base
    # json.loads made the renders: plain dicts and lists (the ABCs' isinstance would cost more than the merge)
    if isinstance(base, dict):
        return _merge_object(default, nodes)
    if isinstance(base, list):
        for n in others:
            if not isinstance(n, list) or len(n) != len(base):
                raise LocaleMismatch("list lengths differ")
        return [_merge(default, {loc: n[i] for loc, n in nodes.items()}) for i in range(len(base))]
    return base


def _merge_object(default: str, nodes: dict[str, Any]) -> dict[str, Any]:
    base = nodes[default]
    for n in nodes.values():
        if not isinstance(n, dict) or n.keys() != base.keys():
            raise LocaleMismatch("object keys differ")
    out: dict[str, Any] = {}
    for key, value in base.items():
        if key == "content" and isinstance(value, str):
            out[key] = value
            contents = {loc: n[key] for loc, n in nodes.items()}
            for c in contents.values():
                if not isinstance(c, str):
                    raise LocaleMismatch("a content is not text in every locale")
            if len(set(contents.values())) > 1:
                out["i18n_content"] = contents
            continue
        if key in ("behaviors", "value"):  # callback values are data: identical in every locale by construction
            for n in nodes.values():
                if n[key] != value:
                    raise LocaleMismatch(f"{key} differs")
            out[key] = value
            continue
        out[key] = _merge(default, {loc: n[key] for loc, n in nodes.items()})
    return out
