"""Sample approval instances shaped like seed 004 (`data` of the v4 instance lookup), for card and workflow tests.

Written here, not imported from the sandbox, so that a test of the bot never leans on the emulator's data.
Times are fixed epoch milliseconds so golden snapshots are stable.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from core.approval import Approval, from_instance

T0 = 1795136580000  # 2026-11-20 09:03 +08:00
MIN = 60_000

NAMES: dict[str, dict[str, str]] = {
    "zh_cn": {
        "ou_manager": "王经理", "u_manager": "王经理",
        "ou_manager2": "李经理", "u_manager2": "李经理",
        "ou_admin": "赵管理员", "u_admin": "赵管理员",
        "ou_employee": "张三", "u_employee": "张三",
        "od-sales": "销售部", "od-rd": "研发部",
    },
    "en_us": {
        "ou_manager": "Manager Wang", "u_manager": "Manager Wang",
        "ou_manager2": "Manager Li", "u_manager2": "Manager Li",
        "ou_admin": "Admin Zhao", "u_admin": "Admin Zhao",
        "ou_employee": "Employee Zhang", "u_employee": "Employee Zhang",
        "od-sales": "Sales", "od-rd": "R&D",
    },
}

LINK = {"pc": "https://applink.feishu.cn/client/mini_program/open?appId=cli_x&path=approval%2F7100000000000000001",
        "mobile": "https://applink.feishu.cn/client/mini_program/open?mode=appCenter&path=7100000000000000001"}

FILE_URL = "https://p3-approval-sign.byteimg.com/lark-approval-attachment/image/20261120/1/receipt.png~tplv-x.image?x-expires=1795136580&x-signature=abc%2Fdef%3D"
PDF_URL = "https://internal-api-lark-file.feishu.cn/api/approval/file/receipt.pdf?token=boxcnAbC"
DOC_URL = "https://bytedance.feishu.cn/docx/doxcx7B8OzLFHExkiwYuPGAwf"

REMEDY_WIDGET = {
    "id": "widget_remedy", "name": "补卡", "type": "remedyGroup",
    "value": {"time": "2026-11-19T09:02:00+08:00", "reason": "Forgot to punch in at the gate"},
}


def _task(open_id: str, user_id: str, status: str, task_id: str, node: str = "直属上级") -> dict[str, Any]:
    return {"id": task_id, "user_id": user_id, "open_id": open_id, "status": status, "node_id": f"node_{task_id}",
            "node_name": node, "custom_node_id": "manager", "type": "AND", "start_time": str(T0 + MIN),
            "end_time": "0" if status == "PENDING" else str(T0 + 30 * MIN)}


def _instance(code: str, name: str, status: str, form: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = {
        "approval_name": name,
        "approval_code": "7C468A54-8745-2245-9675-08B7C63E7A85",
        "start_time": str(T0),
        "end_time": "0",
        "user_id": "u_employee",
        "open_id": "ou_employee",
        "serial_number": f"2026112000{code[-2:]}",
        "department_id": "od-sales",
        "status": status,
        "uuid": f"uuid-{code}",
        "form": json.dumps(form, ensure_ascii=False),
        "task_list": [_task("ou_manager", "u_manager", "PENDING" if status == "PENDING" else "APPROVED", "t1")],
        "comment_list": [],
        "timeline": [{"type": "START", "create_time": str(T0), "user_id": "u_employee", "open_id": "ou_employee"}],
        "instance_code": code,
        "reverted": False,
    }
    data.update(extra)
    return data


def remedy_pending() -> dict[str, Any]:
    return _instance("7100000000000000001", "补卡申请", "PENDING", [
        {"id": "w_note", "name": "Note", "type": "input", "value": "Badge reader was down"},
        REMEDY_WIDGET,
    ])


def remedy_approved() -> dict[str, Any]:
    data = _instance("7100000000000000002", "补卡申请", "APPROVED", [REMEDY_WIDGET])
    data["timeline"].append({"type": "PASS", "create_time": str(T0 + 30 * MIN), "user_id": "u_manager",
                             "open_id": "ou_manager", "task_id": "t1", "comment": "ok"})
    return data


def remedy_rejected() -> dict[str, Any]:
    data = _instance("7100000000000000003", "补卡申请", "REJECTED", [REMEDY_WIDGET])
    data["task_list"][0]["status"] = "REJECTED"
    data["timeline"].append({"type": "REJECT", "create_time": str(T0 + 30 * MIN), "user_id": "u_manager",
                             "open_id": "ou_manager", "task_id": "t1", "comment": "Punch record exists"})
    return data


def remedy_reverted() -> dict[str, Any]:
    data = remedy_approved()
    data.update(instance_code="7100000000000000004", serial_number="202611200004", status="REVERTED")
    data["timeline"].append({"type": "REVERTED", "create_time": str(T0 + 90 * MIN), "user_id": "u_admin",
                             "open_id": "ou_admin"})
    return data


def shift_approved() -> dict[str, Any]:
    data = _instance("7100000000000000005", "换班申请", "APPROVED", [{
        "id": "widget_shift", "name": "换班", "type": "shiftGroup",
        "value": {"shiftTime": "2026-11-21T09:00:00+08:00", "returnTime": "2026-11-28T09:00:00+08:00",
                  "reason": "Family visit"}}])
    data["timeline"].append({"type": "PASS", "create_time": str(T0 + 30 * MIN), "user_id": "u_manager",
                             "open_id": "ou_manager", "task_id": "t1"})
    return data


def attendance_field() -> dict[str, Any]:
    return _instance("7100000000000000006", "补卡申请", "PENDING", [
        {"id": "w_att", "custom_id": "attendance_approval_id", "name": "Attendance id", "type": "input",
         "value": "6737202939523236113"},
        REMEDY_WIDGET,
    ])


def leave_pending() -> dict[str, Any]:
    return _instance("7100000000000000007", "请假", "PENDING", [{
        "id": "widget_leave", "name": "请假", "type": "leaveGroupV2",
        "value": {"name": "Annual leave", "start": "2026-11-23T09:00:00+08:00",
                  "end": "2026-11-24T18:00:00+08:00", "interval": 2.0, "unit": "DAY", "reason": "Trip home"}}])


EVERY_WIDGET_FORM: list[dict[str, Any]] = [
    {"id": "w_input", "custom_id": "subject", "name": "Subject", "type": "input", "value": "Missed morning punch"},
    {"id": "w_textarea", "name": "Details", "type": "textarea",
     "value": "Arrived 08:55 at gate B.\nReader showed an error."},
    REMEDY_WIDGET,
    {"id": "w_number", "name": "Distance (km)", "type": "number", "value": 1234.56},
    {"id": "w_amount", "name": "Taxi fare", "type": "amount", "value": 88.5, "ext": {"currency": "CNY"}},
    {"id": "w_formula", "name": "Total cost", "type": "formula", "value": 98765.4321},
    {"id": "w_date", "name": "Incident date", "type": "date", "value": "2019-10-01T08:12:01+08:00"},
    {"id": "w_interval", "name": "Affected period", "type": "dateInterval",
     "value": {"start": "2019-10-03T08:00:00+08:00", "end": "2019-10-05T18:00:00+08:00", "interval": 2.0}},
    {"id": "w_radio", "name": "Gate", "type": "radio", "value": "Gate B"},
    {"id": "w_radio2", "name": "Building", "type": "radioV2", "value": "Tower 2"},
    {"id": "w_checkbox", "name": "Symptoms", "type": "checkbox", "value": ["Reader error", "Badge not read"]},
    {"id": "w_checkbox2", "name": "Witnesses present", "type": "checkboxV2", "value": ["Security desk"]},
    {"id": "w_contact", "name": "Witness", "type": "contact", "value": ["u_manager2"], "open_ids": ["ou_manager2"]},
    {"id": "w_department", "name": "Department", "type": "department",
     "value": [{"open_id": "od-sales"}, {"open_id": "od-rd"}]},
    {"id": "w_connect", "name": "Related approval", "type": "connect", "value": ["7100000000000000002"]},
    {"id": "w_document", "name": "Gate log", "type": "document",
     "value": {"token": "doxcx7B8OzLFHExkiwYuPGAwf", "type": "doc", "title": "Gate B log", "url": DOC_URL}},
    {"id": "w_attachment", "name": "Old attachment", "type": "attachment", "ext": "'gate-log.pdf'",
     "value": [PDF_URL]},
    {"id": "w_attachment2", "name": "Receipts", "type": "attachmentV2", "ext": "'receipt.pdf','photo.png'",
     "value": [PDF_URL, FILE_URL]},
    {"id": "w_image", "name": "Photo", "type": "image", "ext": "'gate.png'", "value": [FILE_URL]},
    {"id": "w_image2", "name": "Screenshots", "type": "imageV2", "ext": "'screen-1.png'", "value": [FILE_URL]},
    {"id": "w_fieldlist", "name": "Expenses", "type": "fieldList", "value": [
        [{"id": "f_item", "name": "Item", "type": "input", "value": "Taxi"},
         {"id": "f_cost", "name": "Cost", "type": "amount", "value": 12.5},
         {"id": "f_kind", "name": "Kind", "type": "checkbox", "value": ["jxpsebqp-0"]}],
        [{"id": "f_item", "name": "Item", "type": "input", "value": "Parking"},
         {"id": "f_cost", "name": "Cost", "type": "amount", "value": 1000},
         {"id": "f_kind", "name": "Kind", "type": "checkbox", "value": ["jxpsebqp-1"]}],
    ]},
    {"id": "w_phone", "name": "Phone", "type": "telephone",
     "value": {"country_code": "+86", "national_number": "13122222222"}},
    {"id": "w_address", "name": "Address", "type": "address",
     "value": "China/Beijing/Beijing/Chaoyang Qu/chang an jie"},
    {"id": "w_leave", "name": "Leave", "type": "leaveGroup",
     "value": {"name": "Annual leave", "start": "2019-10-01T00:00:00+08:00", "end": "2019-10-02T00:00:00+08:00",
               "interval": 2.0}},
    {"id": "w_leave2", "name": "Leave (hours)", "type": "leaveGroupV2",
     "value": {"name": "Sick leave", "start": "2019-10-08T09:00:00+08:00", "end": "2019-10-08T12:00:00+08:00",
               "interval": 3.0, "unit": "HOUR", "reason": "Doctor's appointment"}},
    {"id": "w_remedy2", "name": "Remedy V2", "type": "remedyGroupV2",
     "value": {"remedyTime": "2019-10-09T18:01:00+08:00", "punchType": "off duty", "reason": "Left in a hurry"}},
    {"id": "w_shift", "name": "Shift swap", "type": "shiftGroup",
     "value": {"shiftTime": "2019-10-11T08:12:01+08:00", "returnTime": "2019-10-12T08:12:01+08:00",
               "reason": "Swap with a colleague"}},
    {"id": "w_work", "name": "Overtime", "type": "workGroup",
     "value": {"name": "Overtime pay", "start": "2019-10-13T18:00:00+08:00", "end": "2019-10-13T21:00:00+08:00",
               "interval": 3.0, "unit": "HOUR", "reason": "Release night"}},
    {"id": "w_trip", "name": "Trip", "type": "tripGroup", "value": {
        "schedule": [
            {"start": "2019-10-14T00:00:00+08:00", "end": "2019-10-15T00:00:00+08:00", "interval": 1.0,
             "departure": "China/Beijing/Beijing", "destination": "China/Shanghai/Shanghai",
             "transportation": "Airplane", "oneRound": "One Way", "remark": "Customer visit"},
            {"start": "2019-10-16T00:00:00+08:00", "end": "2019-10-16T12:00:00+08:00", "interval": 0.5,
             "departure": "China/Shanghai/Shanghai", "destination": "China/Beijing/Beijing",
             "transportation": "Train", "oneRound": "One Way", "remark": "Return"},
        ],
        "interval": 2.5, "reason": "Quarterly review", "peer": ["u_manager"]}},
    {"id": "w_out", "name": "Out", "type": "outGroup",
     "value": {"start": "2019-10-17T14:00:00+08:00", "end": "2019-10-17T17:00:00+08:00", "interval": 3.0,
               "unit": "HOUR", "reason": "Bank visit"}},
    {"id": "w_mystery", "name": "Mystery field", "type": "mysteryWidget", "value": {"answer": 42, "ok": True}},
]


def every_widget() -> dict[str, Any]:
    data = _instance("7100000000000000008", "补卡申请（全部控件）", "PENDING", copy.deepcopy(EVERY_WIDGET_FORM))
    data["task_list"] = [_task("ou_manager2", "u_manager2", "APPROVED", "t0", "部门负责人"),
                         _task("ou_manager", "u_manager", "PENDING", "t1")]
    data["timeline"] += [
        {"type": "PASS", "create_time": str(T0 + 10 * MIN), "user_id": "u_manager2", "open_id": "ou_manager2",
         "task_id": "t0", "comment": "Looks right"},
        {"type": "CC", "create_time": str(T0 + 11 * MIN), "user_id": "u_manager2", "open_id": "ou_manager2",
         "user_id_list": ["u_admin"], "open_id_list": ["ou_admin"]},
        {"type": "TRANSFER", "create_time": str(T0 + 12 * MIN), "user_id": "u_admin", "open_id": "ou_admin",
         "user_id_list": ["u_manager"], "open_id_list": ["ou_manager"]},
    ]
    data["comment_list"] = [
        {"id": "c2", "user_id": "u_manager2", "open_id": "ou_manager2", "comment": "Gate log attached",
         "create_time": str(T0 + 9 * MIN),
         "files": [{"url": FILE_URL, "file_size": 186823, "title": "gate-b.png", "type": "image"}]},
        {"id": "c1", "user_id": "u_employee", "open_id": "ou_employee", "comment": "Please check gate B",
         "create_time": str(T0 + 2 * MIN), "files": []},
    ]
    return data


INSTANCES = {
    "remedy_pending": remedy_pending,
    "remedy_approved": remedy_approved,
    "remedy_rejected": remedy_rejected,
    "remedy_reverted": remedy_reverted,
    "shift_approved": shift_approved,
    "attendance_field": attendance_field,
    "leave_pending": leave_pending,
    "every_widget": every_widget,
}


def approval(name: str) -> Approval:
    data = INSTANCES[name]()
    return from_instance(data, data["instance_code"])
