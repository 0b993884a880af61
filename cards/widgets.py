"""Seed-004 form widgets as card rows: one pure function per widget type.

Each function takes a :class:`core.approval.Widget` and a :class:`Fmt` (locale, names, time zone, limits) and
returns a :class:`Row` of *plain* text and links; escaping happens later, in one place
(:func:`cards.environment.md_row`). Unknown types are never dropped: they show their name and a compact,
clipped JSON value. A known type whose value does not have the documented shape falls back to the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cards.environment import Line, Link, Part, Row, clip, one_line, text
from core.approval import Widget, parse_form
from core.rules import WIDGET_TYPES

DEFAULT_TZ = "Asia/Shanghai"
MAX_DEPTH = 3  # fieldList inside fieldList …: deeper nesting is shown as compact JSON


@dataclass(frozen=True)
class Fmt:
    """How to format: locale, id → name mapping, IANA zone for ms timestamps, and the size budget."""

    locale: str
    names: Mapping[str, str] = field(default_factory=dict)
    tz: str = DEFAULT_TZ
    max_items: int = 50  # entries of one list (checkbox options, attachments, fieldList rows, trip legs)
    max_text: int = 600  # characters of one piece of user text
    depth: int = 0

    def t(self, key: str, **params: Any) -> str:
        return text(key, self.locale, **params)

    def s(self, value: Any) -> str:
        """User text, clipped to the budget and kept on one line."""
        return clip(value, self.max_text, line=True)

    def name(self, ident: Any) -> str:
        ident = "" if ident is None else str(ident)
        return self.s(self.names.get(ident) or ident)

    def labelled(self, key: str, *parts: Part) -> Line:
        return (self.t(key), self.t("sep.colon"), *parts)


# --- values ------------------------------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


def zone(tz: str) -> ZoneInfo:
    """The IANA zone `tz`; a name that is no zone ("America", "../x", "") reads as the default."""
    try:
        return ZoneInfo(tz or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return ZoneInfo(DEFAULT_TZ)


def format_ms(ms: Any, tz: str = DEFAULT_TZ) -> str:
    """Epoch milliseconds → ``2019-10-01 08:12`` in `tz`; "" for 0 or nonsense."""
    try:
        value = int(str(ms).strip())
    except (TypeError, ValueError):
        return ""
    if value <= 0:
        return ""
    try:
        when = datetime.fromtimestamp(value / 1000, tz=UTC).astimezone(zone(tz))
    except (OverflowError, OSError, ValueError):
        return ""
    return when.strftime("%Y-%m-%d %H:%M")


def format_rfc3339(value: Any) -> str:
    """RFC3339 → ``2019-10-01 08:12`` in the value's own offset. Malformed text comes back as it was."""
    raw = "" if value is None else str(value)
    if len(raw) > 40:  # no timestamp is that long: show it as given (the caller clips it)
        return raw
    raw = one_line(raw)
    if _DATE_ONLY.match(raw):
        return raw
    if not _RFC3339.match(raw):
        return raw
    try:
        when = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        return raw
    return when.strftime("%Y-%m-%d %H:%M")


def format_when(value: Any, tz: str = DEFAULT_TZ) -> str:
    """A date widget value: RFC3339 text, or epoch milliseconds (some forms send those)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return format_ms(value, tz) or one_line(value)
    return format_rfc3339(value)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise ValueError("not a number")
    d = Decimal(str(value).strip().replace(",", ""))
    if not d.is_finite() or abs(d.adjusted()) > 30:
        raise ValueError("not a plain number")
    return d


def format_number(value: Any) -> str:
    """``1234.56`` → ``1,234.56``; ``2.0`` → ``2``. Text that is no number comes back as it was."""
    try:
        d = _decimal(value)
    except (ValueError, InvalidOperation):
        return "" if value is None else str(value)
    d = d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()
    return format(d, ",f")


def format_amount(value: Any, currency: str = "") -> str:
    """Two decimals, thousands separators, the currency code after it when one is known."""
    try:
        d = _decimal(value)
    except (ValueError, InvalidOperation):
        return "" if value is None else str(value)
    shown = format(d.quantize(Decimal("0.01")), ",.2f")
    return f"{shown} {currency}" if currency else shown


_UNITS = {"DAY": "days", "HOUR": "hours", "HALF_DAY": "half_days", "HALFDAY": "half_days", "MINUTE": "minutes"}


def format_interval(value: Any, unit: Any, locale: str) -> str:
    """``2 days`` / ``2 天``; ``3 hours`` with unit HOUR; an unknown unit is shown after the number as given."""
    number = format_number(value)
    unit_name = str(unit or "DAY").strip().upper()
    key = _UNITS.get(unit_name)
    if key is None:
        return f"{number} {one_line(unit)}".strip()
    if number == "1":
        key = key[:-1]
    return text(f"unit.{key}", locale, n=number)


def compact_json(value: Any, limit: int = 200) -> str:
    try:
        dumped = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        dumped = repr(value)[: limit * 2]
    return clip(dumped, limit)


def plain_value(value: Any) -> str:
    """An option-like value as text: strings as they are, option objects by their text, lists joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("text", "name", "title", "value", "label"):
            if isinstance(value.get(key), str | int | float):
                return plain_value(value[key])
        return compact_json(value)
    if isinstance(value, list | tuple):
        return ", ".join(plain_value(v) for v in value)
    return str(value)


def _listed(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def _span(start: Any, end: Any) -> str:
    return f"{format_rfc3339(start)} – {format_rfc3339(end)}"


def _cut(items: Sequence[Any], f: Fmt) -> tuple[list[Any], int]:
    return list(items[: f.max_items]), max(len(items) - f.max_items, 0)


# --- one function per widget type ---------------------------------------------------------------------------------


def label_of(w: Widget, f: Fmt) -> str:
    return f.s(w.name or w.custom_id or w.id or w.type or "?")


def _row(w: Widget, f: Fmt, lines: Sequence[Line], more: int = 0) -> Row:
    shown = [line for line in lines if any(p for p in line)]
    if not shown and not more:
        shown = [(f.t("widget.empty"),)]
    return Row(label_of(w, f), tuple(shown), more)


def text_widget(w: Widget, f: Fmt) -> Row:
    """input: the text as it is."""
    return _row(w, f, [(f.s(plain_value(w.value)),)])


def textarea(w: Widget, f: Fmt) -> Row:
    """textarea: several lines, each kept."""
    raw = plain_value(w.value).replace("\r\n", "\n")
    lines, more = _cut([ln for ln in raw.split("\n") if ln.strip()], f)
    return _row(w, f, [(f.s(ln),) for ln in lines], more)


def number(w: Widget, f: Fmt) -> Row:
    """number and formula: ``1,234.56``."""
    if isinstance(w.value, Mapping | list):
        raise TypeError("number value is not a number")
    return _row(w, f, [(f.s(format_number(w.value)),)])


def _currency(w: Widget) -> str:
    for source in (w.ext, w.raw.get("option")):
        if isinstance(source, Mapping):
            for key in ("currency", "currencyType", "currency_type", "code"):
                if isinstance(source.get(key), str) and source[key].strip():
                    return one_line(source[key])[:8]
        if isinstance(source, str) and re.fullmatch(r"[A-Za-z]{3}", source.strip()):
            return source.strip().upper()
    return ""


def amount(w: Widget, f: Fmt) -> Row:
    """amount: two decimals, currency from ``ext``/``option`` when present."""
    return _row(w, f, [(f.s(format_amount(w.value, _currency(w))),)])


def date(w: Widget, f: Fmt) -> Row:
    """date: RFC3339 → ``2019-10-01 08:12``."""
    return _row(w, f, [(f.s(format_when(w.value, f.tz)),)])


def date_interval(w: Widget, f: Fmt) -> Row:
    """dateInterval: ``start – end · 2 days``."""
    v = w.value
    if not isinstance(v, Mapping):
        raise TypeError("dateInterval value is not an object")
    line: list[Part] = [f.s(_span(v.get("start"), v.get("end")))]
    if v.get("interval") not in (None, ""):
        line += [" · ", f.s(format_interval(v.get("interval"), v.get("unit"), f.locale))]
    return _row(w, f, [tuple(line)])


def choice(w: Widget, f: Fmt) -> Row:
    """radio/radioV2 (one option text) and checkbox/checkboxV2 (a list of option texts, joined)."""
    items, more = _cut(_listed(w.value) if isinstance(w.value, list | tuple) else [w.value], f)
    return _row(w, f, [(f.s(", ".join(plain_value(i) for i in items)),)], more)


def contact(w: Widget, f: Fmt) -> Row:
    """contact: user ids (and open ids beside them) → names; the id when no name is known."""
    user_ids = [str(u) for u in _listed(w.value)]
    open_ids = list(w.open_ids)
    people = []
    for i in range(max(len(user_ids), len(open_ids))):
        oid = open_ids[i] if i < len(open_ids) else ""
        uid = user_ids[i] if i < len(user_ids) else ""
        people.append(f.names.get(oid) or f.names.get(uid) or oid or uid)
    shown, more = _cut(people, f)
    return _row(w, f, [(f.s(", ".join(shown)),)], more)


def department(w: Widget, f: Fmt) -> Row:
    """department: ``[{"open_id": "od-…"}]`` → names."""
    ids = [d.get("open_id") or d.get("department_id") or d.get("id") if isinstance(d, Mapping) else d
           for d in _listed(w.value)]
    shown, more = _cut([f.name(i) for i in ids if i], f)
    return _row(w, f, [(f.s(", ".join(shown)),)], more)


def connect(w: Widget, f: Fmt) -> Row:
    """connect: the linked approval instance codes."""
    shown, more = _cut([plain_value(c) for c in _listed(w.value)], f)
    return _row(w, f, [(f.s(", ".join(shown)),)], more)


def document(w: Widget, f: Fmt) -> Row:
    """document: ``[title](url)``."""
    v = w.value
    if not isinstance(v, Mapping):
        raise TypeError("document value is not an object")
    title = f.s(v.get("title") or v.get("token") or f.t("widget.document"))
    url = v.get("url")
    return _row(w, f, [(Link(title, url),) if isinstance(url, str) and url else (title,)])


def _file_names(ext: Any) -> list[str]:
    """``'a.pdf','b.png'`` (seed 004) → ["a.pdf", "b.png"]; a list, or plain comma-separated text, too.

    Split, not a regex: linear on any input (names are user text and may hold quotes of their own).
    """
    if isinstance(ext, list | tuple):
        return [plain_value(e) for e in ext]
    if not isinstance(ext, str):
        return []
    s = ext.strip()[:100_000]
    if len(s) >= 2 and s[0] == "'" and s[-1] == "'":
        return s[1:-1].split("','")
    return [e.strip() for e in s.split(",")] if s else []


def attachment(w: Widget, f: Fmt) -> Row:
    """attachment/attachmentV2/image/imageV2: ``ext`` holds the names, ``value`` the URLs → one link per line."""
    urls = _listed(w.value)
    names = _file_names(w.ext)
    files = [  # a name without a URL is still shown, as text
        (f.s(names[i] if i < len(names) and names[i] else f.t("widget.file", n=i + 1)),
         urls[i] if i < len(urls) else "")
        for i in range(min(max(len(urls), len(names)), f.max_items + 1_000))
    ]
    shown, more = _cut(files, f)
    return _row(w, f, [(Link(name, url if isinstance(url, str) else ""),) for name, url in shown], more)


def telephone(w: Widget, f: Fmt) -> Row:
    """telephone: ``+86 13122222222``."""
    v = w.value
    if isinstance(v, Mapping):
        shown = " ".join(one_line(v.get(k)) for k in ("country_code", "national_number") if v.get(k))
    else:
        shown = plain_value(v)
    return _row(w, f, [(f.s(shown),)])


def address(w: Widget, f: Fmt) -> Row:
    """address: ``China/Beijing/…`` → ``China / Beijing / …`` (the last part may be the detailed address)."""
    parts = w.value if isinstance(w.value, list | tuple) else str(w.value or "").split("/")
    return _row(w, f, [(f.s(" / ".join(p for p in (plain_value(x).strip() for x in parts) if p)),)])


def _reason(v: Mapping[str, Any], f: Fmt) -> Line:
    return f.labelled("widget.reason", f.s(plain_value(v.get("reason")))) if v.get("reason") else ()


def _duration(v: Mapping[str, Any], f: Fmt, default_unit: str = "DAY") -> Line:
    if v.get("interval") in (None, ""):
        return ()
    return f.labelled("widget.duration", f.s(format_interval(v.get("interval"), v.get("unit") or default_unit,
                                                             f.locale)))


def _object(w: Widget) -> Mapping[str, Any]:
    if not isinstance(w.value, Mapping):
        raise TypeError(f"{w.type} value is not an object")
    return w.value


def named_span(w: Widget, f: Fmt) -> Row:
    """leaveGroup/leaveGroupV2 and workGroup (overtime): name, start – end, duration (+ unit), reason."""
    v = _object(w)
    return _row(w, f, [
        (f.s(plain_value(v.get("name"))),),
        (f.s(_span(v.get("start"), v.get("end"))),),
        _duration(v, f),
        _reason(v, f),
    ])


def remedy(w: Widget, f: Fmt) -> Row:
    """remedyGroup: the punch time to correct, and why."""
    v = _object(w)
    return _row(w, f, [f.labelled("widget.time", f.s(format_rfc3339(v.get("time")))), _reason(v, f)])


_REMEDY_V2_TIME_KEYS = ("time", "remedyTime", "remedy_time", "punchTime", "punch_time", "date")


def remedy_v2(w: Widget, f: Fmt) -> Row:
    """remedyGroupV2 (shape undocumented): time and reason when found, every other key as ``key: value``."""
    v = _object(w)
    lines: list[Line] = []
    time_key = next((k for k in _REMEDY_V2_TIME_KEYS if v.get(k)), None)
    if time_key:
        lines.append(f.labelled("widget.time", f.s(format_when(v[time_key], f.tz))))
    for key, value in list(v.items())[: f.max_items]:
        if key in (time_key, "reason") or value in (None, "", [], {}):
            continue
        shown = format_when(value, f.tz) if isinstance(value, str) else plain_value(value)
        lines.append((f.s(key), f.t("sep.colon"), f.s(shown)))
    lines.append(_reason(v, f))
    return _row(w, f, lines)


def shift(w: Widget, f: Fmt) -> Row:
    """shiftGroup: the shift's time, the return time, the reason."""
    v = _object(w)
    return _row(w, f, [
        f.labelled("widget.shift_time", f.s(format_rfc3339(v.get("shiftTime")))),
        f.labelled("widget.return_time", f.s(format_rfc3339(v.get("returnTime")))),
        _reason(v, f),
    ])


def out(w: Widget, f: Fmt) -> Row:
    """outGroup: start – end, duration, reason."""
    v = _object(w)
    return _row(w, f, [(f.s(_span(v.get("start"), v.get("end"))),), _duration(v, f), _reason(v, f)])


def _leg(i: int, leg: Any, f: Fmt) -> Line:
    if not isinstance(leg, Mapping):
        return (f.t("widget.leg", n=i), f.t("sep.colon"), f.s(compact_json(leg)))
    bits = [
        _span(leg.get("start"), leg.get("end")),
        f"{address_text(leg.get('departure'))} → {address_text(leg.get('destination'))}",
        plain_value(leg.get("transportation")),
        plain_value(leg.get("oneRound")),
        format_interval(leg.get("interval"), leg.get("unit"), f.locale) if leg.get("interval") else "",
        plain_value(leg.get("remark")),
    ]
    return (f.t("widget.leg", n=i), f.t("sep.colon"), f.s(" · ".join(b for b in bits if b.strip())))


def address_text(value: Any) -> str:
    parts = value if isinstance(value, list | tuple) else str(value or "").split("/")
    return " / ".join(p for p in (plain_value(x).strip() for x in parts) if p)


def trip(w: Widget, f: Fmt) -> Row:
    """tripGroup: each leg (start – end, departure → destination, transport, one-way/round, remark), the total
    duration, the reason and the people travelling along (ids → names)."""
    v = _object(w)
    legs, more = _cut(_listed(v.get("schedule")), f)
    peers, more_peers = _cut([f.names.get(str(p)) or str(p) for p in _listed(v.get("peer"))], f)
    peers_text = ", ".join(peers) + (f" {f.t('truncated.more', n=more_peers)}" if more_peers else "")
    lines: list[Line] = [_leg(i + 1, leg, f) for i, leg in enumerate(legs)]
    if more:
        lines.append((f.t("truncated.more", n=more),))
    lines += [
        f.labelled("widget.total", f.s(format_interval(v.get("interval"), v.get("unit"), f.locale)))
        if v.get("interval") not in (None, "") else (),
        _reason(v, f),
        f.labelled("widget.peers", f.s(peers_text)) if peers else (),
    ]
    return _row(w, f, lines)


def field_list(w: Widget, f: Fmt) -> Row:
    """fieldList: a list of rows of widgets → one numbered line per row, ``label: value · label: value``."""
    rows = w.value
    if not isinstance(rows, list) or f.depth >= MAX_DEPTH:
        raise TypeError("fieldList value is not a list of rows")
    shown, more = _cut(rows, f)
    inner = replace(f, depth=f.depth + 1)
    lines = []
    for i, cells in enumerate(shown, start=1):
        widgets, cut_cells = _cut(parse_form(cells if isinstance(cells, list) else [cells]), f)
        line: list[Part] = [f"{i}. "]
        for j, cell in enumerate(widgets):
            line += [" · "] if j else []
            line += _inline(row_for(cell, inner), inner)
        if cut_cells:
            line += [" · ", f.t("truncated.more", n=cut_cells)]
        lines.append(tuple(line))
    return _row(w, f, lines, more)


def _inline(row: Row, f: Fmt) -> list[Part]:
    """A cell of a fieldList on one line: ``label: line / line``."""
    parts: list[Part] = [row.label, f.t("sep.colon")] if row.label else []
    for k, line in enumerate(row.lines):
        parts += [" / "] if k else []
        parts += [p if isinstance(p, Link) else one_line(p) for p in line]
    if row.more:
        parts += [" ", f.t("truncated.more", n=row.more)]
    return parts


def unknown(w: Widget, f: Fmt) -> Row:
    """A type this bot does not know (or a value not shaped as documented): name + compact JSON, never dropped."""
    return Row(label_of(w, f), ((f"{f.s(w.type)}: " if w.type else "", compact_json(w.value, min(200, f.max_text))),))


FORMATTERS: Mapping[str, Callable[[Widget, Fmt], Row]] = {
    "input": text_widget,
    "textarea": textarea,
    "number": number,
    "formula": number,
    "amount": amount,
    "date": date,
    "dateInterval": date_interval,
    "radio": choice,
    "radioV2": choice,
    "checkbox": choice,
    "checkboxV2": choice,
    "contact": contact,
    "department": department,
    "connect": connect,
    "document": document,
    "attachment": attachment,
    "attachmentV2": attachment,
    "image": attachment,
    "imageV2": attachment,
    "fieldList": field_list,
    "telephone": telephone,
    "address": address,
    "leaveGroup": named_span,
    "leaveGroupV2": named_span,
    "widgetLeaveGroupV2": named_span,
    "remedyGroup": remedy,
    "remedyGroupV2": remedy_v2,
    "shiftGroup": shift,
    "workGroup": named_span,
    "tripGroup": trip,
    "outGroup": out,
}


def row_for(w: Widget, f: Fmt) -> Row:
    """The row for one widget; a value of an unexpected shape falls back to :func:`unknown`, never raises."""
    formatter = FORMATTERS.get(w.type, unknown)
    try:
        return formatter(w, f)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, InvalidOperation, RecursionError):
        return unknown(w, f)


def rows_for(form: Sequence[Widget], f: Fmt, limit: int) -> tuple[list[Row], int]:
    """The first `limit` widgets as rows, and how many were left out."""
    return [row_for(w, f) for w in form[:limit]], max(len(form) - limit, 0)


def key_line(form: Sequence[Widget], f: Fmt) -> Line:
    """The attendance widget's first two lines on one line (a pending-list summary), or nothing."""
    for w in form:
        if w.type in WIDGET_TYPES:
            row = row_for(w, f)
            parts: list[Part] = []
            for k, line in enumerate(row.lines[:2]):
                parts += [" · "] if k else []
                parts += [p if isinstance(p, Link) else one_line(p) for p in line]
            return tuple(parts)
    return ()
