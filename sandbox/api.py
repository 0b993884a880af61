"""The Open Platform endpoints the bot uses, as functions of (state, request) -> Reply. No Flask here.

Shapes follow the docs and lark-oapi 1.7.5's models: success is `{"code": 0, "msg": "success", "data": {…}}`,
errors `{"code": …, "msg": …}` (the app adds `error.log_id`). The caller holds `state.lock` while a handler runs.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox import cardcheck, data, rules
from sandbox.state import CARD_TOKEN_MAX_USES, CARD_TOKEN_TTL_S, SandboxState, Subject

INVALID = object()  # a body that is not JSON

CODE_MSG: Mapping[int, str] = {
    10003: "invalid param",
    10014: "app secret invalid",
    9499: "Bad Request",
    41050: "no user authority error",
    99991400: "request trigger frequency limit",
    99991661: "Missing access token for authorization. Please make a request with token attached.",
    99991663: "Invalid access token for authorization. Please make a request with token attached.",
    99991668: "Invalid access token for authorization. Please make a request with token attached.",
    99991672: "Access denied. One of the following scopes is required.",
    99992402: "field validation failed",
    1390001: "param is invalid",
    1390002: "approval code not found",
    1390003: "instance code not found",
    1390004: "user_id or open_id not found",
    1390007: "subscription existed",
    1390009: "no operation permission",
    1390010: "task not found",
    1390018: "not support handwritten signature",
    40001: "invalid parameter",
    40004: "no dept authority error",
    40011: "page size is invalid",
    40012: "page token is invalid error",
    40015: "department not exist",
    1395001: "There have been some errors. Please try again later",
    1220001: "param is invalid",
    1220002: "tenant_id is empty",
    1220004: "param is invalid",
    1220005: "no permission",
    1220600: "generic error",
    1225000: "internal server error",
    1226501: "no need remedy",
    1226502: "not allowed remedy",
    1226503: "approval time beyond the time range",
    1226504: "no remedy time left",
    1226500: "historical error code, no longer used",
    1227500: "shift service error",
    230001: "Your request contains an invalid request parameter.",
    230002: "The bot can not be outside the group.",
    230011: "The message is recalled.",
    230013: "Bot has NO availability to this user.",
    230020: "This operation triggers the frequency limit.",
    230025: "The length of the message content reaches its limit.",
    230027: "Lack of necessary permissions.",
    230031: "Message can only be modified within 14 days after sending.",
    230099: "Failed to create card content.",
}

FAMILY: Mapping[str, str] = {
    "token": "auth", "app_token": "auth", "instance_get": "approval", "tasks_query": "approval",
    "process": "attendance", "message_create": "im", "message_reply": "im", "message_patch": "im",
    "card_update": "im", "user_get": "contact", "bot_info": "bot", "unknown": "gateway",
    "task_approve": "approval", "task_reject": "approval", "task_transfer": "approval",
    "instance_cancel": "approval", "approval_subscribe": "approval", "remedy_create": "attendance",
    "remedy_query": "attendance", "user_approval_create": "attendance", "user_approval_query": "attendance",
    "department_get": "contact", "user_batch": "contact", "user_find_by_department": "contact",
}
_BAD_BODY = {"attendance": 1220001, "approval": 1390001}  # otherwise the gateway's 9499
_PARAM = {"attendance": 1220001, "approval": 1390001, "auth": 10003, "contact": 40001}  # otherwise 99992402
_INTERNAL = {"attendance": 1225000, "approval": 1395001}  # 5xx without a code; otherwise the HTTP status


# the contact pages' HTTP statuses that are not 400
_CONTACT_STATUS: Mapping[int, int] = {40004: 403, 42008: 401}


def http_status_for(code: int) -> int:
    if code == 99991400:
        return 429
    return _CONTACT_STATUS.get(code) or rules.HTTP_STATUS.get(code, 400)


def default_code(endpoint: str, http_status: int) -> int:
    family = FAMILY.get(endpoint, "gateway")
    if http_status == 429:
        return 99991400
    if http_status >= 500:
        return _INTERNAL.get(family, http_status)
    return _PARAM.get(family, 99992402)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any  # the decoded body, None when empty, INVALID when not JSON
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)  # every value of repeated query parameters


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON answer
    content_type: str = "application/json; charset=utf-8"
    after: Callable[[], None] | None = None  # run once the lock is released (notifications)


class ApiError(Exception):
    def __init__(self, code: int, msg: str | None = None, status: int | None = None) -> None:
        super().__init__(msg or CODE_MSG.get(code, "error"))
        self.code = code
        self.msg = msg or CODE_MSG.get(code, "error")
        self.status = status or http_status_for(code)


def ok(data_: Any = None, msg: str = "success") -> Reply:
    return Reply(200, {"code": 0, "msg": msg, "data": {} if data_ is None else data_})


# -- request helpers ----------------------------------------------------------------------------------------------


def _body(req: Request, endpoint: str) -> dict[str, Any]:
    family = FAMILY[endpoint]
    if req.json is INVALID or not isinstance(req.json, dict):
        what = "not valid JSON" if req.json is INVALID else "not a JSON object"
        code = _BAD_BODY.get(family, 9499)
        raise ApiError(code, f"{CODE_MSG.get(code)}: request body is {what}")
    return req.json


def _field(body: Mapping[str, Any], name: str, kind: type, endpoint: str, *, required: bool = True) -> Any:
    family = FAMILY[endpoint]
    value = body.get(name)
    if value is None:
        if required:
            code = _PARAM.get(family, 99992402)
            raise ApiError(code, f"{CODE_MSG.get(code)}: {name} is required")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        if family == "attendance":
            raise ApiError(1220001, f"param is invalid: {name} must be a {kind.__name__}, got {value!r}")
        raise ApiError(9499, f"Invalid parameter type in json: {name}. Please check and modify accordingly.")
    return value


def _enum_query(req: Request, name: str, allowed: tuple[str, ...], default: str, code: int) -> str:
    value = req.query.get(name, default)
    if value not in allowed:
        raise ApiError(code, f"{CODE_MSG.get(code)}: {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def subject(endpoint: str, req: Request, state: SandboxState) -> Subject:
    """What a fault's `id` is compared with, per endpoint (a tuple: any of several ids)."""
    body = req.json if isinstance(req.json, dict) else {}
    if endpoint in ("token", "app_token"):
        return body.get("app_id")
    if endpoint == "instance_get":
        return req.params.get("instance_id")
    if endpoint == "tasks_query":
        return req.query.get("user_id")
    if endpoint == "process":
        return None if body.get("approval_id") is None else str(body.get("approval_id"))
    if endpoint == "message_create":
        return body.get("receive_id")
    if endpoint in ("message_reply", "message_patch"):
        return req.params.get("message_id")
    if endpoint == "card_update":
        found = state.card_tokens.get(str(body.get("token")))
        return found.message_id if found else body.get("token")
    if endpoint in ("user_get", "department_get"):
        return req.params.get("user_id") or req.params.get("department_id")
    if endpoint in ("task_approve", "task_reject", "task_transfer", "instance_cancel"):
        return None if body.get("instance_code") is None else str(body.get("instance_code"))
    if endpoint == "approval_subscribe":
        return req.params.get("approval_code")
    if endpoint in ("remedy_create", "user_approval_create"):
        holder = body if endpoint == "remedy_create" else body.get("user_approval")
        user = holder.get("user_id") if isinstance(holder, dict) else None
        return None if user is None else str(user)
    if endpoint == "user_find_by_department":
        return req.query.get("department_id")
    if endpoint in ("remedy_query", "user_approval_query"):
        ids = body.get("user_ids")
        return tuple(str(i) for i in ids) if isinstance(ids, list) else None
    if endpoint == "user_batch":
        return tuple(req.multi.get("user_ids", []))
    return None


# -- auth ---------------------------------------------------------------------------------------------------------


def authorize(state: SandboxState, req: Request) -> None:
    header = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    if not header.strip():
        raise ApiError(99991661)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(99991661)
    if not state.tenant_token_valid(token.strip()):
        raise ApiError(99991663)


def _check_app(state: SandboxState, req: Request, endpoint: str) -> None:
    body = _body(req, endpoint)
    app_id, secret = body.get("app_id"), body.get("app_secret")
    if not isinstance(app_id, str) or not isinstance(secret, str) or not app_id or not secret:
        raise ApiError(10003, "invalid param: app_id and app_secret are required")
    if app_id != state.app_id or secret != state.app_secret:
        raise ApiError(10014)


def tenant_token(state: SandboxState, req: Request) -> Reply:
    _check_app(state, req, "token")
    token, expire = state.issue_tenant_token()
    return Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire})


def app_token(state: SandboxState, req: Request) -> Reply:
    _check_app(state, req, "app_token")
    app, expire = state.issue_app_token()
    tenant, _ = state.issue_tenant_token()
    return Reply(200, {"code": 0, "msg": "ok", "app_access_token": app, "tenant_access_token": tenant,
                       "expire": expire})


# -- approval v4 --------------------------------------------------------------------------------------------------

LOCALES = ("zh-CN", "en-US", "ja-JP")
ID_TYPES = ("open_id", "user_id", "union_id")
_DEFINITION_BY_CODE = {d["approval_code"]: d for d in data.DEFINITIONS.values()}


def render_instance(instance: Mapping[str, Any], locale: str = "zh-CN") -> dict[str, Any]:
    # keys starting with "_" are the sandbox's own (the route of sandbox.flow), never part of Feishu's answer
    out = copy.deepcopy({k: v for k, v in instance.items() if not k.startswith("_")})
    definition = _DEFINITION_BY_CODE.get(out.get("approval_code", ""))
    if definition is not None and locale in definition:
        out["approval_name"] = definition[locale]
    return out


def instance_get(state: SandboxState, req: Request) -> Reply:
    _enum_query(req, "locale", LOCALES, "zh-CN", 1390001)
    id_type = _enum_query(req, "user_id_type", ID_TYPES, "open_id", 1390001)
    viewer = req.query.get("user_id")
    if viewer and _user_by(state, viewer, id_type) is None:
        raise ApiError(1390004)
    found = state.find_instance(req.params["instance_id"])
    if found is None:
        raise ApiError(1390003)
    return ok(render_instance(found, req.query.get("locale", "zh-CN")))


def _user_by(state: SandboxState, value: str, id_type: str) -> dict[str, Any] | None:
    return next((u for u in state.people.values() if u.get(id_type) == value), None)


TOPICS = {"1": "todo", "2": "done", "3": "initiated", "17": "unread_cc", "18": "read_cc"}
_PROCESS_STATUS = {"PENDING": "1", "APPROVED": "2", "REJECTED": "3", "CANCELED": "4", "REVERTED": "4",
                   "DELETED": "5"}
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 100


def tasks_query(state: SandboxState, req: Request) -> Reply:
    user_value = req.query.get("user_id")
    topic = req.query.get("topic")
    if not user_value:
        raise ApiError(1390001, "param is invalid: user_id is required")
    if topic not in TOPICS:
        raise ApiError(1390001, f"param is invalid: topic must be one of {', '.join(TOPICS)}, got {topic!r}")
    id_type = _enum_query(req, "user_id_type", ID_TYPES, "open_id", 1390001)
    size = _page_size(req.query.get("page_size"))
    offset = _decode_page_token(req.query.get("page_token"), user_value, topic)
    user = _user_by(state, user_value, id_type)
    if user is None:
        raise ApiError(1390004)
    entries = _task_entries(state, user, user_value, topic)
    page = entries[offset:offset + size]
    has_more = offset + size < len(entries)
    token = _encode_page_token(offset + size, user_value, topic) if has_more else ""
    return ok({"tasks": page, "page_token": token, "has_more": has_more,
               "count": {"total": len(entries), "has_more": has_more}})


def _page_size(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise ApiError(99992402, f"field validation failed: page_size must be an integer, got {raw!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(99992402, f"field validation failed: page_size must be between 1 and {MAX_PAGE_SIZE}")
    return size


def _encode_page_token(offset: int, user: str, topic: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([offset, user, topic]).encode()).decode().rstrip("=")


def _decode_page_token(token: str | None, user: str, topic: str) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        offset, owner, owner_topic = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(1390001, "param is invalid: page_token is invalid") from None
    if owner != user or owner_topic != topic or not isinstance(offset, int) or offset < 0:
        raise ApiError(1390001, "param is invalid: page_token does not belong to this query")
    return offset


def _task_entries(state: SandboxState, user: Mapping[str, Any], user_value: str, topic: str) -> list[dict]:
    ids = {user["open_id"], user["user_id"]}
    found: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for inst in state.instances.values():
        if topic == "3":
            if inst["open_id"] in ids:
                found.append((inst["start_time"], inst, None))
            continue
        for task in inst.get("task_list") or ():
            if task.get("open_id") not in ids and task.get("user_id") not in ids:
                continue
            todo = task.get("status") == "PENDING" and inst.get("status") == "PENDING"
            done = task.get("status") in ("APPROVED", "REJECTED", "DONE", "TRANSFERRED")
            if (topic == "1" and todo) or (topic == "2" and done):
                found.append((task.get("start_time", "0"), inst, task))
    found.sort(key=lambda f: (-int(f[0] or 0), f[1]["instance_code"]))
    return [_task_entry(state, inst, task, user_value, topic) for _, inst, task in found]


def _task_entry(state: SandboxState, inst: Mapping[str, Any], task: Mapping[str, Any] | None, user_value: str,
                topic: str) -> dict[str, Any]:
    code = inst["instance_code"]
    definition = _DEFINITION_BY_CODE.get(inst["approval_code"], {})
    requester = data.find_user(state.people, inst["open_id"]) or {}
    name = definition.get("zh-CN", inst.get("approval_name", ""))
    applink = "https://applink.feishu.cn/client/mini_program/open?appId=cli_9cb844403dbb9108"
    return {
        "topic": topic,
        "user_id": user_value,
        "title": f"{requester.get('name', '')}提交的{name}",
        "urls": {
            "helpdesk": "",
            "mobile": f"{applink}&path=pages/detail/index?instanceId={code}",
            "pc": f"{applink}&mode=appCenter&path=pc/pages/in-process/index?instanceId={code}",
        },
        "process_external_id": "",
        "task_external_id": "",
        "status": "1" if topic == "1" else "2",
        "process_status": _PROCESS_STATUS.get(inst.get("status", ""), "0"),
        "definition_code": inst["approval_code"],
        "initiators": [inst["open_id"]],
        "initiator_names": [requester.get("name", "")],
        "task_id": (task or {}).get("id", ""),
        "process_id": code,
        "process_code": code,
        "definition_group_id": data.DEFINITION_GROUP["definition_group_id"],
        "definition_group_name": data.DEFINITION_GROUP["definition_group_name"],
        "definition_id": definition.get("definition_id", ""),
        "definition_name": name,
    }


# -- attendance -----------------------------------------------------------------------------------------------


def process(state: SandboxState, req: Request) -> Reply:
    """Seed 000: changes one attendance record, found by its attendance id. An approval v4 instance code names no
    record (the two id spaces are apart), so it is answered like any unknown id, and no instance ever changes."""
    body = _body(req, "process")
    approval_id = _field(body, "approval_id", str, "process")
    approval_type = _field(body, "approval_type", str, "process")
    status = _field(body, "status", int, "process")
    if not approval_id.strip():
        raise ApiError(1220001, "param is invalid: approval_id is empty")
    record = state.find_record(approval_id)
    refusal = rules.check_process(approval_id, approval_type, status, record)
    if refusal is not None:
        raise ApiError(refusal.code, refusal.msg, refusal.http_status)
    assert record is not None  # noqa: S101 - check_process refuses a missing record
    record["status"] = rules.RESULT[status]
    record["update_time"] = state.now_ms()
    return ok({"approval_info": {"approval_id": approval_id, "approval_type": approval_type,
                                 "status": record["status"]}})


# -- IM -----------------------------------------------------------------------------------------------------------

RECEIVE_ID_TYPES = ("open_id", "user_id", "union_id", "email", "chat_id")
PATCH_WINDOW_S = 14 * 86400


def _content_error(err: cardcheck.ContentError) -> ApiError:
    return ApiError(err.code, err.msg)


def _render_message(m: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: m[key] for key in ("message_id", "root_id", "parent_id", "msg_type", "create_time", "update_time",
                                   "deleted", "updated", "chat_id")}
    if m.get("thread_id"):
        out["thread_id"] = m["thread_id"]
    out["sender"] = dict(m["sender"])
    out["body"] = {"content": m["body"]}
    return out


def _resolve_chat(state: SandboxState, id_type: str, receive_id: str) -> str:
    if id_type == "chat_id":
        chat = state.chats.get(receive_id)
        if chat is None or data.BOT_OPEN_ID not in chat["members"]:
            raise ApiError(230002, "Bot/User can NOT be out of the chat.")
        return receive_id
    user = _user_by(state, receive_id, id_type)
    name = next((n for n, u in state.people.items() if u is user), None)
    if name is None or data.p2p_chat(name) not in state.chats:
        raise ApiError(230013)
    return data.p2p_chat(name)


def _message_payload(body: Mapping[str, Any], endpoint: str) -> tuple[str, str, Any, str]:
    msg_type = _field(body, "msg_type", str, endpoint)
    content = _field(body, "content", str, endpoint)
    uuid = _field(body, "uuid", str, endpoint, required=False) or ""
    if len(uuid) > 50:
        raise ApiError(99992402, "field validation failed: uuid is longer than 50 characters")
    try:
        decoded = cardcheck.parse_content(msg_type, content)
    except cardcheck.ContentError as err:
        raise _content_error(err) from None
    return msg_type, content, decoded, uuid


def message_create(state: SandboxState, req: Request) -> Reply:
    if "receive_id_type" not in req.query:
        raise ApiError(99992402, "field validation failed: receive_id_type is required")
    id_type = _enum_query(req, "receive_id_type", RECEIVE_ID_TYPES, "", 99992402)
    body = _body(req, "message_create")
    receive_id = _field(body, "receive_id", str, "message_create")
    msg_type, content, decoded, uuid = _message_payload(body, "message_create")
    if uuid and (existing := state.message_for_uuid("create", uuid)):
        return ok(_render_message(state.messages[existing]))
    chat_id = _resolve_chat(state, id_type, receive_id)
    message = state.add_message(chat_id=chat_id, msg_type=msg_type, body=content, content=decoded,
                                from_bot=True, uuid=uuid)
    if uuid:
        state.remember_uuid("create", uuid, message["message_id"])
    return ok(_render_message(message))


def _existing(state: SandboxState, message_id: str) -> dict[str, Any]:
    found = state.messages.get(message_id)
    if found is None:
        raise ApiError(230001, f"Your request contains an invalid request parameter, ext=invalid message_id "
                               f"{message_id!r}")
    if found["deleted"]:
        raise ApiError(230011)
    return found


def message_reply(state: SandboxState, req: Request) -> Reply:
    body = _body(req, "message_reply")
    msg_type, content, decoded, uuid = _message_payload(body, "message_reply")
    in_thread = _field(body, "reply_in_thread", bool, "message_reply", required=False) or False
    if uuid and (existing := state.message_for_uuid("reply", uuid)):
        return ok(_render_message(state.messages[existing]))
    parent = _existing(state, req.params["message_id"])
    thread_id = parent.get("thread_id") or ("omt_" + secrets.token_hex(8) if in_thread else "")
    message = state.add_message(chat_id=parent["chat_id"], msg_type=msg_type, body=content, content=decoded,
                                from_bot=True, parent_id=parent["message_id"],
                                root_id=parent.get("root_id") or parent["message_id"], thread_id=thread_id, uuid=uuid)
    if uuid:
        state.remember_uuid("reply", uuid, message["message_id"])
    return ok(_render_message(message))


def message_patch(state: SandboxState, req: Request) -> Reply:
    body = _body(req, "message_patch")
    content = _field(body, "content", str, "message_patch")
    message = _existing(state, req.params["message_id"])
    if not message["from_bot"]:
        raise ApiError(230027, "Lack of necessary permissions, ext=only messages this app sent can be updated")
    if message["msg_type"] != "interactive":
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=This message is NOT a card")
    if state.now() * 1000 - int(message["create_time"]) > PATCH_WINDOW_S * 1000:
        raise ApiError(230031, "Message has expired when updating message, ext=Message can only be updated "
                               "within fourteen days.")
    try:
        decoded = cardcheck.parse_content("interactive", content)
        cardcheck.check_replacement(message["content"], decoded, require_shared=True)
    except cardcheck.ContentError as err:
        raise _content_error(err) from None
    if not state.patch_allowed(message["message_id"]):
        raise ApiError(230020, "This operation triggers the frequency limit, ext=5 updates per second per message")
    state.update_message(message["message_id"], content, decoded, via="patch")
    return ok({})


def card_update(state: SandboxState, req: Request) -> Reply:
    body = _body(req, "card_update")
    token = _field(body, "token", str, "card_update")
    card = _field(body, "card", dict, "card_update")
    found = state.card_tokens.get(token)
    if found is None:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=card token is invalid")
    if state.now() - found.issued_at > CARD_TOKEN_TTL_S:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=card token expired "
                               "(valid for 30 minutes)")
    if found.uses >= CARD_TOKEN_MAX_USES:
        raise ApiError(230001, f"Your request contains an invalid request parameter, ext=card token used up "
                               f"({CARD_TOKEN_MAX_USES} updates per token)")
    message = _existing(state, found.message_id)
    card = {k: v for k, v in card.items() if k != "open_ids"}  # targets users on non-shared cards only
    try:
        cardcheck.check_card(card)
        cardcheck.check_replacement(message["content"], card, require_shared=False)
    except cardcheck.ContentError as err:
        raise _content_error(err) from None
    found.uses += 1
    # Feishu: an update sent before the callback was answered may be reverted by the answer; keep the evidence.
    via = "card_update" if found.answered_at is not None else "card_update_before_answer"
    state.update_message(message["message_id"], json.dumps(card, ensure_ascii=False), card, via=via)
    return ok({})


# -- contact, bot -------------------------------------------------------------------------------------------------


def user_get(state: SandboxState, req: Request) -> Reply:
    id_type = _enum_query(req, "user_id_type", ID_TYPES, "open_id", 99992402)
    user = _user_by(state, req.params["user_id"], id_type)
    if user is None:
        raise ApiError(41050)
    return ok({"user": copy.deepcopy(user)})


def bot_info(state: SandboxState, req: Request) -> Reply:
    return Reply(200, {"code": 0, "msg": "ok", "bot": {
        "activate_status": 2, "app_name": data.BOT_NAME, "avatar_url": data.BOT_AVATAR, "ip_white_list": [],
        "open_id": data.BOT_OPEN_ID}})
