"""The sales team's sample world: app, bot, users (manager, manager2, admin, employee, stranger), chats,
departments, native approval instances in the seed-004 shape, and the team's attendance records.

Feishu's two worlds stay apart here as in sandbox/worlds.py (DESIGN.md, "Where an approval lives"): instances
(`INSTANCES`) have UUID codes and move only through the approval v4 task APIs; attendance records (`RECORD_IDS`)
have numeric ids and change only through `approval_infos/process`. Nothing links an instance to a record except
the attendance id a linked instance's form names in its `attendance_approval_id` widget.

Everything here is built fresh by `build_world()` so that `SandboxState.reset()` can go back to the seed without
sharing mutable structures between resets. Instance `form`s are JSON *strings* (as Feishu sends them); times are
RFC3339 with +08:00 inside forms and millisecond timestamps as strings elsewhere.
"""

from __future__ import annotations

import json
import threading
import uuid as uuidlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

from sandbox import records

APP_ID = "cli_sandbox_app"
APP_SECRET = "sandbox-app-secret"  # noqa: S105 - the sandbox's published test secret
TENANT_KEY = "tenant_sandbox"
BOT_OPEN_ID = "ou_bot"
BOT_UNION_ID = "on_bot"
BOT_NAME = "Approval Bot"
BOT_AVATAR = "https://s1-imfile.feishucdn.com/static-resource/v1/sandbox-approval-bot~?image_size=72x72"

CN = timezone(timedelta(hours=8))

ATTENDANCE_FIELD = "attendance_approval_id"
# the attendance id the attendance_field instance's form names; attendance lists no record under it
ATTENDANCE_FIELD_ID = "6737202939523236113"

# Each native sample's own number: its task, comment and serial numbers derive from it (Feishu's are numeric).
_NUMBERS: dict[str, str] = {
    "remedy_pending": "7300491536801234561",
    "remedy_pending_2": "7300491536801234562",
    "remedy_pending_3": "7300491536801234563",
    "remedy_approved": "7300491536801234564",
    "remedy_rejected": "7300491536801234565",
    "remedy_reverted": "7300491536801234566",
    "leave_pending": "7300491536801234571",
    "leave_approved": "7300491536801234572",
    "out_approved": "7300491536801234573",
    "overtime_approved": "7300491536801234574",
    "trip_approved": "7300491536801234575",
    "shift_approved": "7300491536801234576",
    "own_request": "7300491536801234581",
    "every_widget": "7300491536801234591",
    "attendance_field": "7300491536801234592",
}
# built through sandbox.flow by the state (their routes need the whole contact): a two-step purchase and
# linked remedy/leave instances whose forms name the team's attendance records
FLOW_NAMES = ("purchase_two_step", "linked_remedy", "linked_leave")


def instance_code(name: str) -> str:
    """A stable UUID-shaped instance code, upper case like Feishu's."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"sandbox/sales/{name}")).upper()


# name -> instance code (approval v4)
INSTANCES: dict[str, str] = {name: instance_code(name) for name in (*_NUMBERS, *FLOW_NAMES)}
# name -> attendance approval_id (attendance v1): a remedy and a leave with no instance, and the linked ones' records
RECORD_IDS: dict[str, str] = {
    "remedy_pending": "6800000000000000001",
    "leave_approved": "6800000000000000002",
    "remedy_linked": "6800000000000000003",
    "leave_linked": "6800000000000000004",
}

# -- people and places -------------------------------------------------------------------------------------------

_PEOPLE: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    # name, zh, en, department, job title, leader name, employee no
    ("manager", "王经理", "Manager Wang", "od-sales", "销售经理 Sales Manager", "admin", "E10002"),
    ("manager2", "李经理", "Manager Li", "od-rd", "研发经理 R&D Manager", "admin", "E10003"),
    ("admin", "赵管理员", "Admin Zhao", "od-rd", "考勤管理员 Attendance Admin", "", "E10001"),
    ("employee", "张三", "Employee Zhang", "od-sales", "销售代表 Sales Representative", "manager", "E10086"),
    ("stranger", "陌生人", "Stranger Sun", "od-rd", "实习生 Intern", "manager2", "E10999"),
)


def _user(name: str, zh: str, en: str, dept: str | Sequence[str], title: str, leader: str, number: str,
          order: int) -> dict[str, Any]:
    depts = [dept] if isinstance(dept, str) else list(dept)
    return {
        "union_id": f"on_{name}",
        "user_id": f"u_{name}",
        "open_id": f"ou_{name}",
        "name": zh,
        "en_name": en,
        "nickname": en.split()[-1],
        "email": f"{name}@sandbox.example.com",
        "enterprise_email": f"{name}@corp.sandbox.example.com",
        "mobile": f"+86138{order:04d}{order:04d}",
        "mobile_visible": False,
        "gender": 1 if order % 2 else 2,
        "avatar": {
            "avatar_72": f"https://s1-imfile.feishucdn.com/static-resource/v1/avatar-{name}~?image_size=72x72",
            "avatar_240": f"https://s1-imfile.feishucdn.com/static-resource/v1/avatar-{name}~?image_size=240x240",
            "avatar_640": f"https://s1-imfile.feishucdn.com/static-resource/v1/avatar-{name}~?image_size=640x640",
            "avatar_origin": f"https://s1-imfile.feishucdn.com/static-resource/v1/avatar-{name}~?image_size=noop",
        },
        "status": {"is_frozen": False, "is_resigned": False, "is_activated": True, "is_exited": False,
                   "is_unjoin": False},
        "department_ids": depts,
        "leader_user_id": f"u_{leader}" if leader else "",
        "city": "北京 Beijing" if depts[0] == "od-rd" else "上海 Shanghai",
        "country": "CN",
        "work_station": f"A-{order:02d}",
        "join_time": 1609459200 + order * 86400 * 37,
        "is_tenant_manager": name == "admin",
        "employee_no": number,
        "employee_type": 1,
        "orders": [{"department_id": d, "user_order": 0, "department_order": i + 1, "is_primary_dept": i == 0}
                   for i, d in enumerate(depts)],
        "time_zone": "Asia/Shanghai",
        "job_title": title,
    }


def build_users() -> dict[str, dict[str, Any]]:
    return {p[0]: _user(*p, order=i + 1) for i, p in enumerate(_PEOPLE)}


USERS: Mapping[str, Mapping[str, Any]] = build_users()  # read-only reference copy; state holds its own


def build_departments() -> dict[str, dict[str, Any]]:
    return {
        "od-sales": {"open_department_id": "od-sales", "department_id": "d_sales", "name": "销售部",
                     "i18n_name": {"zh_cn": "销售部", "en_us": "Sales"}, "leader_user_id": "u_manager"},
        "od-rd": {"open_department_id": "od-rd", "department_id": "d_rd", "name": "研发部",
                  "i18n_name": {"zh_cn": "研发部", "en_us": "R&D"}, "leader_user_id": "u_manager2"},
    }


GROUP_CHAT = "oc_group_team"


def p2p_chat(name: str) -> str:
    return f"oc_p2p_{name}"


def build_chats() -> dict[str, dict[str, Any]]:
    chats = {
        p2p_chat(p[0]): {"chat_id": p2p_chat(p[0]), "chat_type": "p2p", "name": "",
                         "members": [f"ou_{p[0]}", BOT_OPEN_ID]}
        for p in _PEOPLE
    }
    chats[GROUP_CHAT] = {
        "chat_id": GROUP_CHAT, "chat_type": "group", "name": "考勤审批群 Attendance Team",
        "members": [f"ou_{p[0]}" for p in _PEOPLE] + [BOT_OPEN_ID],
    }
    return chats


def find_user(users: Mapping[str, Mapping[str, Any]], any_id: str) -> Mapping[str, Any] | None:
    """A user by sample name, open_id, user_id, union_id or email."""
    if any_id in users:
        return users[any_id]
    for user in users.values():
        if any_id in (user["open_id"], user["user_id"], user["union_id"], user["email"]):
            return user
    return None


# -- time helpers -------------------------------------------------------------------------------------------------


def rfc3339(day: str, clock: str = "00:00") -> str:
    """`rfc3339("2024-11-18", "09:00")` -> "2024-11-18T09:00:00+08:00"."""
    return f"{day}T{clock}:00+08:00"


def ms(text: str) -> str:
    """An RFC3339 time as a millisecond timestamp string, the way v4 instances carry times."""
    return str(int(datetime.fromisoformat(text).timestamp() * 1000))


# -- approval definitions -----------------------------------------------------------------------------------------

DEFINITIONS: Mapping[str, Mapping[str, str]] = {
    "remedy": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C01", "zh-CN": "补卡申请",
               "en-US": "Punch Correction", "definition_id": "7300000000000000101"},
    "leave": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C02", "zh-CN": "请假",
              "en-US": "Leave Request", "definition_id": "7300000000000000102"},
    "out": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C03", "zh-CN": "外出",
            "en-US": "Out of Office", "definition_id": "7300000000000000103"},
    "overtime": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C04", "zh-CN": "加班",
                 "en-US": "Overtime", "definition_id": "7300000000000000104"},
    "trip": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C05", "zh-CN": "出差",
             "en-US": "Business Trip", "definition_id": "7300000000000000105"},
    "shift": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C06", "zh-CN": "换班",
              "en-US": "Shift Swap", "definition_id": "7300000000000000106"},
    "every_widget": {"approval_code": "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C07", "zh-CN": "补卡申请（全控件示例）",
                     "en-US": "Punch Correction (every widget)", "definition_id": "7300000000000000107"},
    # the native world (sandbox.worlds): definitions whose instances move only through the task APIs
    "native_leave": {"approval_code": "A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A01", "zh-CN": "请假审批",
                     "en-US": "Leave Approval", "definition_id": "7410000000000000101"},
    "native_remedy": {"approval_code": "A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A02", "zh-CN": "补卡审批",
                      "en-US": "Punch Correction Approval", "definition_id": "7410000000000000102"},
    "purchase": {"approval_code": "A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A03", "zh-CN": "采购申请",
                 "en-US": "Purchase Request", "definition_id": "7410000000000000103"},
    "contract": {"approval_code": "A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A04", "zh-CN": "合同用印",
                 "en-US": "Contract Seal", "definition_id": "7410000000000000104"},
}
DEFINITION_GROUP = {"definition_group_id": "7300000000000000100", "definition_group_name": "考勤 Attendance"}

# -- widgets ------------------------------------------------------------------------------------------------------


def remedy_widget(time: str, reason: str) -> dict[str, Any]:
    return {"id": "widget_remedy", "name": "补卡", "type": "remedyGroup", "value": {"time": time, "reason": reason}}


def _note(text: str) -> dict[str, Any]:
    return {"id": "widget_note", "custom_id": "note", "name": "补充说明 Notes", "type": "textarea", "value": text}


def _leave_value(name: str, start: str, end: str, interval: float, unit: str, reason: str) -> dict[str, Any]:
    return {"name": name, "start": start, "end": end, "interval": interval, "unit": unit, "reason": reason}


def _trip_value() -> dict[str, Any]:
    return {
        "schedule": [
            {"start": rfc3339("2024-11-11"), "end": rfc3339("2024-11-12"), "interval": 2.0,
             "departure": "China/Shanghai/Shanghai", "destination": "China/Beijing/Beijing",
             "transportation": "Airplane", "oneRound": "One Way", "remark": "客户拜访 client visit"},
            {"start": rfc3339("2024-11-13"), "end": rfc3339("2024-11-13"), "interval": 1.0,
             "departure": "China/Beijing/Beijing", "destination": "China/Shanghai/Shanghai",
             "transportation": "High-speed rail", "oneRound": "One Way", "remark": "返程 return"},
        ],
        "interval": 3.0,
        "reason": "北京客户季度回访 quarterly visit to Beijing clients",
        "peer": ["u_manager2"],
    }


def _every_widget_form() -> list[dict[str, Any]]:
    img = "https://p3-approval-sign.byteimg.com/lark-approval-attachment/image/20241118/1/"
    att = "https://p3-approval-sign.byteimg.com/lark-approval-attachment/file/20241118/1/"
    return [
        remedy_widget(rfc3339("2024-11-15", "09:00"), "地铁故障忘记打卡 Metro breakdown, forgot to clock in"),
        {"id": "widget_input", "custom_id": "subject", "name": "标题 Subject", "type": "input",
         "value": "11月15日上班补卡 / Clock-in correction for Nov 15"},
        {"id": "widget_textarea", "name": "详细说明 Details", "type": "textarea",
         # user text that must not turn into markdown or an @all mention on a card
         "value": "早上 8:55 到达公司，门禁故障未能打卡。\nArrived 08:55; the badge reader was down. "
                  "**not bold** <at id=all></at>"},
        {"id": "widget_number", "name": "补卡次数 Corrections this month", "type": "number", "value": 2},
        {"id": "widget_amount", "name": "打车费 Taxi fare", "type": "amount", "value": 86.5,
         "ext": {"currency": "CNY", "capitalValue": "捌拾陆元伍角"}},
        {"id": "widget_formula", "name": "合计 Total", "type": "formula", "value": 173.0},
        {"id": "widget_date", "name": "发生日期 Date", "type": "date", "value": rfc3339("2024-11-15", "08:55")},
        {"id": "widget_interval", "name": "影响时段 Affected period", "type": "dateInterval",
         "value": {"start": rfc3339("2024-11-15", "08:30"), "end": rfc3339("2024-11-15", "09:30"), "interval": 0.5}},
        {"id": "widget_radio", "name": "原因类别 Category", "type": "radio", "value": "设备故障 Device failure"},
        {"id": "widget_radio_v2", "name": "紧急程度 Urgency", "type": "radioV2", "value": "普通 Normal"},
        {"id": "widget_checkbox", "name": "证明材料 Evidence", "type": "checkbox",
         "value": ["门禁记录 Badge log", "同事证明 Colleague statement"]},
        {"id": "widget_checkbox_v2", "name": "通知 Notify", "type": "checkboxV2", "value": ["HR", "IT"]},
        {"id": "widget_contact", "name": "证明人 Witness", "type": "contact", "value": ["u_manager2"],
         "open_ids": ["ou_manager2"]},
        {"id": "widget_department", "name": "所属部门 Department", "type": "department",
         "value": [{"open_id": "od-sales"}]},
        {"id": "widget_connect", "name": "关联审批 Related approvals", "type": "connect",
         "value": [INSTANCES["remedy_approved"]]},
        {"id": "widget_document", "name": "说明文档 Document", "type": "document",
         "value": {"token": "doxcnSandboxRemedyPolicy01", "type": "docx", "title": "补卡制度 Remedy policy",
                   "url": "https://sandbox.feishu.cn/docx/doxcnSandboxRemedyPolicy01"}},
        {"id": "widget_attachment", "name": "附件 Attachment", "type": "attachment",
         "ext": "'门禁日志.xlsx'", "value": [f"{att}badge-log.xlsx"]},
        {"id": "widget_attachment_v2", "name": "附件V2 Attachments", "type": "attachmentV2",
         "ext": "'门禁截图.png','说明 (final).pdf'", "value": [f"{att}badge.png", f"{att}statement.pdf"]},
        {"id": "widget_image", "name": "现场照片 Photo", "type": "image", "ext": "'reader.jpg'",
         "value": [f"{img}reader.jpg"]},
        {"id": "widget_image_v2", "name": "图片V2 Images", "type": "imageV2", "ext": "'queue.jpg','clock.jpg'",
         "value": [f"{img}queue.jpg", f"{img}clock.jpg"]},
        {"id": "widget_field_list", "name": "费用明细 Expenses", "type": "fieldList", "value": [
            [{"id": "widget_fl_item", "name": "项目 Item", "type": "input", "value": "打车 Taxi"},
             {"id": "widget_fl_amount", "name": "金额 Amount", "type": "amount", "value": 46.5},
             {"id": "widget_fl_date", "name": "日期 Date", "type": "date", "value": rfc3339("2024-11-15", "08:20")}],
            [{"id": "widget_fl_item", "name": "项目 Item", "type": "input", "value": "早餐 Breakfast"},
             {"id": "widget_fl_amount", "name": "金额 Amount", "type": "amount", "value": 40},
             {"id": "widget_fl_date", "name": "日期 Date", "type": "date", "value": rfc3339("2024-11-15", "08:40")}],
        ]},
        {"id": "widget_telephone", "name": "联系电话 Phone", "type": "telephone",
         "value": {"country_code": "+86", "national_number": "13800138000"}},
        {"id": "widget_address", "name": "地点 Location", "type": "address",
         "value": "China/Shanghai/Shanghai/Pudong Xinqu/世纪大道 100 号 Century Ave 100"},
        {"id": "widget_leave", "name": "请假 Leave", "type": "leaveGroup",
         "value": {"name": "事假 Personal leave", "start": rfc3339("2024-11-20"), "end": rfc3339("2024-11-20", "12:00"),
                   "interval": 0.5}},
        {"id": "widget_leave_v2", "name": "请假V2 Leave", "type": "leaveGroupV2",
         "value": _leave_value("年假 Annual leave", rfc3339("2024-11-21"), rfc3339("2024-11-22"), 2.0, "DAY",
                               "家中有事 family matters")},
        {"id": "widget_shift", "name": "换班 Shift", "type": "shiftGroup",
         "value": {"shiftTime": rfc3339("2024-11-23", "09:00"), "returnTime": rfc3339("2024-11-24", "09:00"),
                   "reason": "与同事换班 swap with a colleague"}},
        {"id": "widget_work", "name": "加班 Overtime", "type": "workGroup",
         "value": {"name": "加班费 Overtime pay", "start": rfc3339("2024-11-16", "10:00"),
                   "end": rfc3339("2024-11-16", "18:00"), "interval": 8.0, "reason": "季度结账 quarter close"}},
        {"id": "widget_trip", "name": "出差 Trip", "type": "tripGroup", "value": _trip_value()},
        {"id": "widget_out", "name": "外出 Out", "type": "outGroup",
         "value": {"name": "外出 Out", "start": rfc3339("2024-11-19", "14:00"), "end": rfc3339("2024-11-19", "17:00"),
                   "interval": 3.0, "unit": "HOUR", "reason": "拜访客户 client visit"}},
        {"id": "widget_mystery", "name": "未知控件 Mystery", "type": "mysteryWidget",
         "value": {"anything": ["goes", 42], "nested": {"ok": True}}},
    ]


# -- instances ----------------------------------------------------------------------------------------------------


def _task(task_id: str, user: str, status: str, node: str, start: str, end: str = "0", kind: str = "AND",
          custom: str = "manager") -> dict[str, Any]:
    return {"id": task_id, "user_id": f"u_{user}", "open_id": f"ou_{user}", "status": status,
            "node_id": _node_id(node), "node_name": node,
            "custom_node_id": custom, "type": kind, "start_time": start, "end_time": end}


def _node_id(node: str) -> str:
    # deterministic (hash() is salted per process), 32 hex chars like Feishu's node ids
    digest = 0
    for ch in node:
        digest = (digest * 131 + ord(ch)) % (16**32)
    return f"{digest:032x}"


def _entry(kind: str, at: str, user: str = "", task_id: str = "", comment: str = "", **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "create_time": at, "user_id": f"u_{user}" if user else "",
                             "open_id": f"ou_{user}" if user else "", "ext": "{}", "node_key": ""}
    if task_id:
        entry["task_id"] = task_id
    if comment:
        entry["comment"] = comment
    entry.update(extra)
    return entry


def _instance(code: str, kind: str, status: str, *, requester: str, start: str, form: list[dict[str, Any]],
              tasks: list[dict[str, Any]], timeline: list[dict[str, Any]], serial: str, end: str = "0",
              comments: Iterable[dict[str, Any]] = (), reverted: bool = False) -> dict[str, Any]:
    definition = DEFINITIONS[kind]
    user = USERS[requester]
    return {
        "approval_name": definition["zh-CN"],
        "start_time": start,
        "end_time": end,
        "user_id": user["user_id"],
        "open_id": user["open_id"],
        "serial_number": serial,
        "department_id": user["department_ids"][0],
        "status": status,
        "uuid": code.split("-")[0].lower(),
        "form": json.dumps(form, ensure_ascii=False),
        "task_list": tasks,
        "comment_list": list(comments),
        "timeline": timeline,
        "modified_instance_code": "",
        "reverted_instance_code": "",
        "approval_code": definition["approval_code"],
        "reverted": reverted,
        "instance_code": code,
    }


def _simple(name: str, kind: str, status: str, form: list[dict[str, Any]], day: str, *, reason: str = "",
            requester: str = "employee", reverted: bool = False) -> dict[str, Any]:
    """An instance with one approver (manager) and the timeline its status implies. `reverted`: the submitter
    withdrew it after approval in Feishu Approval (instance GET keeps APPROVED and says `reverted: true`)."""
    code, number = INSTANCES[name], _NUMBERS[name]
    start = ms(rfc3339(day, "09:30"))
    decided = ms(rfc3339(day, "11:05"))
    task_id = f"{number[:-1]}9"
    done = status != "PENDING"
    task_status = {"PENDING": "PENDING", "APPROVED": "APPROVED", "REJECTED": "REJECTED"}.get(status, "DONE")
    tasks = [_task(task_id, "manager", task_status, "直属上级审批 Manager approval", start,
                   decided if done else "0")]
    timeline = [_entry("START", start, requester)]
    if status == "APPROVED":
        timeline.append(_entry("PASS", decided, "manager", task_id, "同意 Approved", node_key="APPROVAL_MANAGER"))
    if status == "REJECTED":
        timeline.append(_entry("REJECT", decided, "manager", task_id, reason or "理由不充分 Not enough detail",
                               node_key="APPROVAL_MANAGER"))
    if reverted:
        timeline.append(_entry("CANCEL", ms(rfc3339(day, "16:40")), requester))
    return _instance(code, kind, status, requester=requester, start=start, form=form, tasks=tasks,
                     timeline=timeline, end=decided if done else "0", serial=_serial(name), reverted=reverted)


def _serial(name: str) -> str:
    return f"20241118{_NUMBERS[name][-4:]}"


def _remedy_form(day: str, clock: str, reason: str, note: str) -> list[dict[str, Any]]:
    return [remedy_widget(rfc3339(day, clock), reason), _note(note)]


def _instances() -> list[dict[str, Any]]:
    out = [
        _simple("remedy_pending", "remedy", "PENDING",
                _remedy_form("2024-11-15", "09:00", "忘记打卡 Forgot to clock in", "早上开会直接去了会议室。"),
                "2024-11-18"),
        _simple("remedy_pending_3", "remedy", "PENDING",
                _remedy_form("2024-11-14", "18:30", "手机没电 Phone battery died", "下班时手机没电，无法打卡。"),
                "2024-11-15"),
        _simple("remedy_approved", "remedy", "APPROVED",
                _remedy_form("2024-11-08", "09:00", "外出培训 Off-site training", "全天在客户处培训。"), "2024-11-11"),
        _simple("remedy_rejected", "remedy", "REJECTED",
                _remedy_form("2024-11-06", "09:00", "睡过头 Overslept", ""), "2024-11-07",
                reason="不符合补卡规定 Not covered by the remedy policy"),
        _simple("remedy_reverted", "remedy", "APPROVED",
                _remedy_form("2024-11-04", "18:00", "系统故障 System outage", "打卡机故障。"), "2024-11-05",
                reverted=True),
        _simple("leave_pending", "leave", "PENDING", [
            {"id": "widget_leave_v2", "name": "请假", "type": "leaveGroupV2",
             "value": _leave_value("年假 Annual leave", rfc3339("2024-11-25"), rfc3339("2024-11-26"), 2.0, "DAY",
                                   "回老家探亲 visiting family")}], "2024-11-18"),
        _simple("leave_approved", "leave", "APPROVED", [
            {"id": "widget_leave", "name": "请假", "type": "leaveGroup",
             "value": {"name": "病假 Sick leave", "start": rfc3339("2024-11-12"), "end": rfc3339("2024-11-12", "12:00"),
                       "interval": 0.5}}], "2024-11-12"),
        _simple("out_approved", "out", "APPROVED", [
            {"id": "widget_out", "name": "外出", "type": "outGroup",
             "value": {"name": "外出", "start": rfc3339("2024-11-13", "14:00"), "end": rfc3339("2024-11-13", "17:30"),
                       "interval": 3.5, "unit": "HOUR", "reason": "银行办理业务 bank errands"}}], "2024-11-13"),
        _simple("overtime_approved", "overtime", "APPROVED", [
            {"id": "widget_work", "name": "加班", "type": "workGroup",
             "value": {"name": "调休 Time off in lieu", "start": rfc3339("2024-11-09", "10:00"),
                       "end": rfc3339("2024-11-09", "16:00"), "interval": 6.0, "reason": "上线支持 release support"}},
            _note("周六上线值班。")], "2024-11-10"),
        _simple("trip_approved", "trip", "APPROVED", [
            {"id": "widget_trip", "name": "出差", "type": "tripGroup", "value": _trip_value()}], "2024-11-08"),
        _simple("shift_approved", "shift", "APPROVED", [
            {"id": "widget_shift", "name": "换班", "type": "shiftGroup",
             "value": {"shiftTime": rfc3339("2024-11-16", "09:00"), "returnTime": rfc3339("2024-11-17", "09:00"),
                       "reason": "家里有事 family matters"}}], "2024-11-14"),
        _attendance_field(),
        _two_approvers(),
        _own_request(),
        _every_widget(),
    ]
    return out


def _two_approvers() -> dict[str, Any]:
    code, number = INSTANCES["remedy_pending_2"], _NUMBERS["remedy_pending_2"]
    start = ms(rfc3339("2024-11-18", "10:10"))
    node = "部门负责人或签 Department heads (either)"
    return _instance(code, "remedy", "PENDING", requester="employee", start=start,
                     form=_remedy_form("2024-11-18", "08:58", "打卡机故障 Clock broken", "两位经理任一审批即可。"),
                     tasks=[_task(f"{number[:-1]}8", "manager", "PENDING", node, start, kind="OR"),
                            _task(f"{number[:-1]}9", "manager2", "PENDING", node, start, kind="OR")],
                     timeline=[_entry("START", start, "employee")], serial=_serial("remedy_pending_2"))


def _own_request() -> dict[str, Any]:
    code, number = INSTANCES["own_request"], _NUMBERS["own_request"]
    start = ms(rfc3339("2024-11-18", "13:20"))
    node = "上级审批 Approvers"
    return _instance(code, "remedy", "PENDING", requester="manager", start=start,
                     form=_remedy_form("2024-11-18", "09:00", "出差返程 Returning from a trip", "高铁晚点。"),
                     tasks=[_task(f"{number[:-1]}8", "manager2", "PENDING", node, start, kind="OR"),
                            _task(f"{number[:-1]}9", "admin", "PENDING", node, start, kind="OR")],
                     timeline=[_entry("START", start, "manager")], serial=_serial("own_request"))


def _attendance_field() -> dict[str, Any]:
    code, number = INSTANCES["attendance_field"], _NUMBERS["attendance_field"]
    start = ms(rfc3339("2024-11-18", "15:00"))
    form = [
        remedy_widget(rfc3339("2024-11-18", "18:05"), "加班后忘记打卡 Forgot after working late"),
        {"id": "widget_attendance", "custom_id": ATTENDANCE_FIELD, "name": "考勤审批ID Attendance id",
         "type": "input", "value": ATTENDANCE_FIELD_ID},
        _note("考勤系统中的审批编号见上。"),
    ]
    task_id = f"{number[:-1]}9"
    return _instance(code, "remedy", "PENDING", requester="employee", start=start, form=form,
                     tasks=[_task(task_id, "manager", "PENDING", "直属上级审批 Manager approval", start)],
                     timeline=[_entry("START", start, "employee")], serial=_serial("attendance_field"))


def _every_widget() -> dict[str, Any]:
    code, number = INSTANCES["every_widget"], _NUMBERS["every_widget"]
    start = ms(rfc3339("2024-11-18", "08:45"))
    first = ms(rfc3339("2024-11-18", "09:40"))
    note = ms(rfc3339("2024-11-18", "10:15"))
    img = "https://p3-approval-sign.byteimg.com/lark-approval-attachment/image/20241118/1/"
    done_task, open_task = f"{number[:-1]}7", f"{number[:-1]}9"
    tasks = [
        _task(done_task, "manager2", "APPROVED", "证明人确认 Witness check", start, first, custom="witness"),
        _task(open_task, "manager", "PENDING", "直属上级审批 Manager approval", first),
    ]
    timeline = [
        _entry("START", start, "employee"),
        _entry("CC", start, "employee", user_id_list=["u_admin"], open_id_list=["ou_admin"],
               cc_user_list=[{"user_id": "u_admin", "cc_id": f"{number[:-1]}6", "open_id": "ou_admin"}]),
        _entry("PASS", first, "manager2", done_task, "情况属实 Confirmed", node_key="APPROVAL_WITNESS",
               files=[{"url": f"{img}witness.png", "file_size": 48213, "title": "witness.png", "type": "image"}]),
    ]
    comments = [
        {"id": f"{number[:-1]}1", "user_id": "u_employee", "open_id": "ou_employee",
         "comment": "补充门禁截图 Badge screenshot attached", "create_time": note,
         "files": [{"url": f"{img}badge-2.png", "file_size": 186823, "title": "门禁截图2.png", "type": "image"},
                   {"url": f"{img}log.pdf", "file_size": 20480, "title": "log.pdf", "type": "attachment"}]},
        {"id": f"{number[:-1]}2", "user_id": "u_manager2", "open_id": "ou_manager2",
         "comment": "已核实 <b>verified</b> [link](https://example.com)", "create_time": first, "files": []},
    ]
    return _instance(code, "every_widget", "PENDING", requester="employee", start=start,
                     form=_every_widget_form(), tasks=tasks, timeline=timeline, comments=comments,
                     serial=_serial("every_widget"))


# -- attendance records -------------------------------------------------------------------------------------------


def build_records(today: date) -> dict[str, dict[str, Any]]:
    """The sales team's attendance records (their own numeric ids), dated relative to `today`: a pending remedy
    and an approved leave that no instance names, and the records the linked instances name."""
    def ago(days: int) -> date:
        return today - timedelta(days=days)

    def at(day: date, clock: str) -> str:
        return ms(rfc3339(day.isoformat(), clock))

    def remedy(name: str, days: int, clock: str, reason: str) -> dict[str, Any]:
        day = ago(days)
        return records.remedy(RECORD_IDS[name], USERS["employee"]["user_id"], remedy_date=records.yyyymmdd(day),
                              punch_no=0, work_type=1, remedy_time=f"{day.isoformat()} {clock}", reason=reason,
                              created_ms=at(day, "20:00"))

    def leave(name: str, days: int, zh: str, en: str) -> dict[str, Any]:
        day = ago(days)
        item = {"uniq_id": "6852582717813440527", "unit": 2, "interval": 8 * 3600,
                "start_time": f"{day.isoformat()} 09:00:00", "end_time": f"{day.isoformat()} 18:00:00",
                "i18n_names": {"ch": zh, "en": en, "ja": ""}, "default_locale": "ch", "reason": f"{zh} {en}",
                "approve_pass_time": f"{ago(days + 1).isoformat()} 10:00:00",
                "approve_apply_time": f"{ago(days + 1).isoformat()} 09:00:00", "idempotent_id": ""}
        return records.user_approval(RECORD_IDS[name], "leave", USERS["employee"]["user_id"],
                                     day.strftime("%Y%m%d"), item, at(ago(days + 1), "19:00"))

    built = [
        remedy("remedy_pending", 2, "09:00", "第三方系统提交的补卡 remedy from a third-party system"),
        leave("leave_approved", 3, "年假", "Annual leave"),
        remedy("remedy_linked", 1, "18:05", "加班后忘记打卡 forgot after working late"),
        leave("leave_linked", 5, "事假", "Personal leave"),
    ]
    return {r["approval_id"]: r for r in built}


def flow_samples(today: date) -> list[tuple[str, str, str, list[dict[str, Any]], str, tuple[str, ...]]]:
    """The sales team's instances built through sandbox.flow: (name, definition kind, requester, form, day,
    verbs the first open tasks were given). Forms are the worlds' (linked ones name a record of RECORD_IDS)."""
    def day(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    remedy_day, leave_day = today - timedelta(days=1), today - timedelta(days=5)
    return [
        ("purchase_two_step", "purchase", "employee", [
            {"id": "widget_item", "custom_id": "item", "name": "物品 Item", "type": "input",
             "value": "笔记本电脑 Laptop"},
            {"id": "widget_amount", "custom_id": "amount", "name": "金额 Amount", "type": "amount", "value": 8999.0,
             "ext": {"currency": "CNY"}},
            {"id": "widget_reason", "custom_id": "reason", "name": "用途 Purpose", "type": "textarea",
             "value": "旧电脑无法开机 the old one no longer starts"}], day(1), ()),
        ("linked_remedy", "native_remedy", "employee", [
            remedy_widget(rfc3339(remedy_day.isoformat(), "18:05"), "加班后忘记打卡 forgot after working late"),
            _attendance_id(RECORD_IDS["remedy_linked"])], day(1), ()),
        ("linked_leave", "native_leave", "employee", [
            {"id": "widget_leave_v2", "custom_id": "leave", "name": "请假 Leave", "type": "leaveGroupV2",
             "value": _leave_value("事假 Personal leave", rfc3339(leave_day.isoformat()),
                                   rfc3339(leave_day.isoformat(), "18:00"), 1.0, "DAY", "家中有事 family matters")},
            _attendance_id(RECORD_IDS["leave_linked"])], day(6), ("approve",)),
    ]


def _attendance_id(approval_id: str) -> dict[str, Any]:
    return {"id": "widget_attendance", "custom_id": ATTENDANCE_FIELD, "name": "考勤审批ID Attendance id",
            "type": "input", "value": approval_id}


def build_world(today: date | None = None) -> dict[str, Any]:
    """A fresh, independent copy of the whole sample world (records dated relative to `today`)."""
    today = today or datetime.now(CN).date()
    return {
        "users": build_users(),
        "departments": build_departments(),
        "chats": build_chats(),
        "instances": {inst["instance_code"]: inst for inst in _instances()},
        "attendance": build_records(today),
    }


# -- benchmarks -------------------------------------------------------------------------------------------------

def pending_remedy(code: str, approver: str, requester: str = "employee", index: int = 0,
                   number: str = "7400000000000000001") -> dict[str, Any]:
    """One extra PENDING remedy instance with a PENDING task for `approver` (a sample user name); its task id
    derives from `number`."""
    day = (datetime(2024, 11, 18, tzinfo=CN) - timedelta(days=index % 28)).date().isoformat()
    start = str(int(ms(rfc3339(day, "09:30"))) + index)
    task = _task(f"{number[:-1]}9", approver, "PENDING",
                 "直属上级审批 Manager approval", start)
    return _instance(code, "remedy", "PENDING", requester=requester, start=start,
                     form=_remedy_form(day, "09:00", f"批量样例 {index} Bulk sample {index}", ""),
                     tasks=[task], timeline=[_entry("START", start, requester)], serial=f"2024BENCH{index:06d}")


class World(Protocol):
    """What `seed_pending` needs of a world holder (the sandbox state), without importing it."""

    lock: threading.RLock
    instances: dict[str, dict[str, Any]]

    def put_instance(self, instance: Mapping[str, Any]) -> None: ...


def seed_pending(state: World, approver: str = "manager", n: int = 1000,
                 requester: str = "employee") -> list[str]:
    """Add `n` PENDING native remedy approvals (UUID codes, no attendance record) for `approver`; their codes."""
    if approver not in USERS or requester not in USERS:
        raise ValueError(f"unknown sample user: {approver!r} / {requester!r}")
    codes: list[str] = []
    with state.lock:
        base = 7400000000000000000 + len(state.instances) * 10_000
        for i in range(n):
            number = str(base + i * 10 + 1)
            code = instance_code(f"bench/{number}")
            while code in state.instances:
                number = str(int(number) + 1_000_000)
                code = instance_code(f"bench/{number}")
            state.put_instance(pending_remedy(code, approver, requester, i, number))
            codes.append(code)
    return codes
