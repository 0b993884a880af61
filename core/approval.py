"""An approval instance as the bot sees it: a pure, typed reading of the v4 instance lookup (seed 004).

No I/O. `from_instance` takes the `data` object of `GET /open-apis/approval/v4/instances/{id}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from core.attendance import AttendanceRecord
from core.rules import WIDGET_TYPES, ApprovalType, InstanceStatus, Kind, Roles

DEFAULT_ATTENDANCE_ID_FIELD = "attendance_approval_id"
# Feishu's page "Open Feishu Approval" (applink protocol, docs/feishu.md): the approval app's id per brand, and the
# instance detail page's path on mobile and on PC; every query value is URL-encoded (the AppLink structure page).
APPLINK_MINI_PROGRAM = "https://applink.feishu.cn/client/mini_program/open"
APPROVAL_APP_IDS = {"feishu": "cli_9cb844403dbb9108", "lark": "cli_9c7cc8a9a9edd105"}
DETAIL_PATHS = {"mobile": "pages/detail/index?instanceId={code}", "pc": "pc/pages/in-process/index?instanceId={code}"}


@dataclass(frozen=True)
class Widget:
    id: str
    name: str
    type: str
    value: Any = None
    custom_id: str = ""
    ext: Any = None
    open_ids: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Task:
    id: str
    user_id: str
    open_id: str
    status: str
    node_name: str = ""
    start_time: int = 0  # ms
    end_time: int = 0  # ms


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    create_time: int  # ms
    user_id: str = ""
    open_id: str = ""
    comment: str = ""
    task_id: str = ""
    user_id_list: tuple[str, ...] = ()
    open_id_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attachment:
    title: str
    url: str
    type: str = ""
    size: int = 0


@dataclass(frozen=True)
class Comment:
    id: str
    comment: str
    create_time: int  # ms
    user_id: str = ""
    open_id: str = ""
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Approval:
    instance_code: str
    approval_name: str
    approval_code: str
    serial_number: str
    status: InstanceStatus
    raw_status: str
    user_id: str
    open_id: str
    department_id: str
    start_time: int  # ms
    end_time: int  # ms
    form: tuple[Widget, ...]
    tasks: tuple[Task, ...]
    timeline: tuple[TimelineEntry, ...]
    comments: tuple[Comment, ...]
    approval_type: ApprovalType | None
    attendance_id: str  # a linked instance's attendance record id (what approval_infos/process acts on), or ""
    from_record: bool = False  # a linked approval whose status is already its attendance record's (DESIGN.md)
    # An attendance record standing alone (no instance, DESIGN.md "Where an approval lives"): the record, and
    # who may decide on it (the requester's leader and the main leaders of the requester's departments).
    record: AttendanceRecord | None = field(default=None, compare=False)
    deciders: frozenset[str] = frozenset()

    @property
    def kind(self) -> Kind:
        if self.record is not None:
            return Kind.ATTENDANCE
        return Kind.LINKED if self.attendance_id else Kind.NATIVE

    @property
    def own_serial(self) -> str:
        """The serial number a card shows and people type back, when it is not the instance code itself."""
        return self.serial_number if self.serial_number != self.instance_code else ""

    def pending_task_of(self, ids: frozenset[str]) -> Task | None:
        """The PENDING task this person holds, if any: the only one the bot may act on, as them."""
        return next((t for t in self.tasks if t.status.upper() == "PENDING" and ids & {t.open_id, t.user_id} - {""}),
                    None)

    @property
    def requester_ids(self) -> frozenset[str]:
        return frozenset(i for i in (self.user_id, self.open_id) if i)

    def participants(self) -> frozenset[str]:
        """Everyone the approval names: requester, approvers (any task), and the people of its timeline."""
        ids = set(self.requester_ids)
        for task in self.tasks:
            ids.update(i for i in (task.open_id, task.user_id) if i)
        for entry in self.timeline:
            ids.update(i for i in (entry.open_id, entry.user_id, *entry.open_id_list, *entry.user_id_list) if i)
        ids.update(self.deciders)
        return frozenset(ids)

    def roles(self) -> Roles:
        pending = frozenset(
            i for t in self.tasks if t.status.upper() == "PENDING" for i in (t.user_id, t.open_id) if i
        )
        passed = frozenset(
            i for e in self.timeline if e.type.upper() == "PASS" for i in (e.user_id, e.open_id) if i
        )
        if self.record is not None:  # a record's leaders decide it and may revoke it (seed 000 has no tasks)
            pending, passed = pending | self.deciders, passed | self.deciders
        return Roles(requester=self.requester_ids, pending_approvers=pending, passed_by=passed)


def detail_links(instance_code: str, base_url: str) -> dict[str, str] | None:
    """The AppLinks that open this instance in Feishu Approval ({"pc", "mobile"}), for the brand of the Open API
    origin `base_url` (Lark for open.larksuite.com, else Feishu); None without an instance code."""
    if not instance_code:
        return None
    brand = "lark" if "larksuite" in base_url.lower() else "feishu"
    app = APPROVAL_APP_IDS[brand]
    return {device: f"{APPLINK_MINI_PROGRAM}?appId={app}&path={quote(path.format(code=instance_code), safe='')}"
            for device, path in DETAIL_PATHS.items()}


class InstanceFormatError(ValueError):
    """The instance lookup answered something we cannot read."""


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _ms(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(_str(v) for v in value if v is not None)
    return ()


def _cc(entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Whom a CC entry copied, from `cc_user_list` when the id lists are empty (instance GET gives both)."""
    listed = entry.get("cc_user_list")
    if not isinstance(listed, list):
        return ()
    return tuple(_str(c.get(key)) for c in listed if isinstance(c, Mapping) and c.get(key))


def parse_form(form: Any) -> tuple[Widget, ...]:
    """`form` is a JSON string holding a list of widgets (seed 004); a list is accepted too."""
    if form in (None, ""):
        return ()
    if isinstance(form, str):
        try:
            form = json.loads(form)
        except ValueError as exc:
            raise InstanceFormatError("form is not JSON") from exc
    if not isinstance(form, list):
        raise InstanceFormatError("form is not a list of widgets")
    return tuple(_widget(w) for w in form if isinstance(w, Mapping))


def _widget(w: Mapping[str, Any]) -> Widget:
    return Widget(
        id=_str(w.get("id")),
        name=_str(w.get("name")),
        type=_str(w.get("type")),
        value=w.get("value"),
        custom_id=_str(w.get("custom_id")),
        ext=w.get("ext"),
        open_ids=_strings(w.get("open_ids")),
        raw=dict(w),
    )


def approval_type_of(form: tuple[Widget, ...]) -> ApprovalType | None:
    for widget in form:
        found = WIDGET_TYPES.get(widget.type)
        if found is not None:
            return found
    return None


def attendance_id_of(form: tuple[Widget, ...], field_id: str) -> str:
    """The attendance record id a linked instance's form names ("" for a native one). Attendance ids are numbers;
    no instance code is ever sent to attendance (DESIGN.md, "Where an approval lives")."""
    for widget in form:
        if field_id and widget.custom_id == field_id:
            value = _str(widget.value).strip()
            return value if value.isdigit() and value.isascii() else ""
    return ""


def from_instance(
    data: Mapping[str, Any], instance_id: str = "", attendance_id_field: str = DEFAULT_ATTENDANCE_ID_FIELD
) -> Approval:
    if not isinstance(data, Mapping):
        raise InstanceFormatError("instance data is not an object")
    form = parse_form(data.get("form"))
    code = _str(data.get("instance_code")) or instance_id
    raw_status = _str(data.get("status"))
    if data.get("reverted") is True and raw_status.upper() == "APPROVED":
        raw_status = "REVERTED"  # instance GET says a reverted approval is APPROVED with `reverted: true`
    return Approval(
        instance_code=code,
        approval_name=_str(data.get("approval_name")),
        approval_code=_str(data.get("approval_code")),
        serial_number=_str(data.get("serial_number")),
        status=InstanceStatus.parse(raw_status),
        raw_status=raw_status,
        user_id=_str(data.get("user_id")),
        open_id=_str(data.get("open_id")),
        department_id=_str(data.get("department_id")),
        start_time=_ms(data.get("start_time")),
        end_time=_ms(data.get("end_time")),
        form=form,
        tasks=tuple(
            Task(
                id=_str(t.get("id")),
                user_id=_str(t.get("user_id")),
                open_id=_str(t.get("open_id")),
                status=_str(t.get("status")),
                node_name=_str(t.get("node_name")),
                start_time=_ms(t.get("start_time")),
                end_time=_ms(t.get("end_time")),
            )
            for t in data.get("task_list") or ()
            if isinstance(t, Mapping)
        ),
        timeline=tuple(
            sorted(
                (
                    TimelineEntry(
                        type=_str(e.get("type")),
                        create_time=_ms(e.get("create_time")),
                        user_id=_str(e.get("user_id")),
                        open_id=_str(e.get("open_id")),
                        comment=_str(e.get("comment")),
                        task_id=_str(e.get("task_id")),
                        user_id_list=_strings(e.get("user_id_list")) or _cc(e, "user_id"),
                        open_id_list=_strings(e.get("open_id_list")) or _cc(e, "open_id"),
                    )
                    for e in data.get("timeline") or ()
                    if isinstance(e, Mapping)
                ),
                key=lambda e: e.create_time,
            )
        ),
        comments=tuple(
            sorted(
                (
                    Comment(
                        id=_str(c.get("id")),
                        comment=_str(c.get("comment")),
                        create_time=_ms(c.get("create_time")),
                        user_id=_str(c.get("user_id")),
                        open_id=_str(c.get("open_id")),
                        files=tuple(
                            Attachment(
                                title=_str(f.get("title")),
                                url=_str(f.get("url")),
                                type=_str(f.get("type")),
                                size=_ms(f.get("file_size")),
                            )
                            for f in c.get("files") or ()
                            if isinstance(f, Mapping)
                        ),
                    )
                    for c in data.get("comment_list") or ()
                    if isinstance(c, Mapping)
                ),
                key=lambda c: c.create_time,
            )
        ),
        approval_type=approval_type_of(form),
        attendance_id=attendance_id_of(form, attendance_id_field),
    )


def from_record(record: AttendanceRecord, open_id: str = "", deciders: frozenset[str] = frozenset()) -> Approval:
    """An attendance record as an approval of kind ATTENDANCE: its id is the record's `approval_id`, its state
    the record's status, its requester the record's employee (`open_id` when contact told it)."""
    return Approval(
        instance_code=record.approval_id, approval_name="", approval_code="", serial_number="",
        status=record.state, raw_status=str(record.status), user_id=record.employee_id, open_id=open_id,
        department_id="", start_time=0, end_time=0, form=(), tasks=(), timeline=(), comments=(),
        approval_type=record.approval_type, attendance_id=record.approval_id, record=record,
        deciders=frozenset(d for d in deciders if d),
    )
