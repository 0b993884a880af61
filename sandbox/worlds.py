"""The sample data of Feishu's two worlds, kept apart as in Feishu (no documented link joins their ids):

- contact: a team tree (departments with main and deputy leaders, members, one user without a leader, one manager
  leading two departments, a sub-department with its own leader);
- native: approval v4 instances with UUID codes per definition, moved only by the task APIs (sandbox.flow): every
  status, a two-step approval whose second node is an AND node, a definition that is not an attendance type, one
  that needs a handwritten signature, and *linked* instances whose form names an attendance record id in the
  widget with `custom_id` `attendance_approval_id`;
- attendance: remedy requests and leave/out/overtime/trip records in their own numeric id space over several
  weeks (sandbox.records), changed only by `approval_infos/process`.

Dates are relative to the day the world is built (the sandbox clock), so that a bot looking back N days finds
them. The sales team of sandbox.data keeps the same separation (UUID instance codes, its own attendance records).
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sandbox import data, flow, records

# -- contact: the team tree -------------------------------------------------------------------------------------

TEAM: tuple[tuple[str, str, str, tuple[str, ...], str, str, str], ...] = (
    # name, zh, en, departments, job title, leader name ("" = none), employee no
    ("lead", "陈主管", "Lead Chen", ("od-cs", "od-pmo"), "客服主管 Support Lead", "admin", "E20001"),
    ("agent1", "刘客服", "Agent Liu", ("od-cs",), "客服专员 Support Agent", "lead", "E20002"),
    ("agent2", "周客服", "Agent Zhou", ("od-cs",), "客服专员 Support Agent", "lead", "E20003"),
    ("agent3", "吴客服", "Agent Wu", ("od-cs",), "客服专员 Support Agent", "", "E20004"),  # no leader
    ("ops1", "郑运维", "Ops Zheng", ("od-ops",), "运维工程师 Ops Engineer", "lead", "E20005"),
    ("ops2", "冯运维", "Ops Feng", ("od-ops",), "运维工程师 Ops Engineer", "designlead", "E20006"),
    ("pm1", "钱项目", "PM Qian", ("od-pmo",), "项目经理 Project Manager", "lead", "E20007"),
    ("pm2", "褚项目", "PM Chu", ("od-pmo",), "项目经理 Project Manager", "admin", "E20008"),
    ("nightlead", "何组长", "Night Lead He", ("od-cs-night",), "夜班组长 Night Shift Lead", "lead", "E20009"),
    ("night1", "许夜班", "Night Xu", ("od-cs-night",), "夜班客服 Night Agent", "nightlead", "E20010"),
    ("designlead", "孙主管", "Design Lead Sun", ("od-design",), "设计主管 Design Lead", "admin", "E20011"),
    ("designer", "马设计", "Designer Ma", ("od-design",), "设计师 Designer", "designlead", "E20012"),
    ("finance", "杨财务", "Finance Yang", ("od-pmo",), "财务 Finance", "admin", "E20013"),
    ("office", "秦行政", "Office Qin", ("od-pmo",), "行政 Office Admin", "admin", "E20014"),
)
TEAM_CHAT = "oc_group_support"

# open id, department_id, zh, en, parent ("0" = root), main leader, deputy leaders
_DEPARTMENTS: tuple[tuple[str, str, str, str, str, str, tuple[str, ...]], ...] = (
    ("od-cs", "d_cs", "客服部", "Customer Service", "0", "lead", ("agent1",)),
    ("od-ops", "d_ops", "运维部", "Operations", "0", "lead", ()),
    ("od-pmo", "d_pmo", "项目管理办公室", "PMO", "0", "admin", ()),
    ("od-cs-night", "d_cs_night", "客服夜班组", "Night Shift", "od-cs", "nightlead", ()),
    ("od-design", "d_design", "设计部", "Design", "0", "designlead", ()),
)


def build_team_users(first_order: int) -> dict[str, dict[str, Any]]:
    return {p[0]: data._user(p[0], p[1], p[2], p[3], p[4], p[5], p[6], order=first_order + i)
            for i, p in enumerate(TEAM)}


def department(open_id: str, department_id: str, zh: str, en: str, parent: str, leader: str,
               deputies: Sequence[str] = (), order: int = 0) -> dict[str, Any]:
    """A department as stored; people are sample names, rendered as ids of the caller's `user_id_type`."""
    return {"open_department_id": open_id, "department_id": department_id, "name": zh,
            "i18n_name": {"zh_cn": zh, "en_us": en, "ja_jp": ""}, "parent_department_id": parent,
            "leader": leader, "deputies": list(deputies), "chat_id": f"oc_dept_{department_id}",
            "order": str(order or 100), "unit_ids": [], "status": {"is_deleted": False}}


def build_departments() -> dict[str, dict[str, Any]]:
    return {d[0]: department(*d, order=(i + 1) * 100) for i, d in enumerate(_DEPARTMENTS)}


def legacy_department(found: Mapping[str, Any]) -> dict[str, Any]:
    """The legacy sample's departments in the same stored shape (its leaders were stored as user_ids)."""
    leader = str(found.get("leader_user_id", "")).removeprefix("u_")
    return department(found["open_department_id"], found["department_id"], found["name"],
                      found["i18n_name"]["en_us"], "0", leader)


# -- native: definitions and their flows ------------------------------------------------------------------------

LEADER = "leader"  # an approver spec: the requester's leader_user_id (office when the requester has none)
FALLBACK_APPROVER = "office"  # the legacy sample users (manager, admin, …) get no native tasks: their to-dos stay

FLOWS: Mapping[str, Mapping[str, Any]] = {
    # nodes: (custom id, name, AND/OR, approver specs)
    "native_leave": {"nodes": (("manager", "直属上级审批 Manager approval", "OR", (LEADER,)),),
                     "cancel_pending": True, "revert_days": 30, "signature": False},
    "native_remedy": {"nodes": (("manager", "直属上级审批 Manager approval", "OR", (LEADER,)),),
                      "cancel_pending": True, "revert_days": 0, "signature": False},
    "purchase": {"nodes": (("manager", "直属上级审批 Manager approval", "OR", (LEADER,)),
                           ("finance", "财务与行政会签 Finance and office (all)", "AND", ("finance", "office"))),
                 "cancel_pending": True, "revert_days": 0, "signature": False},
    "contract": {"nodes": (("manager", "主管签字 Signed by the manager", "OR", (LEADER,)),),
                 "cancel_pending": False, "revert_days": 0, "signature": True},
}
LEGACY_FLOW: Mapping[str, Any] = {"nodes": (), "cancel_pending": True, "revert_days": 0, "signature": False}


def build_definitions() -> dict[str, dict[str, Any]]:
    """Every approval definition by approval_code: legacy ones and the native world's, with their flow rules."""
    out: dict[str, dict[str, Any]] = {}
    for kind, definition in data.DEFINITIONS.items():
        settings = FLOWS.get(kind, LEGACY_FLOW)
        out[definition["approval_code"]] = {"kind": kind, **definition, **settings}
    return out


def native_code(name: str) -> str:
    """A stable UUID-shaped instance code, upper case like Feishu's."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"sandbox/native/{name}")).upper()


def resolve_nodes(kind: str, requester: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]],
                  node_id: Callable[[str], str]) -> list[dict[str, Any]]:
    """The definition's node specs with real approvers for this requester."""
    nodes = []
    for custom, name, node_type, specs in FLOWS[kind]["nodes"]:
        approvers = [_approver(spec, requester, users) for spec in specs]
        nodes.append(flow.node(node_id(custom), name, approvers, kind=node_type, custom_node_id=custom))
    return nodes


def _approver(spec: str, requester: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    if spec != LEADER:
        return users[spec]
    leader = data.find_user(users, str(requester.get("leader_user_id") or ""))
    return leader if leader is not None else users[FALLBACK_APPROVER]


def new_instance(code: str, kind: str, requester: Mapping[str, Any], form: Sequence[Mapping[str, Any]],
                 users: Mapping[str, Mapping[str, Any]], *, serial: str) -> dict[str, Any]:
    """A native instance before `flow.start`: no tasks or timeline yet, its route in `_nodes`."""
    definition = data.DEFINITIONS[kind]
    return {
        "approval_name": definition["zh-CN"], "start_time": "0", "end_time": "0",
        "user_id": requester["user_id"], "open_id": requester["open_id"], "serial_number": serial,
        "department_id": requester["department_ids"][0], "status": "PENDING", "uuid": code.split("-")[0].lower(),
        "form": json.dumps(list(form), ensure_ascii=False), "task_list": [], "comment_list": [], "timeline": [],
        "modified_instance_code": "", "reverted_instance_code": "", "approval_code": definition["approval_code"],
        "reverted": False, "instance_code": code,
        "_nodes": resolve_nodes(kind, requester, users, lambda custom: _node_id(kind, custom)), "_node": -1,
    }


def _node_id(kind: str, custom: str) -> str:
    return uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"sandbox/node/{kind}/{custom}").hex


# -- forms --------------------------------------------------------------------------------------------------------


def attendance_id_widget(approval_id: str) -> dict[str, Any]:
    return {"id": "widget_attendance", "custom_id": data.ATTENDANCE_FIELD, "name": "考勤审批ID Attendance id",
            "type": "input", "value": approval_id}


def leave_form(start: str, end: str, interval: float, reason: str, *, name: str = "年假 Annual leave",
               attendance_id: str = "") -> list[dict[str, Any]]:
    form = [{"id": "widget_leave_v2", "custom_id": "leave", "name": "请假 Leave", "type": "leaveGroupV2",
             "value": {"name": name, "start": start, "end": end, "interval": interval, "unit": "DAY",
                       "reason": reason}}]
    return form + ([attendance_id_widget(attendance_id)] if attendance_id else [])


def remedy_form(time: str, reason: str, attendance_id: str = "") -> list[dict[str, Any]]:
    form = [data.remedy_widget(time, reason)]
    return form + ([attendance_id_widget(attendance_id)] if attendance_id else [])


def purchase_form(item: str, amount: float, reason: str) -> list[dict[str, Any]]:
    return [{"id": "widget_item", "custom_id": "item", "name": "物品 Item", "type": "input", "value": item},
            {"id": "widget_amount", "custom_id": "amount", "name": "金额 Amount", "type": "amount", "value": amount,
             "ext": {"currency": "CNY"}},
            {"id": "widget_reason", "custom_id": "reason", "name": "用途 Purpose", "type": "textarea",
             "value": reason}]


def contract_form(title: str) -> list[dict[str, Any]]:
    url = "https://p3-approval-sign.byteimg.com/lark-approval-attachment/file/sandbox/contract.pdf"
    return [{"id": "widget_title", "custom_id": "title", "name": "合同名称 Contract", "type": "input", "value": title},
            {"id": "widget_file", "name": "合同文件 File", "type": "attachmentV2", "ext": "'contract.pdf'",
             "value": [url]}]


DEFAULT_FORMS: Mapping[str, Callable[[date], list[dict[str, Any]]]] = {
    "native_leave": lambda day: leave_form(rfc(day), rfc(day, "18:00"), 1.0, "家中有事 family matters"),
    "native_remedy": lambda day: remedy_form(rfc(day, "09:00"), "忘记打卡 Forgot to clock in"),
    "purchase": lambda day: purchase_form("显示器 Monitor", 1899.0, "工位升级 desk upgrade"),
    "contract": lambda day: contract_form("年度服务合同 Annual service contract"),
}


# -- times --------------------------------------------------------------------------------------------------------


def rfc(day: date, clock: str = "09:00") -> str:
    return data.rfc3339(day.isoformat(), clock)


def at_ms(day: date, clock: str) -> str:
    return data.ms(rfc(day, clock))


def today_in_tenant(now_s: float) -> date:
    return datetime.fromtimestamp(now_s, data.CN).date()


# -- the sample world ---------------------------------------------------------------------------------------------

NATIVE_NAMES = ("leave_pending", "leave_approved", "leave_rejected", "leave_canceled", "leave_reverted",
                "leave_deleted", "purchase_step1", "purchase_step2", "contract_pending", "linked_remedy_pending",
                "linked_remedy_approved", "linked_remedy_rejected", "linked_leave_approved", "linked_leave_revoked")
NATIVE: Mapping[str, str] = {name: native_code(name) for name in NATIVE_NAMES}

RECORD_NAMES = ("remedy_pending", "remedy_pending_2", "remedy_no_leader", "remedy_approved", "remedy_rejected",
                "remedy_revoked", "remedy_canceled", "remedy_other_team", "remedy_sub_department",
                "remedy_own_department", "remedy_old", "remedy_manager_own", "remedy_linked", "leave_approved",
                "leave_revoked", "out_approved", "overtime_approved", "trip_approved", "leave_old",
                "leave_other_team", "leave_linked")
RECORDS: Mapping[str, str] = {name: str(7430000000000000001 + i) for i, name in enumerate(RECORD_NAMES)}


def _counter(start: int) -> Iterator[str]:
    value = start
    while True:
        yield str(value)
        value += 1


def build(users: Mapping[str, Mapping[str, Any]], today: date) -> dict[str, Any]:
    """The native instances and attendance records of the sample world, built for `today`."""
    return {"attendance": _attendance(users, today), "instances": _natives(users, today)}


def _natives(users: Mapping[str, Mapping[str, Any]], today: date) -> dict[str, dict[str, Any]]:
    ids = _counter(7420000000000000001)
    new_id = ids.__next__
    made: dict[str, dict[str, Any]] = {}

    def submit(name: str, kind: str, requester: str, form: list[dict[str, Any]], day: date) -> dict[str, Any]:
        inst = new_instance(NATIVE[name], kind, users[requester], form, users,
                            serial=f"{day.strftime('%Y%m%d')}{len(made) + 1:04d}")
        flow.start(inst, users[requester], at_ms(day, "09:30"), new_id)
        made[inst["instance_code"]] = inst
        return inst

    def act(inst: dict[str, Any], verb: str, day: date, clock: str, comment: str = "") -> None:
        task = flow.open_tasks(inst)[0]
        when = at_ms(day, clock)
        if verb == "approve":
            flow.approve(inst, task, comment, when, new_id)
        else:
            flow.reject(inst, task, comment, when)

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    submit("leave_pending", "native_leave", "agent1", leave_form(rfc(ago(-3)), rfc(ago(-3), "18:00"), 1.0,
                                                                 "看病 doctor's appointment"), ago(1))
    act(submit("leave_approved", "native_leave", "agent2",
               leave_form(rfc(ago(6)), rfc(ago(5), "18:00"), 2.0, "探亲 visiting family"), ago(8)),
        "approve", ago(8), "11:00", "同意 OK")
    act(submit("leave_rejected", "native_leave", "ops1",
               leave_form(rfc(ago(2)), rfc(ago(2), "18:00"), 1.0, "私事 personal"), ago(4)),
        "reject", ago(4), "10:00", "上线周不能请假 release week")
    canceled = submit("leave_canceled", "native_leave", "agent3",
                      leave_form(rfc(ago(-5)), rfc(ago(-5), "18:00"), 1.0, "搬家 moving"), ago(2))
    flow.cancel(canceled, users["agent3"], at_ms(ago(2), "15:00"))
    reverted = submit("leave_reverted", "native_leave", "agent1",
                      leave_form(rfc(ago(10)), rfc(ago(10), "18:00"), 1.0, "体检 health check"), ago(12))
    act(reverted, "approve", ago(12), "10:30", "同意")
    flow.revert(reverted, users["agent1"], at_ms(ago(11), "09:00"))
    deleted = submit("leave_deleted", "native_leave", "agent2",
                     leave_form(rfc(ago(-8)), rfc(ago(-8), "18:00"), 1.0, "年假 annual"), ago(3))
    flow.delete(deleted, at_ms(ago(3), "17:00"))  # as if its definition had been deleted then
    submit("purchase_step1", "purchase", "agent1", purchase_form("人体工学椅 Ergonomic chair", 2399.0,
                                                                 "腰痛 back pain"), ago(1))
    act(submit("purchase_step2", "purchase", "agent2", purchase_form("降噪耳机 Headset", 899.0, "呼叫中心 call centre"),
               ago(3)), "approve", ago(2), "10:00", "部门同意 approved by the team")
    submit("contract_pending", "contract", "ops1", contract_form("机房托管合同 Hosting contract"), ago(1))
    submit("linked_remedy_pending", "native_remedy", "agent1",
           remedy_form(rfc(ago(1), "18:05"), "加班后忘记打卡 forgot after working late", RECORDS["remedy_linked"]),
           ago(1))
    act(submit("linked_remedy_approved", "native_remedy", "ops1",
               remedy_form(rfc(ago(20), "09:00"), "门禁故障 badge reader down", RECORDS["remedy_approved"]), ago(20)),
        "approve", ago(19), "10:00", "同意")
    act(submit("linked_remedy_rejected", "native_remedy", "ops2",
               remedy_form(rfc(ago(12), "09:40"), "睡过头 overslept", RECORDS["remedy_rejected"]), ago(12)),
        "reject", ago(11), "10:00", "不符合规定 not covered")
    # the instance stays APPROVED: the record was revoked in attendance, which never touches the instance
    act(submit("linked_leave_revoked", "native_leave", "agent2",
               leave_form(rfc(ago(15)), rfc(ago(15), "13:00"), 0.5, "事假 personal",
                          attendance_id=RECORDS["leave_revoked"]), ago(16)), "approve", ago(16), "15:00", "同意")
    act(submit("linked_leave_approved", "native_leave", "agent2",
               leave_form(rfc(ago(8)), rfc(ago(8), "18:00"), 1.0, "家中有事 family matters",
                          attendance_id=RECORDS["leave_linked"]),
               ago(9)), "approve", ago(9), "14:00", "同意")
    return made


def _attendance(users: Mapping[str, Mapping[str, Any]], today: date) -> dict[str, dict[str, Any]]:
    def ago(days: int) -> date:
        return today - timedelta(days=days)

    out: dict[str, dict[str, Any]] = {}

    def remedy(name: str, who: str, days: int, clock: str, work_type: int, reason: str,
               status: int = records.PENDING) -> None:
        day = ago(days)
        out[RECORDS[name]] = records.remedy(
            RECORDS[name], users[who]["user_id"], remedy_date=records.yyyymmdd(day), punch_no=0, work_type=work_type,
            remedy_time=f"{day.isoformat()} {clock}", reason=reason, created_ms=at_ms(day, "20:00"), status=status)
        if status != records.PENDING:
            out[RECORDS[name]]["update_time"] = at_ms(day + timedelta(days=1), "10:00")

    remedy("remedy_pending", "agent1", 2, "09:00", 1, "忘记打卡 forgot to clock in")
    remedy("remedy_pending_2", "agent2", 9, "18:30", 2, "手机没电 phone battery died")
    remedy("remedy_no_leader", "agent3", 16, "09:05", 1, "地铁故障 metro breakdown")
    remedy("remedy_approved", "ops1", 20, "09:00", 1, "门禁故障 badge reader down", records.APPROVED)
    remedy("remedy_rejected", "ops2", 12, "09:40", 1, "睡过头 overslept", records.REJECTED)
    remedy("remedy_revoked", "agent1", 26, "18:00", 2, "系统故障 system outage", records.REVERTED)
    remedy("remedy_canceled", "agent2", 5, "09:00", 1, "重复提交 duplicate", records.CANCELED)
    remedy("remedy_other_team", "designer", 3, "09:10", 1, "外出拜访 client visit")
    remedy("remedy_sub_department", "night1", 4, "22:00", 1, "夜班打卡机故障 night clock broken")
    remedy("remedy_own_department", "pm1", 6, "18:20", 2, "会议超时 meeting overran")
    remedy("remedy_old", "agent1", 40, "09:00", 1, "很久以前 long ago")
    remedy("remedy_manager_own", "lead", 1, "09:00", 1, "出差返程 back from a trip")
    remedy("remedy_linked", "agent1", 1, "18:05", 2, "加班后忘记打卡 forgot after working late")

    def approval(name: str, kind: str, who: str, days: int, item: dict[str, Any],
                 status: int = records.APPROVED) -> None:
        day = ago(days)
        out[RECORDS[name]] = records.user_approval(RECORDS[name], kind, users[who]["user_id"], day.strftime("%Y%m%d"),
                                                   item, at_ms(day - timedelta(days=1), "19:00"), status)

    approval("leave_approved", "leave", "agent1", 7, leave_item(ago(7), "09:00", "18:00", 8, "年假", "Annual leave"))
    approval("leave_revoked", "leave", "agent2", 15, leave_item(ago(15), "09:00", "13:00", 4, "事假", "Personal leave"),
             records.REVERTED)
    approval("out_approved", "out", "ops1", 3, out_item(ago(3), "14:00", "17:30", "银行办事 bank errands"))
    approval("overtime_approved", "overtime", "agent3", 10, overtime_item(ago(10), "19:00", "22:00",
                                                                         "大促值班 sale-day shift"))
    approval("trip_approved", "trip", "ops1", 18, trip_item(ago(18), ago(17), "机房巡检 data-centre inspection"))
    approval("leave_old", "leave", "agent2", 35, leave_item(ago(35), "09:00", "18:00", 8, "病假", "Sick leave"))
    approval("leave_other_team", "leave", "designer", 4,
             leave_item(ago(4), "09:00", "18:00", 8, "年假", "Annual leave"))
    approval("leave_linked", "leave", "agent2", 8, leave_item(ago(8), "09:00", "18:00", 8, "年假", "Annual leave"))
    return out


def _stamp(day: date, clock: str) -> str:
    return f"{day.isoformat()} {clock}:00"


def leave_item(day: date, start: str, end: str, hours: int, zh: str, en: str) -> dict[str, Any]:
    return {"uniq_id": "6852582717813440527", "unit": 2, "interval": hours * 3600, "start_time": _stamp(day, start),
            "end_time": _stamp(day, end), "i18n_names": {"ch": zh, "en": en, "ja": ""}, "default_locale": "ch",
            "reason": f"{zh} {en}", "approve_pass_time": _stamp(day - timedelta(days=1), "10:00"),
            "approve_apply_time": _stamp(day - timedelta(days=1), "09:00"), "idempotent_id": ""}


def out_item(day: date, start: str, end: str, reason: str) -> dict[str, Any]:
    first, last = datetime.strptime(start, "%H:%M"), datetime.strptime(end, "%H:%M")
    return {"uniq_id": "9496E43696967", "unit": 2, "interval": int((last - first).total_seconds()),
            "start_time": _stamp(day, start), "end_time": _stamp(day, end),
            "i18n_names": {"ch": "市内外出", "en": "Local errand", "ja": ""}, "default_locale": "ch", "reason": reason,
            "approve_pass_time": _stamp(day, "12:00"), "approve_apply_time": _stamp(day, "11:00"),
            "idempotent_id": "", "correct_process_id": [], "cancel_process_id": [], "process_id": []}


def overtime_item(day: date, start: str, end: str, reason: str) -> dict[str, Any]:
    first, last = datetime.strptime(start, "%H:%M"), datetime.strptime(end, "%H:%M")
    return {"duration": (last - first).total_seconds() / 3600, "unit": 2, "category": 1, "type": 1,
            "start_time": _stamp(day, start), "end_time": _stamp(day, end), "reason": reason, "idempotent_id": "",
            "correct_process_id": [], "cancel_process_id": [], "process_id": []}


def trip_item(first: date, last: date, reason: str) -> dict[str, Any]:
    return {"start_time": _stamp(first, "09:00"), "end_time": _stamp(last, "18:00"), "reason": reason,
            "approve_pass_time": _stamp(first - timedelta(days=2), "12:00"),
            "approve_apply_time": _stamp(first - timedelta(days=3), "11:00"), "idempotent_id": "",
            "correct_process_id": [], "cancel_process_id": [], "process_id": [],
            "departure": {"region_level": "l3", "region_id": "6863333418483058189"},
            "destinations": [{"region_level": "l3", "region_id": "6863333418483058190"}],
            "transportation": [4], "trip_type": 2, "remarks": ""}
