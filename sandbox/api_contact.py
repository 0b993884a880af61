"""Contact v3 endpoints: users (get, batch, find_by_department) and departments (get), within the app's contact
data range (`state.contact_scope`; outside it: 41050 for a user's GET, left out of users/batch, 40004 for
departments), with every id rendered in
the caller's `user_id_type` / `department_id_type` as the contact pages say.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from sandbox import data
from sandbox.api import ID_TYPES, ApiError, Reply, Request, ok
from sandbox.state import SandboxState

DEPARTMENT_ID_TYPES = ("open_department_id", "department_id")
BATCH_MAX = 50  # contact-v3_user_batch: "单次最大请求可设置的用户 ID 数量上限为 50"
PAGE_MAX, PAGE_DEFAULT = 50, 10  # find_by_department: page_size default 10, at most 50 (40011)
LEADER_MAIN, LEADER_DEPUTY = 1, 2
ROOT = "0"
DEPARTMENT_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_\-@.]{0,63}$")  # the department get page's rule


def _choice(req: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = req.query.get(name, default)
    if value not in allowed:
        # enum validation happens at the gateway (99992402), before the contact service sees the call
        raise ApiError(99992402, f"field validation failed: {name} must be one of {', '.join(allowed)}, "
                                 f"got {value!r}")
    return value


def _id_types(req: Request) -> tuple[str, str]:
    return (_choice(req, "user_id_type", ID_TYPES, "open_id"),
            _choice(req, "department_id_type", DEPARTMENT_ID_TYPES, "open_department_id"))


def _user_id(state: SandboxState, name: str, id_type: str) -> str:
    found = data.find_user(state.people, name) if name else None
    return str(found[id_type]) if found is not None else ""


def _department_id(state: SandboxState, open_id: str, id_type: str) -> str:
    found = state.departments.get(open_id)
    return str(found[id_type]) if found is not None else open_id


def _find_department(state: SandboxState, value: str, id_type: str) -> dict[str, Any] | None:
    return next((d for d in state.departments.values() if d[id_type] == value), None)


def render_user(state: SandboxState, user: Mapping[str, Any], id_type: str, dept_type: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(user))
    out["leader_user_id"] = _user_id(state, str(user.get("leader_user_id") or ""), id_type)
    out["department_ids"] = [_department_id(state, d, dept_type) for d in user.get("department_ids") or ()]
    out["orders"] = [{**o, "department_id": _department_id(state, o["department_id"], dept_type)}
                     for o in user.get("orders") or ()]
    return out


def render_department(state: SandboxState, dept: Mapping[str, Any], id_type: str, dept_type: str) -> dict[str, Any]:
    leaders = [{"leaderType": LEADER_MAIN, "leaderID": _user_id(state, dept["leader"], id_type)}] if dept["leader"] \
        else []
    leaders += [{"leaderType": LEADER_DEPUTY, "leaderID": _user_id(state, name, id_type)} for name in dept["deputies"]]
    members = [u for u in state.people.values() if dept["open_department_id"] in u["department_ids"]]
    parent = dept["parent_department_id"]
    return {"name": dept["name"], "i18n_name": dict(dept["i18n_name"]),
            "parent_department_id": parent if parent == "0" else _department_id(state, parent, dept_type),
            "department_id": dept["department_id"], "open_department_id": dept["open_department_id"],
            "leader_user_id": _user_id(state, dept["leader"], id_type), "chat_id": dept["chat_id"],
            "order": dept["order"], "unit_ids": list(dept["unit_ids"]), "member_count": len(members),
            "status": dict(dept["status"]), "leaders": leaders,
            "primary_member_count": sum(1 for u in members if u["department_ids"][0] == dept["open_department_id"])}


def _readable_user(state: SandboxState, value: str, id_type: str) -> dict[str, Any] | None:
    found = next((u for u in state.people.values() if u.get(id_type) == value), None)
    if found is not None and not state.may_read_user(found):
        raise ApiError(41050, f"no user authority error: user {value} is outside the app's contact data range")
    return found


def user_get(state: SandboxState, req: Request) -> Reply:
    id_type, dept_type = _id_types(req)
    user = _readable_user(state, req.params["user_id"], id_type)
    if user is None:  # Feishu cannot tell an unknown id from one it may not show
        raise ApiError(41050)
    return ok({"user": render_user(state, user, id_type, dept_type)})


def user_batch(state: SandboxState, req: Request) -> Reply:
    id_type, dept_type = _id_types(req)
    wanted = [v for v in req.multi.get("user_ids", []) if v]
    if not wanted:
        raise ApiError(40001, "invalid parameter: user_ids is required")
    if len(wanted) > BATCH_MAX:
        raise ApiError(40001, f"invalid parameter: at most {BATCH_MAX} user_ids per call, got {len(wanted)}")
    # "如有不在应用通讯录权限范围内的用户，则不会返回相应的信息": users outside the app's contact data range are
    # left out of the answer, like unknown ids; the call itself succeeds (41050 is for user_get)
    found = [_batch_user(state, value, id_type) for value in dict.fromkeys(wanted)]
    return ok({"items": [render_user(state, u, id_type, dept_type) for u in found if u is not None]})


def _batch_user(state: SandboxState, value: str, id_type: str) -> dict[str, Any] | None:
    found = next((u for u in state.people.values() if u.get(id_type) == value), None)
    return found if found is not None and state.may_read_user(found) else None


def department_get(state: SandboxState, req: Request) -> Reply:
    id_type, dept_type = _id_types(req)
    if not DEPARTMENT_ID.match(req.params["department_id"]):
        raise ApiError(40001, "param error: department_id must match ^[a-zA-Z0-9][a-zA-Z0-9_\\-@.]{0,63}$")
    dept = _find_department(state, req.params["department_id"], dept_type)
    if dept is None:
        raise ApiError(40015)
    if not state.may_read_department(dept["open_department_id"]):
        raise ApiError(40004, f"no dept authority error: department {req.params['department_id']} is outside the "
                              "app's contact data range")
    return ok({"department": render_department(state, dept, id_type, dept_type)})


def find_by_department(state: SandboxState, req: Request) -> Reply:
    id_type, dept_type = _id_types(req)
    value = req.query.get("department_id", "")
    if not value:
        raise ApiError(40001, "invalid parameter: department_id is required")
    size = _page_size(req.query.get("page_size"))
    if value == ROOT:  # the root's direct members: the app needs the whole contact in its range
        if state.contact_scope is not None:
            raise ApiError(40004, "no dept authority error: the root department needs the whole contact in range")
        return ok({"has_more": False, "items": [render_user(state, u, id_type, dept_type)
                                                for u in state.people.values() if ROOT in u["department_ids"]]})
    dept = _find_department(state, value, dept_type)
    if dept is None or not state.may_read_department(dept["open_department_id"]):
        raise ApiError(40004, f"no dept authority error: department {value} is outside the app's contact data "
                              "range")
    offset = _decode_token(req.query.get("page_token"), dept["open_department_id"])
    members = [u for u in state.people.values() if dept["open_department_id"] in u["department_ids"]]
    page = members[offset:offset + size]
    has_more = offset + size < len(members)
    out: dict[str, Any] = {"has_more": has_more,
                           "items": [render_user(state, u, id_type, dept_type) for u in page]}
    if has_more:
        out["page_token"] = _encode_token(offset + size, dept["open_department_id"])
    return ok(out)


def _page_size(raw: str | None) -> int:
    if raw in (None, ""):
        return PAGE_DEFAULT
    try:
        size = int(raw)
    except ValueError:
        raise ApiError(40011, f"page size is invalid: {raw!r}") from None
    if not 1 <= size <= PAGE_MAX:
        raise ApiError(40011, f"page size is invalid: page_size must be between 1 and {PAGE_MAX}, got {size}")
    return size


def _encode_token(offset: int, department: str) -> str:
    return base64.b64encode(json.dumps([offset, department]).encode()).decode()


def _decode_token(token: str | None, department: str) -> int:
    if not token:
        return 0
    try:
        offset, owner = json.loads(base64.b64decode(token.encode(), validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(40012) from None
    if owner != department or not isinstance(offset, int) or offset < 0:
        raise ApiError(40012, "page token is invalid error: it belongs to another query")
    return offset
