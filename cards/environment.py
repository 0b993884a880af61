"""The text catalogue, the markdown escaper and the one jinja2 Environment the cards are rendered with.

Pure: jinja2 and the standard library only. Card JSON is never built by string concatenation: every
template output goes through ``tojson`` (or a macro that does), and every piece of user text that lands
in Feishu markdown goes through :func:`md` first (docs/security.md T13).
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2

LOCALES: tuple[str, ...] = ("zh_cn", "en_us")
DEFAULT_LOCALE = LOCALES[0]

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
LOCALES_DIR = _HERE / "locales"


# --- the catalogue -------------------------------------------------------------------------------------------


def normalize_locale(locale: str | None) -> str:
    """"en-US", "EN_us" and "en_us" are one locale; anything unknown reads as the default (zh_cn)."""
    if locale in LOCALES:  # already normal: every text of a card asks again
        return locale  # type: ignore[return-value]
    cleaned = (locale or "").strip().lower().replace("-", "_")
    return cleaned if cleaned in LOCALES else DEFAULT_LOCALE


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = str(value)
    return flat


@functools.cache
def catalogue(locale: str) -> Mapping[str, str]:
    """All texts of one locale, dotted keys (``toast.approved``) to format strings."""
    with (LOCALES_DIR / f"{normalize_locale(locale)}.toml").open("rb") as fh:
        return _flatten(tomllib.load(fh))


class _KeepMissing(dict):
    """A placeholder the caller forgot stays visible as ``{name}`` instead of failing a whole reply."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def text(key: str, locale: str, **params: Any) -> str:
    """The catalogue text `key` in `locale`, with ``{params}`` filled in. A missing key raises KeyError.

    A param may itself be a :class:`Msg`: it is worded in the same locale.
    """
    template = catalogue(normalize_locale(locale))[key]
    if not params:
        return template
    return template.format_map(_KeepMissing({k: localize(v, locale) for k, v in params.items()}))


@dataclass(frozen=True)
class Msg:
    """A catalogue text not yet worded: a card context value that each locale of the card words for itself."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        catalogue(DEFAULT_LOCALE)[self.key]  # a wrong key fails where the Msg is made, not in a card


def msg(key: str, **params: Any) -> Msg:
    """``cards.msg("toast.processing")``: a text for a card context, worded in each reader's language."""
    return Msg(key, dict(params))


@dataclass(frozen=True)
class Worded:
    """A text the handlers composed in every locale (a refusal with its type names, an outcome with a time)."""

    by_locale: Mapping[str, str]

    def __str__(self) -> str:
        return self.by_locale.get(DEFAULT_LOCALE, "")


def worded(compose: Callable[[str], str]) -> Worded:
    """``cards.worded(lambda loc: …)``: the text composed once per locale, for a card or a toast."""
    return Worded({loc: compose(loc) for loc in LOCALES})


class Name(str):
    """A person's or a department's name in every locale the contact API gave (``name``/``en_name``,
    ``i18n_name``). As a plain string it is the name in the locale it was made for, so code that formats it
    keeps working; a card words it per reader (:func:`localize`)."""

    by_locale: Mapping[str, str]

    def __new__(cls, by_locale: Mapping[str, str], locale: str = DEFAULT_LOCALE) -> Name:
        chosen = {k: v for k, v in by_locale.items() if v}
        default = chosen.get(normalize_locale(locale)) or chosen.get(DEFAULT_LOCALE) or next(iter(chosen.values()), "")
        made = super().__new__(cls, default)
        made.by_locale = chosen
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (Name, (dict(self.by_locale), _locale_of(self)))


def _locale_of(name: Name) -> str:
    return next((k for k, v in name.by_locale.items() if v == str(name)), DEFAULT_LOCALE)


def localize(value: Any, locale: str) -> Any:
    """A :class:`Msg`, :class:`Worded` or :class:`Name` in `locale`; None as ""; anything else as it is."""
    if isinstance(value, Msg):
        return text(value.key, locale, **value.params)
    if isinstance(value, Worded):
        return value.by_locale.get(locale) or str(value)
    if isinstance(value, Name):
        return value.by_locale.get(normalize_locale(locale)) or str.__str__(value)
    return "" if value is None else value


# --- user text: cleaning, clipping, markdown escaping ----------------------------------------------------------

# C0/C1 controls (tab and newline are handled apart), and the bidi embeddings/overrides/isolates that can
# make "gpj.exe" read as "exe.jpg" (U+202A–U+202E, U+2066–U+2069), U+2028/U+2029 line separators, and lone
# surrogates (a JSON "\ud800" escape parses to one; it cannot be encoded as UTF-8).
_CONTROL_RANGES = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0x202A, 0x202E), (0x2066, 0x2069), (0x2028, 0x2029),
                   (0xFEFF, 0xFEFF), (0xD800, 0xDFFF))
_CONTROL = re.compile("[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in _CONTROL_RANGES) + "]")
# One str.translate pass each (a card cleans and escapes dozens of texts): controls removed, CR and tab made
# plain; for markdown also the entities and a backslash before every markdown special.
_CLEAN: dict[int, str | None] = {c: None for a, b in _CONTROL_RANGES for c in range(a, b + 1)}
_CLEAN.update({ord("\r"): "\n", ord("\t"): " "})
_MD = {**_CLEAN, ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", **{ord(c): "\\" + c for c in "\\`*_~[]()#|"}}


def clean(value: Any) -> str:
    """Text safe to show anywhere: no control or bidi-override characters, tabs as spaces, CRLF as LF."""
    s = "" if value is None else str(value)
    return s.replace("\r\n", "\n").translate(_CLEAN)


def clip(value: Any, limit: int, *, line: bool = False) -> str:
    """At most `limit` characters of cleaned text (on one line when `line`), ending in "…" when cut.

    The raw text is cut first (with room for what cleaning removes), so a 100 KB string costs no more than a short one.
    """
    s = "" if value is None else str(value)
    s = s[: limit * 2 + 16]
    s = one_line(s) if line else clean(s)
    if len(s) <= limit:
        return s
    return s[: max(limit - 1, 0)].rstrip() + "…"


def one_line(value: Any) -> str:
    return " ".join(clean(value).split())


def md(value: Any) -> str:
    """Escape text for Feishu markdown: entities for & < >, a backslash before every markdown special.

    Entities first, so the ``&`` of an entity is not escaped again; the entities hold no markdown special.
    Newlines stay (multi-line notices); callers put one-line text where a line break would matter.
    """
    s = "" if value is None else str(value)
    return s.replace("\r\n", "\n").translate(_MD)  # cleaned, then entities and escapes, in one pass


# Characters a URL may keep inside a markdown link: none of ( ) [ ] < > " ' ` \ { } | ^ or spaces survive.
_URL_SAFE = "-._~:/?#@!$&*+,;=%"


def safe_url(url: Any) -> str | None:
    """An http(s) URL with a host, percent-encoded so it cannot end a markdown link early; else None."""
    if not isinstance(url, str):
        return None
    raw = url.strip()
    if not raw or len(raw) > 2048 or _CONTROL.search(raw) or any(c.isspace() for c in raw):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "\\" in raw:
        return None
    return quote(unicodedata.normalize("NFC", raw), safe=_URL_SAFE)


@dataclass(frozen=True)
class Link:
    """A link in a card line: the text is user text (escaped), the URL is checked by :func:`safe_url`."""

    text: str
    url: str


Part = str | Link
Line = tuple[Part, ...]


@dataclass(frozen=True)
class Row:
    """One labelled block of a card: a bold label, then lines of plain text and links.

    ``more`` counts the entries cut to keep the card small; ``more_first`` puts the "… and N more" note above
    the lines (timelines keep their newest entries, so the cut ones are the earliest).
    """

    label: str
    lines: tuple[Line, ...] = ()
    more: int = 0
    more_first: bool = False


def md_link(link: Link) -> str:
    url = safe_url(link.url)
    if url is None:
        return md(link.text)
    return f"[{md(link.text) or md(url)}]({url})"


def md_line(line: Line | str) -> str:
    if isinstance(line, str | Link):
        line = (line,)
    return "".join(md_link(p) if isinstance(p, Link) else md(p) for p in line)


def md_row(row: Row, locale: str) -> str:
    """A Row as markdown: ``**label**`` then one line per entry. All text is escaped here, in one place."""
    out = [f"**{md(row.label)}**"] if row.label else []
    lines = [md_line(line) for line in row.lines]
    if row.more:
        note = md(text("truncated.more", locale, n=row.more))
        lines = [note, *lines] if row.more_first else [*lines, note]
    out.extend(lines)
    return "\n".join(out)


def md_rows(rows: Iterable[Row], locale: str) -> str:
    return "\n".join(md_row(r, locale) for r in rows)


# --- the environment ---------------------------------------------------------------------------------------------


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def tojson(value: Any) -> str:
    """A value as JSON inside the template's JSON. Jinja's own filter also escapes ``< > & '`` for HTML
    script tags, which this output never goes into: the render is read back by ``json.loads``."""
    return _JSON(value)


class _Environment(jinja2.Environment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        """``v.title`` on a view (a dict) reads the key first: Jinja tries the attribute first, and the failed
        lookup raised and caught an AttributeError for every field of every card."""
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@functools.cache
def environment() -> jinja2.Environment:
    """The one Environment (cached per process): StrictUndefined, no HTML autoescape (the output is JSON)."""
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - JSON output; every value goes through tojson, markdown through md
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.do"],
        auto_reload=False,  # templates are code: no stat of the file before every render
    )
    env.filters.update(tojson=tojson, md=md, md_line=md_line, md_row=md_row, md_rows=md_rows, plain=clean,
                       one_line=one_line)
    return env
