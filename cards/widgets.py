"""Seed-004 form widgets as card rows: one pure function per widget type.

Each function takes a :class:`core.approval.Widget` and a :class:`Fmt` (locale, names, time zone, limits) and
returns a :class:`Row` of *plain* text and links; escaping happens later, in one place
(:func:`cards.environment.md_row`). Unknown types are never dropped: they show their name and a compact,
clipped JSON value. A known type whose value does not have the documented shape falls back to the same.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cards.environment import Line, Link, Part, Row, clip, localize, one_line, text
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
        """User text (or a :class:`cards.Name`, in this locale), clipped to the budget and kept on one line."""
        return clip(localize(value, self.locale), self.max_text, line=True)

    def name(self, ident: Any) -> str:
        ident = "" if ident is None else str(ident)
        return self.s(self.names.get(ident) or ident)

    def tn(self, key: str, count: int, **params: Any) -> str:
        """A counted text: ``<key>_one`` for exactly one where the catalogue has it ("1 request")."""
        return plural(key, count, self.locale, n=count, **params)

    def people(self, people: Sequence[Sequence[str]], kind: str = "person") -> str:
        """Names for people (each given by its ids, open_id first) or departments (`kind` "department").

        A name the view context does not give is never replaced by its raw id (no one can read an ou_…):
        those are counted instead, "Manager Wang, 2 people whose names the bot cannot see".
        """
        known: list[str] = []
        unknown = 0
        for ids in people:
            name = next((self.names[i] for i in ids if i and self.names.get(i)), "")
            if name:
                known.append(self.s(name))
            elif any(ids):
                unknown += 1
        shown, more = _cut(list(dict.fromkeys(known)), self)
        parts = list(shown)
        if more:
            parts.append(self.t("truncated.more", n=more))
        if unknown:
            parts.append(self.tn(f"names.unknown_{kind}", unknown))
        return ", ".join(parts)

    def labelled(self, key: str, *parts: Part) -> Line:
        return (self.t(key), self.t("sep.colon"), *parts)


def plural(key: str, count: int, locale: str, **params: Any) -> str:
    """`key` with ``{params}``, or ``<key>_one`` when `count` is exactly one and the catalogue has it."""
    if count == 1:
        try:
            return text(f"{key}_one", locale, **params)
        except KeyError:
            pass
    return text(key, locale, **params)


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
    return _local_minute(value, tz) if value > 0 else ""


@functools.lru_cache(maxsize=4096)
def _local_minute(ms: int, tz: str) -> str:
    """Each card shows its times once per locale, a list the same times on every page: made once each."""
    try:
        when = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone(tz))
    except (OverflowError, OSError, ValueError):
        return ""
    return when.strftime("%Y-%m-%d %H:%M")


def parse_rfc3339(value: Any) -> datetime | None:
    """A full RFC3339 timestamp (with a time and an offset), or None."""
    raw = one_line(value) if isinstance(value, str) and len(value) <= 40 else ""
    if not _RFC3339.match(raw) or _DATE_ONLY.match(raw):
        return None
    try:
        when = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


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


# Units as seed 004's widgets name them (DAY/HOUR) and as attendance records number them (1 day, 2 hour,
# 3 half day, 4 half hour).
_UNITS = {"DAY": "day", "1": "day", "HOUR": "hour", "2": "hour", "HALF_DAY": "half_day", "HALFDAY": "half_day",
          "3": "half_day", "HALF_HOUR": "half_hour", "HALFHOUR": "half_hour", "4": "half_hour", "MINUTE": "minute"}
_PLURAL_KEYS = {"day": "days", "hour": "hours", "half_day": "half_days", "minute": "minutes"}
# The unit a widget's interval is in when its value names none: seed 004 gives leave in days; overtime and outings
# are asked for by the hour in Feishu Attendance; the span then corrects a guess it cannot hold (8 days in 8 hours).
_TYPE_UNITS = {"workGroup": "hour", "outGroup": "hour"}
_SLACK_H = 0.01


def format_interval(value: Any, unit: Any, locale: str) -> str:
    """``2 days`` / ``2 天``; ``3 hours`` with unit HOUR; an unknown unit is shown after the number as given."""
    number = format_number(value)
    key = _UNITS.get(str(unit or "DAY").strip().upper())
    if key is None:
        return f"{number} {one_line(unit)}".strip()
    if key == "half_hour":  # "3 half hours" reads oddly: 1.5 hours
        try:
            number, key = format_number(_decimal(value) / 2), "hour"
        except (ValueError, InvalidOperation):
            return f"{number} {one_line(unit)}".strip()
    plural_key = _PLURAL_KEYS[key]
    return text(f"unit.{key if number == '1' else plural_key}", locale, n=number)


def duration_unit(interval: Any, unit: Any, widget_type: str, start: Any = None, end: Any = None) -> Any:
    """The unit of a widget's interval: the value's own `unit` when it has one, else the widget type's, unless
    the span from `start` to `end` cannot hold that many of it (then the other of day and hour)."""
    if unit not in (None, ""):
        return unit
    guess = _TYPE_UNITS.get(widget_type, "day")
    hours = span_hours(start, end)
    try:
        amount = float(_decimal(interval))
    except (ValueError, InvalidOperation):
        return guess.upper()
    if hours is None or _holds(guess, amount, hours):
        return guess.upper()
    other = "day" if guess == "hour" else "hour"
    return (other if _holds(other, amount, hours) else guess).upper()


def _holds(unit: str, amount: float, hours: float) -> bool:
    # A day counts from the start of the first day to the end of the last one: a full-day leave runs from
    # 00:00 of its first day to 00:00 of its last (seed 004: 2019-10-01 to 2019-10-02 is 2 days).
    return amount * 24 <= hours + 24 + _SLACK_H if unit == "day" else amount <= hours + _SLACK_H


def span_hours(start: Any, end: Any) -> float | None:
    a, b = parse_rfc3339(start), parse_rfc3339(end)
    if a is None or b is None or b < a:
        return None
    return (b - a).total_seconds() / 3600


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
    """``2019-10-01 – 2019-10-02`` for whole days, ``2019-10-08 09:00 – 12:00`` within one day."""
    a, b = parse_rfc3339(start), parse_rfc3339(end)
    if a is not None and b is not None and a.utcoffset() == b.utcoffset():
        if a.time() == b.time() == time(0, 0):
            return a.strftime("%Y-%m-%d") if a.date() == b.date() else f"{a:%Y-%m-%d} – {b:%Y-%m-%d}"
        if a.date() == b.date():
            return f"{a:%Y-%m-%d %H:%M} – {b:%H:%M}"
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
        line += [" · ", f.s(_interval_text(v, w.type, f))]
    return _row(w, f, [tuple(line)])


def choice(w: Widget, f: Fmt) -> Row:
    """radio/radioV2 (one option text) and checkbox/checkboxV2 (a list of option texts, joined)."""
    items, more = _cut(_listed(w.value) if isinstance(w.value, list | tuple) else [w.value], f)
    return _row(w, f, [(f.s(", ".join(plain_value(i) for i in items)),)], more)


def contact(w: Widget, f: Fmt) -> Row:
    """contact: user ids (and open ids beside them) → names; people without a known name are counted."""
    user_ids = [str(u) for u in _listed(w.value)]
    open_ids = list(w.open_ids)
    people = [(open_ids[i] if i < len(open_ids) else "", user_ids[i] if i < len(user_ids) else "")
              for i in range(max(len(user_ids), len(open_ids)))]
    return _row(w, f, [(f.people(people),)])


def _department_id(d: Any) -> str:
    if isinstance(d, Mapping):
        return str(d.get("open_id") or d.get("department_id") or d.get("id") or "")
    return str(d)


def department(w: Widget, f: Fmt) -> Row:
    """department: ``[{"open_id": "od-…"}]`` → names; departments without a known name are counted."""
    return _row(w, f, [(f.people([(_department_id(d),) for d in _listed(w.value)], "department"),)])


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


def _interval_text(v: Mapping[str, Any], widget_type: str, f: Fmt) -> str:
    unit = duration_unit(v.get("interval"), v.get("unit"), widget_type, v.get("start"), v.get("end"))
    return format_interval(v.get("interval"), unit, f.locale)


def _duration(v: Mapping[str, Any], f: Fmt, widget_type: str) -> Line:
    if v.get("interval") in (None, ""):
        return ()
    return f.labelled("widget.duration", f.s(_interval_text(v, widget_type, f)))


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
        _duration(v, f, w.type),
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
    return _row(w, f, [(f.s(_span(v.get("start"), v.get("end"))),), _duration(v, f, w.type), _reason(v, f)])


# Trip values as Feishu's form sends them (English in seed 004, Chinese on Chinese tenants) → catalogue keys.
_TRANSPORT = {"airplane": "plane", "plane": "plane", "flight": "plane", "飞机": "plane", "train": "train",
              "火车": "train", "high-speed rail": "high_speed_rail", "high speed rail": "high_speed_rail",
              "高铁": "high_speed_rail", "动车": "high_speed_rail", "car": "car", "汽车": "car", "bus": "bus",
              "大巴": "bus", "ship": "ship", "boat": "ship", "轮船": "ship", "other": "other", "其他": "other"}
_ONE_ROUND = {"one way": "one_way", "oneway": "one_way", "单程": "one_way", "round trip": "round_trip",
              "round": "round_trip", "roundtrip": "round_trip", "往返": "round_trip"}


def _choice_text(value: Any, known: Mapping[str, str], area: str, f: Fmt) -> str:
    """A fixed choice in the reader's language when it is one Feishu offers; else as given."""
    raw = plain_value(value)
    key = known.get(" ".join(raw.lower().split()))
    return f.t(f"{area}.{key}") if key else raw


def _leg(i: int, leg: Any, f: Fmt) -> Line:
    if not isinstance(leg, Mapping):
        return (f.t("widget.leg", n=i), f.t("sep.colon"), f.s(compact_json(leg)))
    interval = leg.get("interval")
    bits = [
        _span(leg.get("start"), leg.get("end")),
        f"{address_text(leg.get('departure'))} → {address_text(leg.get('destination'))}",
        _choice_text(leg.get("transportation"), _TRANSPORT, "transport", f),
        _choice_text(leg.get("oneRound"), _ONE_ROUND, "one_round", f),
        _interval_text(leg, "tripGroup", f) if interval not in (None, "", 0) else "",
        plain_value(leg.get("remark")),
    ]
    return (f.t("widget.leg", n=i), f.t("sep.colon"), f.s(" · ".join(b for b in bits if b.strip())))


def address_text(value: Any) -> str:
    parts = value if isinstance(value, list | tuple) else str(value or "").split("/")
    return " / ".join(p for p in (plain_value(x).strip() for x in parts) if p)


def _trip_total(v: Mapping[str, Any], legs: Sequence[Any], f: Fmt) -> str:
    spans = [leg for leg in legs if isinstance(leg, Mapping)]
    whole = {"interval": v.get("interval"), "unit": v.get("unit"),
             "start": spans[0].get("start") if spans else None, "end": spans[-1].get("end") if spans else None}
    return _interval_text(whole, "tripGroup", f)


def trip(w: Widget, f: Fmt) -> Row:
    """tripGroup: each leg (start – end, departure → destination, transport, one-way/round, remark), the total
    duration, the reason and the people travelling along (user ids → names)."""
    v = _object(w)
    every_leg = _listed(v.get("schedule"))
    legs, more = _cut(every_leg, f)
    peers = f.people([(str(p),) for p in _listed(v.get("peer"))])
    lines: list[Line] = [_leg(i + 1, leg, f) for i, leg in enumerate(legs)]
    if more:
        lines.append((f.t("truncated.more", n=more),))
    lines += [
        f.labelled("widget.total", f.s(_trip_total(v, every_leg, f))) if v.get("interval") not in (None, "") else (),
        _reason(v, f),
        f.labelled("widget.peers", f.s(peers)) if peers else (),
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
        parts += [_flat(p) for p in line]
    if row.more:
        parts += [" ", f.t("truncated.more", n=row.more)]
    return parts


def _flat(part: Part) -> Part:
    """A part of a line put on one line with others: line breaks become spaces, and the spaces of
    separators (": ", " · ") stay, so "Time: 09:02" never reads "Time:09:02"."""
    if isinstance(part, Link):
        return part
    return " ".join(part.splitlines()) if "\n" in part else part


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
                parts += [_flat(p) for p in line]
            return tuple(parts)
    return ()
