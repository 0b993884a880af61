"""View models: what each card shows, as plain data for its template.

One builder per card name. Each takes the locale, a :class:`Budget` (how much of each list and text to show)
and the card's context, and returns a mapping the template lays out. Builders clip every piece of user text
to the budget; escaping for markdown happens in the template filters (``md``, ``md_line``, ``md_row``).
`cards.render` walks a ladder of ever smaller budgets until the card fits Feishu's limits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cards.environment import LOCALES, Line, Link, Part, Row, catalogue, clip, localize, safe_url, text
from cards.widgets import DEFAULT_TZ, Fmt, format_ms, key_line, rows_for
from core.approval import Approval
from core.rules import Action, ApprovalType, InstanceStatus

CARD_VERSION = 2  # 2: the kinds of approval (native buttons act on tasks); older cards are shown anew


@dataclass(frozen=True)
class Budget:
    rows: int  # form widgets, timeline entries, comments, records, results, commands
    items: int  # entries inside one widget list; pending-list items
    text: int  # characters of one piece of user text


# Tried in order; the last one keeps every card small whatever the input (every list and text is bounded).
LADDER: tuple[Budget, ...] = (
    Budget(rows=40, items=20, text=400),
    Budget(rows=20, items=10, text=160),
    Budget(rows=10, items=5, text=80),
    Budget(rows=5, items=3, text=40),
    Budget(rows=2, items=1, text=20),
)

_STATE_COLOURS: Mapping[InstanceStatus, tuple[str, str]] = {
    InstanceStatus.PENDING: ("orange", "orange"),
    InstanceStatus.APPROVED: ("green", "green"),
    InstanceStatus.REJECTED: ("red", "red"),
    InstanceStatus.REVERTED: ("grey", "neutral"),
    InstanceStatus.CANCELED: ("grey", "neutral"),
    InstanceStatus.DELETED: ("grey", "neutral"),
    InstanceStatus.UNKNOWN: ("grey", "neutral"),
}
_AFTER: Mapping[str, InstanceStatus] = {
    "approve": InstanceStatus.APPROVED,
    "reject": InstanceStatus.REJECTED,
    "revoke": InstanceStatus.REVERTED,
}
_OUTCOME_KEYS: Mapping[str, str] = {"approve": "outcome.approved", "reject": "outcome.rejected",
                                    "revoke": "outcome.revoked"}
_TONES: Mapping[str, str] = {"info": "blue", "success": "green", "warning": "orange", "error": "red"}
_CONFIRMED = frozenset({Action.REJECT, Action.REVOKE})
_FEISHU_ID = re.compile(r"o[nu]_[0-9a-f]{8,64}")  # open_id / union_id: never shown as a person's name


def button_value(action: str, approval_id: str, approval_type: str) -> dict[str, Any]:
    """The one shape of a button's callback value (docs/architecture.md): what the bot needs to act, nothing more."""
    return {"action": action, "approval_id": approval_id, "approval_type": approval_type, "v": CARD_VERSION}


class _View:
    """Helpers shared by the builders: texts in one locale, user text clipped to one budget."""

    def __init__(self, locale: str, budget: Budget, names: Mapping[str, str] | None = None,
                 tz: str | None = None) -> None:
        self.locale = locale
        self.budget = budget
        self.names = dict(names or {})
        self.tz = tz or DEFAULT_TZ
        self.fmt = Fmt(locale, self.names, self.tz, budget.items, budget.text)

    def t(self, key: str, **params: Any) -> str:
        return text(key, self.locale, **params)

    def has(self, key: str) -> bool:
        return key in catalogue(self.locale)

    def s(self, value: Any) -> str:
        """One line of text (user text, or a :class:`cards.Msg` worded in this locale), clipped."""
        return clip(localize(value, self.locale), self.budget.text, line=True)

    def block(self, value: Any) -> str:
        """Multi-line text (a notice): lines kept, the whole clipped."""
        return clip(localize(value, self.locale), self.budget.text * 2)

    def name(self, *ids: str) -> str:
        """The person's name from the view context; "Someone (name not visible)" rather than a raw id."""
        for ident in ids:
            if ident and self.names.get(ident):
                return self.s(self.names[ident])
        return self.t("names.someone") if any(ids) else ""

    def operator(self, value: Any) -> str:
        """Who acted, as the handlers give it: a name, or an id when the contact API had none. A Feishu open or
        union id (ou_…, on_…) is no name: it reads "Someone (…)"; a name that happens to be in `names` as an
        id is resolved."""
        shown = self.s(value)
        if self.names.get(shown):
            return self.s(self.names[shown])
        return self.t("names.someone") if _FEISHU_ID.fullmatch(shown) else shown

    def known_name(self, *ids: str) -> str:
        return next((self.s(self.names[i]) for i in ids if i and self.names.get(i)), "")

    def tn(self, key: str, count: int, **params: Any) -> str:
        return self.fmt.tn(key, count, **params)

    def when(self, ms: Any) -> str:
        return format_ms(ms, self.tz)

    def type_text(self, approval_type: Any) -> str:
        value = getattr(approval_type, "value", approval_type)
        if not value:
            return self.t("type.none")
        try:
            return self.t(f"type.{value}")
        except KeyError:
            return self.s(value)

    def status_text(self, status: InstanceStatus) -> str:
        return self.t(f"status.{status.value}")

    def button(self, action: Action, approval_id: str, approval_type: str, *, submit: bool = False,
               name: str = "") -> dict[str, Any]:
        confirm = None
        if action in _CONFIRMED:
            confirm = {"title": self.t(f"confirm.{action.value}.title"),
                       "text": self.t(f"confirm.{action.value}.text")}
        return {
            "label": self.t(f"button.{action.value}"),
            "kind": {"approve": "primary"}.get(action.value, "danger"),
            "name": name,
            "submit": submit,
            "confirm": confirm,
            "value": button_value(action.value, approval_id, approval_type),
        }

    def open_link(self, link: Mapping[str, Any] | None, label_key: str = "button.open") -> dict[str, Any] | None:
        """An "Open in Feishu" button: only http(s) URLs, pc/mobile each falling back to the other."""
        if not isinstance(link, Mapping):
            return None
        pc, mobile = safe_url(link.get("pc")), safe_url(link.get("mobile"))
        default = pc or mobile
        if default is None:
            return None
        return {"label": self.t(label_key),
                "behavior": {"type": "open_url", "default_url": default, "pc_url": pc or default,
                             "android_url": mobile or default, "ios_url": mobile or default}}

    def form(self, actions: Sequence[Action], buttons: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The action buttons, in a form with a text box only when an action takes text: the reason of a reject,
        the optional comment of an approve. A revoke-only card asks for nothing it would not use."""
        if not buttons:
            return None
        if Action.REJECT in actions:
            placeholder = "form.reason_placeholder" if Action.APPROVE in actions else "form.reason_only_placeholder"
        elif Action.APPROVE in actions:
            placeholder = "form.comment_placeholder"
        else:
            return {"buttons": [{**b, "submit": False, "name": ""} for b in buttons], "placeholder": None}
        return {"buttons": buttons, "placeholder": self.t(placeholder)}

    def outcome_lines(self, outcome: Mapping[str, Any] | None) -> list[str]:
        if not outcome:
            return []
        lines = [self.t(_OUTCOME_KEYS[str(outcome["action"])], name=self.operator(outcome.get("operator") or ""),
                        time=self.when(outcome.get("at_ms")))]
        if outcome.get("reason"):
            lines.append(self.t("outcome.reason", reason=self.s(outcome["reason"])))
        return lines

    def header(self, title: str, subtitle: str, template: str, tags: Sequence[tuple[str, str]] = ()) -> dict:
        return {"title": title, "subtitle": subtitle, "template": template,
                "tags": [{"text": t, "color": c} for t, c in tags[:3]]}


def _actions(actions: Sequence[Any]) -> list[Action]:
    return [Action(getattr(a, "value", a)) for a in actions]


# --- approval ----------------------------------------------------------------------------------------------------


def approval_view(
    locale: str,
    budget: Budget,
    *,
    approval: Approval,
    actions: Sequence[Action] = (),
    names: Mapping[str, str] | None = None,
    tz: str = DEFAULT_TZ,
    link: Mapping[str, Any] | None = None,
    outcome: Mapping[str, Any] | None = None,
    notice: Any = None,
    processing: bool = False,
    shared: bool = False,
) -> dict[str, Any]:
    """The instance card. After an action (`outcome`) the header shows the state it led to and no buttons.

    `names` maps user ids, open ids and department ids to names (the handlers look them up); who has no name
    there reads "Someone (name not visible)", never an id. A `shared` card (a group's) says whose turn it is.
    """
    v = _View(locale, budget, names, tz)
    status = _AFTER[str(outcome["action"])] if outcome else approval.status
    title = v.s(approval.approval_name) or v.t("title.approval")
    requester = v.name(approval.open_id, approval.user_id)
    approval_type = approval.approval_type.value if approval.approval_type else ""

    rows, cut = rows_for(approval.form, v.fmt, budget.rows)
    open_button = v.open_link(link)
    more: Line = ()
    if cut:  # "… and N more · open the full approval"
        more = (v.t("truncated.more", n=cut),)
        if open_button:
            more += (" · ", Link(v.t("truncated.open_full"), open_button["behavior"]["default_url"]))

    shown_actions = [] if outcome else _actions(actions)
    buttons = [v.button(a, approval.instance_code, approval_type, submit=True, name=f"btn_{a.value}")
               for a in shown_actions]
    department = v.known_name(approval.department_id)
    return {
        "summary": f"{title} · {v.status_text(status)}",
        "header": _approval_header(v, approval, status, title, requester, processing),
        "notice": v.block(notice) if notice is not None else None,
        "outcome": v.outcome_lines(outcome),
        "info_left": [Row(v.t("label.requester"), ((" · ".join(p for p in (requester, department) if p),),)),
                      Row(v.t("label.submitted"), ((v.when(approval.start_time) or "—",),))],
        "info_right": [Row(v.t("label.type"), ((v.type_text(approval.approval_type),),)),
                       Row(v.t("label.status"), ((v.status_text(status),),))],
        "waiting": _waiting(v, approval, status, outcome) if shared else None,
        "acts_on": (v.t("label.acts_on", id=v.s(approval.attendance_id))
                    if approval.attendance_id else None),  # linked approvals only
        # the serial is the id people read off the card: say that commands take it
        "id_hint": v.t("label.id_hint", serial=v.s(approval.serial_number)) if approval.serial_number else None,
        "rows": rows,
        "more": more,
        "timeline": _timeline(v, approval, outcome),
        "comments": _comments(v, approval),
        "form": v.form(shown_actions, buttons),
        "open": open_button,
    }


def _approval_header(v: _View, approval: Approval, status: InstanceStatus, title: str, requester: str,
                     processing: bool) -> dict[str, Any]:
    """Colour and tags by state; no attendance widget, or a state the bot cannot act in, reads "Read-only"."""
    template, colour = _STATE_COLOURS[status]
    tags = [(v.status_text(status), colour)]
    if approval.approval_type is None or status in (InstanceStatus.CANCELED, InstanceStatus.DELETED,
                                                    InstanceStatus.UNKNOWN):
        tags.append((v.t("state.read_only"), "neutral"))
        template = "grey"
    if processing:
        tags.append((v.t("state.processing"), "wathet"))
    serial = v.t("label.serial", serial=v.s(approval.serial_number)) if approval.serial_number else ""
    subtitle = " · ".join(p for p in (requester, serial) if p)
    return v.header(title, subtitle, template, tags)


def _waiting(v: _View, approval: Approval, status: InstanceStatus, outcome: Mapping[str, Any] | None) -> str | None:
    """Who may act now (the holders of a PENDING task): a card seen by a group says whose turn it is."""
    if outcome or status is not InstanceStatus.PENDING:
        return None
    holders = [(t.open_id, t.user_id) for t in approval.tasks if t.status.upper() == "PENDING"]
    if not holders:
        return None
    return v.t("label.waiting_for", names=v.fmt.people(holders))


_NO_TARGETS = frozenset({"PASS", "REJECT", "START", "AUTO_PASS", "AUTO_REJECT"})
_REVOKES = frozenset({"REVERT", "REVERTED"})


_TIMELINE_KIND = {"approve": "PASS", "reject": "REJECT", "revoke": "REVERT"}
_SAME_DECISION_MS = 60_000  # Feishu's own entry for the bot's decision is within a minute of it


def _timeline(v: _View, approval: Approval, outcome: Mapping[str, Any] | None = None) -> Row | None:
    entries = approval.timeline
    decided = _decision_line(v, approval, outcome)
    if not entries and decided is None:
        return None
    shown = entries[-v.budget.rows:]
    lines = [_timeline_line(v, e, outcome) for e in shown]
    if decided is not None:
        lines.append(decided)
    return Row(v.t("label.timeline"), tuple(lines), len(entries) - len(shown), more_first=True)


def _decision_line(v: _View, approval: Approval, outcome: Mapping[str, Any] | None) -> Line | None:
    """The bot's decision with its reason, as the newest timeline entry, unless Feishu already records it
    (attendance `process` leaves the instance's timeline as it was)."""
    if not outcome or str(outcome.get("action")) not in _TIMELINE_KIND:
        return None
    kind, at_ms = _TIMELINE_KIND[str(outcome["action"])], int(outcome.get("at_ms") or 0)
    for e in approval.timeline:
        if e.type.upper() in (kind, "REVERTED") and int(e.create_time or 0) >= at_ms - _SAME_DECISION_MS:
            return None
    line: list[Part] = [v.when(at_ms), " · "]
    who = v.operator(outcome.get("operator") or "")
    if who:
        line += [who, " · "]
    line.append(v.t(f"timeline.{kind}"))
    if outcome.get("reason"):
        line += [v.t("sep.colon"), v.s(outcome["reason"])]
    return tuple(line)


def _timeline_line(v: _View, e: Any, outcome: Mapping[str, Any] | None) -> Line:
    kind = e.type.upper()
    who = v.name(e.open_id, e.user_id)
    if not who and kind in _REVOKES and outcome and outcome.get("action") == "revoke":
        who = v.operator(outcome.get("operator") or "")  # attendance names no revoker; the bot knows its own
    # with no one to name, some entries read better as a sentence of their own ("Revoked in Feishu Attendance")
    keys = [f"timeline.{kind}"] if who else [f"timeline_unattributed.{kind}", f"timeline.{kind}"]
    what = next((v.t(k) for k in keys if v.has(k)), v.s(e.type))
    line: list[Part] = [v.when(e.create_time), " · "]
    if who:
        line += [who, " · "]
    line.append(what)
    if kind not in _NO_TARGETS:
        pairs = list(itertools.zip_longest(e.open_id_list, e.user_id_list, fillvalue=""))
        targets = v.fmt.people(pairs)
        if targets:
            line += [" → ", targets]
    if e.comment:
        line += [v.t("sep.colon"), v.s(e.comment)]
    return tuple(line)


def _comments(v: _View, approval: Approval) -> Row | None:
    comments = approval.comments
    if not comments:
        return None
    shown = comments[-v.budget.rows:]
    lines = []
    for c in shown:
        line: list[Part] = [v.when(c.create_time), " · ", v.name(c.open_id, c.user_id), v.t("sep.colon"),
                            v.s(c.comment)]
        for f in c.files[: v.budget.items]:
            line += [" · ", Link(v.s(f.title) or v.t("widget.file", n=1), f.url)]
        if len(c.files) > v.budget.items:
            line += [" ", v.t("truncated.more", n=len(c.files) - v.budget.items)]
        lines.append(tuple(line))
    return Row(v.t("label.comments"), tuple(lines), len(comments) - len(shown), more_first=True)


# --- attendance_only ---------------------------------------------------------------------------------------------


def attendance_only_view(
    locale: str,
    budget: Budget,
    *,
    approval_id: str,
    approval_type: str | None = None,
    actions: Sequence[Action] = (),
    outcome: Mapping[str, Any] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    v = _View(locale, budget)
    type_value = getattr(approval_type, "value", approval_type) or ""
    known_type = type_value in {t.value for t in ApprovalType}
    tags: list[tuple[str, str]] = [(v.type_text(type_value), "blue")] if known_type else []
    template = "orange" if actions else "grey"
    if outcome:
        status = _AFTER[str(outcome["action"])]
        template, colour = _STATE_COLOURS[status]
        tags.append((v.status_text(status), colour))
    ident = v.s(approval_id)
    shown_actions = [] if outcome else _actions(actions)
    buttons = [v.button(a, str(approval_id), type_value if known_type else "", submit=True, name=f"btn_{a.value}")
               for a in shown_actions]
    type_text = v.type_text(type_value) if known_type else v.t("type.unknown")
    # The id is for copying into a command, so it is in the body, labelled; titles and previews stay readable.
    return {
        "summary": f"{v.t('title.attendance_only')} · {type_text}",
        "header": v.header(v.t("title.attendance_only"), "", template, tags),
        "notice": v.block(notice) if notice is not None else None,
        "outcome": v.outcome_lines(outcome),
        "info": [Row(v.t("label.attendance_id"), ((ident,),)), Row(v.t("label.type"), ((type_text,),))],
        "explain": v.t("attendance_only.no_instance"),
        "form": v.form(shown_actions, buttons),
    }


# --- pending_list ------------------------------------------------------------------------------------------------


def pending_list_view(
    locale: str,
    budget: Budget,
    *,
    items: Sequence[Mapping[str, Any]] = (),
    names: Mapping[str, str] | None = None,
    tz: str = DEFAULT_TZ,
    page: int = 1,
    total: int | None = None,
    next_page_token: str | None = None,
    page_token: str = "",
) -> dict[str, Any]:
    """Per item: a summary, "Approve" when the rules allow it, and "Details" (reject needs a reason, which the
    details card asks for). "Approve all shown" when two or more shown items are approvable.

    Every button carries the list's page (`page_token`, `page`) in its value: a click answers with this list
    again, not with one approval's card. An item no longer pending says its state and has no Approve."""
    v = _View(locale, budget, names, tz)
    shown = list(items[: budget.items])
    listed = {"page_token": str(page_token or ""), "page": page}
    entries = [_pending_entry(v, item, listed) for item in shown]
    approvable = [e["approval_id"] for e in entries if e["approvable"]]
    approve_all = None
    if len(approvable) >= 2:
        approve_all = {
            "label": v.t("button.approve_all", n=len(approvable)), "kind": "primary", "name": "", "submit": False,
            "confirm": {"title": v.t("confirm.approve_all.title"),
                        "text": v.t("confirm.approve_all.text", n=len(approvable))},
            "value": {"action": "approve_all", "approval_ids": approvable, "list": listed, "v": CARD_VERSION},
        }
    next_page = None
    if next_page_token:
        next_page = {"label": v.t("button.next_page"), "kind": "default", "name": "", "submit": False,
                     "confirm": None,
                     "value": {"action": "pending_page", "page_token": str(next_page_token), "page": page + 1,
                               "v": CARD_VERSION}}
    count = total if total is not None else len(items)
    subtitle = ""
    if items:  # an empty list has no pages ("page 1 of 0")
        subtitle = (v.t("pending.page_total", page=page, total=total) if total is not None
                    else v.t("pending.page", page=page))
    return {
        "summary": f"{v.t('title.pending')} · {subtitle}" if subtitle else v.t("title.pending"),
        "header": v.header(v.t("title.pending"), subtitle, "blue" if items else "grey",
                           [(v.t("pending.count", n=count), "blue")] if items else []),
        "empty": v.t("pending.empty") if not items else None,
        "entries": entries,
        "more": (v.t("truncated.more", n=len(items) - len(shown)),) if len(items) > len(shown) else (),
        "footer": [b for b in (approve_all, next_page) if b],
    }


def _pending_entry(v: _View, item: Mapping[str, Any], listed: Mapping[str, Any]) -> dict[str, Any]:
    """One item: its title, then only what the title does not already say (requester, type, time), the key
    line of its attendance widget, and its buttons."""
    approval: Approval | None = item.get("approval")
    approval_id = str(item.get("approval_id") or (approval.instance_code if approval else ""))
    approval_type = approval.approval_type.value if approval and approval.approval_type else ""
    definition = v.s(item.get("definition_name") or (approval.approval_name if approval else ""))
    title = v.s(item.get("title")) or definition or v.t("title.approval")
    initiator = v.s(item.get("initiator") or "")  # names from the task query, not ids
    lines: list[Line] = []
    if approval is not None:
        # a resolved name first, then the task query's initiator name
        who = v.known_name(approval.open_id, approval.user_id) or initiator or v.name(approval.open_id,
                                                                                      approval.user_id)
        facts = [definition, who, v.type_text(approval.approval_type), v.when(approval.start_time)]
        lines.append((" · ".join(_not_in(title, facts)),))
        lines.append(key_line(approval.form, v.fmt))
        if approval.status is not InstanceStatus.PENDING:  # handled since the list was made
            lines.append((v.t("pending.item_state", status=v.status_text(approval.status)),))
    else:
        lines.append((" · ".join(_not_in(title, [definition, initiator])),))
        lines.append((v.t("pending.lookup_failed"),))
    link = v.open_link(item.get("link"))
    if link:
        lines.append((Link(v.t("button.open"), link["behavior"]["default_url"]),))
    acts = _actions(item.get("actions") or ())
    buttons = []
    if Action.APPROVE in acts:
        approve = v.button(Action.APPROVE, approval_id, approval_type)
        buttons.append({**approve, "value": {**approve["value"], "list": dict(listed)}})
    buttons.append({"label": v.t("button.details"), "kind": "default", "name": "", "submit": False,
                    "confirm": None, "value": {**button_value("show", approval_id, approval_type),
                                               "list": dict(listed)}})
    return {
        "row": Row(title, tuple(line for line in lines if any(line))),
        "buttons": buttons,
        "approvable": Action.APPROVE in acts,
        "approval_id": approval_id,
    }


def _not_in(title: str, facts: Sequence[str]) -> list[str]:
    """The facts the title does not already state, each once ("补卡申请 · 张三" needs neither again)."""
    seen = title.casefold()
    kept: list[str] = []
    for fact in facts:
        if fact and fact.casefold() not in seen:
            kept.append(fact)
            seen += "\n" + fact.casefold()
    return kept


# --- help, notice, summary, history ------------------------------------------------------------------------------


def help_view(locale: str, budget: Budget, *, commands: Sequence[Mapping[str, Any]] = (),
              notice: str | None = None) -> dict[str, Any]:
    v = _View(locale, budget)
    rows = []
    for c in commands[: budget.rows]:
        alias = f"  (/{v.s(c.get('alias'))})" if c.get("alias") else ""
        rows.append(Row(f"/{v.s(c.get('name'))}{alias}",
                        ((v.t(c["usage_key"]),), (v.t(c["summary_key"]),))))
    return {
        "summary": v.t("title.help"),
        "header": v.header(v.t("title.help"), v.t("help.subtitle"), "blue"),
        "notice": v.block(notice) if notice is not None else None,
        "intro": v.t("help.intro"),
        "ids": v.t("help.ids"),  # which id the commands take
        "rows": rows,
        "more": (v.t("truncated.more", n=len(commands) - len(rows)),) if len(commands) > len(rows) else (),
    }


def notice_view(locale: str, budget: Budget, *, title: Any, text: Any, tone: str = "info",
                log_id: str | None = None) -> dict[str, Any]:
    v = _View(locale, budget)
    shown_title = v.s(title) or v.t("title.notice")
    body = v.block(_without_log_id(localize(text, locale), log_id)) if log_id else v.block(text)
    return {
        "summary": shown_title,
        "header": v.header(shown_title, "", _TONES.get(tone, "blue")),
        "text": body,
        "log_id": v.t("error.log_id", log_id=v.s(log_id)) if log_id else None,
    }


def _without_log_id(message: Any, log_id: str) -> str:
    """An error line that already ends in "Log ID: …" (errors.user_message) loses it: the card shows the log
    id once, on its own line, in the reader's language."""
    out = str(message)
    for loc in LOCALES:
        out = out.replace(text("error.log_id", loc, log_id=log_id), "")
    return out.strip()


_RESULT_COLOURS = (("done", "green"), ("refused", "orange"), ("failed", "red"))


def summary_view(locale: str, budget: Budget, *, results: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One line per approval of a batch: outcome, which approval (its title when known, else its labelled id),
    what happened. Only the outcomes that occurred are counted in the header."""
    v = _View(locale, budget)
    counts = {k: sum(1 for r in results if r.get("outcome") == k) for k, _ in _RESULT_COLOURS}
    tags = [(v.t(f"summary.count.{k}", n=counts[k]), colour) for k, colour in _RESULT_COLOURS if counts[k]]
    template = "red" if counts["failed"] else "orange" if counts["refused"] else "green"
    shown = results[: budget.rows]
    lines = []
    for r in shown:
        try:
            outcome = v.t(f"summary.outcome.{r.get('outcome')}")
        except KeyError:
            outcome = v.s(r.get("outcome"))
        which = v.s(r.get("title")) or v.t("label.approval_id", id=v.s(r.get("approval_id")))
        lines.append((outcome, " · ", which, v.t("sep.colon"), v.s(r.get("text"))))
    return {
        "summary": " · ".join(t for t, _ in tags) or v.t("title.summary"),
        "header": v.header(v.t("title.summary"), v.tn("summary.subtitle", len(results)), template, tags),
        "row": Row("", tuple(lines), len(results) - len(shown)) if results else None,
        "empty": v.t("summary.empty") if not results else None,
    }


def history_view(locale: str, budget: Budget, *, approval_id: str, records: Sequence[Mapping[str, Any]] = (),
                 tz: str = DEFAULT_TZ, title: Any = None) -> dict[str, Any]:
    """The audit trail of one approval, oldest first. `title` (the approval's name) heads it when known; the id
    is in the body, labelled, for copying."""
    v = _View(locale, budget, tz=tz)
    ordered = sorted(records, key=lambda r: int(r.get("at_ms") or 0))
    shown = ordered[-budget.rows:] if ordered else []
    rows = [_history_row(v, r) for r in shown]
    heading = v.t("title.history")
    if v.s(title):
        heading = f"{heading} · {v.s(title)}"
    return {
        "summary": heading,
        "header": v.header(heading, v.tn("history.subtitle", len(records)), "indigo"),
        "approval_id": v.t("label.approval_id", id=v.s(approval_id)),
        "empty": v.t("history.empty") if not records else None,
        "earlier": (v.t("truncated.earlier", n=len(ordered) - len(shown)),) if len(ordered) > len(shown) else (),
        "rows": rows,
    }


def _history_row(v: _View, r: Mapping[str, Any]) -> Row:
    """``Reject: done`` / ``Revoke: failed · code 1220005``, then the reason and the log id."""
    action = str(r.get("action") or "")
    try:
        action_text = v.t(f"button.{action}")
    except KeyError:
        action_text = v.s(action)
    try:
        result = v.t(f"history.result.{r.get('outcome')}", action=action_text)
    except KeyError:
        result = f"{action_text}{v.t('sep.colon')}{v.s(r.get('outcome'))}"
    facts = [result]
    if r.get("code") not in (None, "", 0):
        facts.append(v.t("history.code", code=v.s(r.get("code"))))
    lines: list[Line] = [(" · ".join(facts),)]
    if r.get("reason"):
        lines.append((v.t("outcome.reason", reason=v.s(r["reason"])),))
    if r.get("log_id"):
        lines.append((v.t("error.log_id", log_id=v.s(r["log_id"])),))
    label = " · ".join(p for p in (v.when(r.get("at_ms")), v.operator(r.get("operator"))) if p)
    return Row(label, tuple(lines))


VIEWS: Mapping[str, Callable[..., dict[str, Any]]] = {
    "approval": approval_view,
    "attendance_only": attendance_only_view,
    "pending_list": pending_list_view,
    "help": help_view,
    "notice": notice_view,
    "summary": summary_view,
    "history": history_view,
}
