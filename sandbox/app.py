"""The sandbox as a Flask app: the Open Platform routes, fault injection around them, and `/_sandbox/` controls.

Every /open-apis request is recorded in `state.calls` on arrival and completed when answered. Injected faults are
applied in this order: hold, latency, then an error answer or a dropped connection instead of the real answer, or
the real answer followed by `hold_after_apply` / `drop_after_apply` ("applied, response lost").
"""

from __future__ import annotations

import json
import logging
import math
import queue
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, request

from sandbox import api, api_approval, api_attendance, api_contact, data, flow, worlds
from sandbox.longconn import ENDPOINT_PATH, LongConnHub, endpoint_view
from sandbox.state import FAULT_OPTIONS, Call, EventTarget, Fault, SandboxState

log = logging.getLogger(__name__)

Handler = Callable[[SandboxState, api.Request], api.Reply]


class ConnectionDropped(ConnectionAbortedError):
    """Raised after the socket was shut: werkzeug treats it as a dropped connection and writes nothing."""


def new_log_id() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


# -- the route table ------------------------------------------------------------------------------------------

ROUTES: tuple[tuple[str, str, str, bool], ...] = (
    # endpoint, method, rule, needs a tenant token
    ("token", "POST", "/open-apis/auth/v3/tenant_access_token/internal", False),
    ("app_token", "POST", "/open-apis/auth/v3/app_access_token/internal", False),
    ("instance_get", "GET", "/open-apis/approval/v4/instances/<instance_id>", True),
    ("tasks_query", "GET", "/open-apis/approval/v4/tasks/query", True),
    ("process", "POST", "/open-apis/attendance/v1/approval_infos/process", True),
    ("message_create", "POST", "/open-apis/im/v1/messages", True),
    ("message_reply", "POST", "/open-apis/im/v1/messages/<message_id>/reply", True),
    ("message_patch", "PATCH", "/open-apis/im/v1/messages/<message_id>", True),
    ("card_update", "POST", "/open-apis/interactive/v1/card/update", True),
    ("bot_info", "GET", "/open-apis/bot/v3/info", True),
    # -- the two worlds (sandbox.worlds): native tasks, attendance records, contact, subscriptions --------------
    ("task_approve", "POST", "/open-apis/approval/v4/tasks/approve", True),
    ("task_reject", "POST", "/open-apis/approval/v4/tasks/reject", True),
    ("task_transfer", "POST", "/open-apis/approval/v4/tasks/transfer", True),
    ("instance_cancel", "POST", "/open-apis/approval/v4/instances/cancel", True),
    ("approval_subscribe", "POST", "/open-apis/approval/v4/approvals/<approval_code>/subscribe", True),
    ("remedy_create", "POST", "/open-apis/attendance/v1/user_task_remedys", True),
    ("remedy_query", "POST", "/open-apis/attendance/v1/user_task_remedys/query", True),
    ("user_approval_create", "POST", "/open-apis/attendance/v1/user_approvals", True),
    ("user_approval_query", "POST", "/open-apis/attendance/v1/user_approvals/query", True),
    ("department_get", "GET", "/open-apis/contact/v3/departments/<department_id>", True),
    # before users/<user_id>: Flask would otherwise take "batch" for a user id
    ("user_batch", "GET", "/open-apis/contact/v3/users/batch", True),
    ("user_find_by_department", "GET", "/open-apis/contact/v3/users/find_by_department", True),
    ("user_get", "GET", "/open-apis/contact/v3/users/<user_id>", True),
    # -- end of the two worlds' routes ------------------------------------------------------------------------
)


def create_sandbox_app(state: SandboxState | None = None) -> Flask:
    """A Flask app serving the sandbox over `state` (a fresh seeded one when not given)."""
    state = state if state is not None else SandboxState()
    app = Flask("sandbox")
    # ConnectionDropped must reach werkzeug (which then closes quietly); handlers catch everything else.
    app.config["PROPAGATE_EXCEPTIONS"] = True
    app.extensions["sandbox_state"] = state
    handlers = _handlers(state)
    state.event_sink = ApprovalEventPusher(state).push
    for endpoint, method, rule, needs_auth in ROUTES:
        app.add_url_rule(rule, endpoint, _view(state, endpoint, handlers[endpoint], needs_auth), methods=[method])
    app.add_url_rule("/open-apis/<path:rest>", "unknown", _view(state, "unknown", _not_found, False),
                     methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    _control_routes(app, state)
    # The long connection: discovery here; its WebSocket server starts on the first discovery (sandbox/longconn.py).
    hub = LongConnHub(state.app_id, state.app_secret)
    app.extensions["sandbox_longconn"] = hub
    app.add_url_rule(ENDPOINT_PATH, "callback_ws_endpoint", endpoint_view(hub), methods=["POST"])

    @app.after_request
    def _log_id(response: Response) -> Response:  # Flask's own 404/405 answers get one too
        if "X-Tt-Logid" not in response.headers:
            response.headers["X-Tt-Logid"] = new_log_id()
        return response

    return app


def _handlers(state: SandboxState) -> dict[str, Handler]:
    # process changes attendance records only: it pushes no approval event (those follow task changes, flow.py)
    return {"token": api.tenant_token, "app_token": api.app_token, "instance_get": api.instance_get,
            "tasks_query": api.tasks_query, "process": api.process, "message_create": api.message_create,
            "message_reply": api.message_reply, "message_patch": api.message_patch, "card_update": api.card_update,
            "bot_info": api.bot_info, **WORLD_HANDLERS}


WORLD_HANDLERS: dict[str, Handler] = {
    "task_approve": api_approval.task_approve, "task_reject": api_approval.task_reject,
    "task_transfer": api_approval.task_transfer, "instance_cancel": api_approval.instance_cancel,
    "approval_subscribe": api_approval.approval_subscribe, "remedy_create": api_attendance.remedy_create,
    "remedy_query": api_attendance.remedy_query, "user_approval_create": api_attendance.user_approval_create,
    "user_approval_query": api_attendance.user_approval_query, "department_get": api_contact.department_get,
    "user_batch": api_contact.user_batch, "user_find_by_department": api_contact.find_by_department,
    "user_get": api_contact.user_get,
}


def _not_found(state: SandboxState, req: api.Request) -> api.Reply:
    return api.Reply(404, {"code": 404, "msg": f"404 page not found: {req.method} {req.path}"})


# -- one request ------------------------------------------------------------------------------------------------


def _read_request(params: dict[str, str]) -> api.Request:
    raw = request.get_data(cache=True)
    decoded: Any = None
    if raw:
        try:
            decoded = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            decoded = api.INVALID
    return api.Request(method=request.method, path=request.path, params=dict(params),
                       query=request.args.to_dict(flat=True), json=decoded, body=raw, headers=dict(request.headers),
                       multi=request.args.to_dict(flat=False))


def _view(state: SandboxState, endpoint: str, handler: Handler, needs_auth: bool) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        return _serve(state, endpoint, handler, needs_auth, _read_request(params))

    view.__name__ = f"sandbox_{endpoint}"
    return view


def _serve(state: SandboxState, endpoint: str, handler: Handler, needs_auth: bool, req: api.Request) -> Response:
    recorded_headers = {k: v for k, v in req.headers.items() if k.lower() != "authorization"}
    call = state.begin_call(endpoint, req.method, req.path, req.query,
                            None if req.json is api.INVALID else req.json,
                            req.body.decode("utf-8", "replace"), recorded_headers)
    with state.lock:
        fault = state.take_fault(endpoint, api.subject(endpoint, req, state))
    if fault is None:
        reply = _run(state, call, handler, needs_auth, req)
        return _drop(state, call, "aborted") if reply is None else _finish(state, call, reply)
    call.fault = fault.describe()
    if fault.hold and not state.hold(call.epoch):
        return _drop(state, call, "aborted")
    if fault.latency_s and not state.pause(fault.latency_s, call.epoch):
        return _drop(state, call, "aborted")
    if fault.drop:
        return _drop(state, call, "dropped")
    if fault.answers_error:
        return _finish(state, call, _fault_reply(endpoint, fault))
    reply = _run(state, call, handler, needs_auth, req)
    if reply is None:
        return _drop(state, call, "aborted")
    if fault.hold_after_apply:
        state.hold(call.epoch)
    if fault.drop_after_apply:
        return _drop(state, call, "dropped")
    return _finish(state, call, reply)


def _run(state: SandboxState, call: Call, handler: Handler, needs_auth: bool,
         req: api.Request) -> api.Reply | None:
    """The endpoint's answer; None when reset() ran while this request waited (it must not touch the new world)."""
    try:
        with state.lock:
            if state.epoch != call.epoch:
                return None
            if needs_auth:
                api.authorize(state, req)
            over = state.admit(call.endpoint)
            if over is not None:  # throttled calls are not applied
                return _throttled(*over)
            reply = handler(state, req)
            call.applied = True
    except api.ApiError as err:
        return api.Reply(err.status, {"code": err.code, "msg": err.msg})
    except Exception as err:  # a sandbox bug must still look like a Feishu 500, and be visible in the log
        log.exception("sandbox handler %s failed", call.endpoint)
        return api.Reply(500, {"code": api.default_code(call.endpoint, 500), "msg": f"sandbox internal error: {err}"})
    if reply.after is not None:
        reply.after()
    return reply


def _throttled(limit: int, reset_s: float) -> api.Reply:
    return api.Reply(429, {"code": 99991400, "msg": api.CODE_MSG[99991400]},
                     headers={"x-ogw-ratelimit-limit": str(limit),
                              "x-ogw-ratelimit-reset": str(max(1, math.ceil(reset_s)))})


def _fault_reply(endpoint: str, fault: Fault) -> api.Reply:
    if fault.body is not None:
        return api.Reply(fault.http_status or 502, None, raw=fault.body.encode("utf-8"),
                         content_type="text/html; charset=utf-8")
    status, code = fault.http_status, fault.code
    if code is None:
        code = 99991400 if fault.rate_limit_reset_s is not None else api.default_code(endpoint, status or 500)
    if status is None:
        status = api.http_status_for(code)
    headers: dict[str, str] = {}
    if fault.rate_limit_reset_s is not None:
        headers["x-ogw-ratelimit-limit"] = "50"
        headers["x-ogw-ratelimit-reset"] = str(max(0, math.ceil(fault.rate_limit_reset_s)))
    msg = fault.msg or api.CODE_MSG.get(code) or _http_reason(status)
    return api.Reply(status, {"code": code, "msg": msg}, headers=headers)


def _http_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _finish(state: SandboxState, call: Call, reply: api.Reply) -> Response:
    log_id = new_log_id()
    body = reply.body
    if isinstance(body, dict) and body.get("code") not in (0, None):
        body = {**body, "error": {"log_id": log_id,
                                  "troubleshooter": f"排查建议查看(Troubleshooting suggestions): "
                                                    f"https://open.feishu.cn/search?from=openapi&log_id={log_id}"
                                                    f"&code={body['code']}"}}
    payload = reply.raw if reply.raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    outcome = "ok" if reply.status < 400 and (not isinstance(body, dict) or body.get("code") in (0, None)) \
        else "error"
    state.end_call(call, status=reply.status, response=body if reply.raw is None else None, log_id=log_id,
                   outcome=outcome)
    response = Response(payload, status=reply.status, content_type=reply.content_type)
    response.headers["X-Tt-Logid"] = log_id
    for key, value in reply.headers.items():
        response.headers[key] = value
    return response


def _drop(state: SandboxState, call: Call, outcome: str) -> Response:
    """Close the connection without an answer: the client sees a reset, not a response."""
    if call.epoch == state.epoch:
        state.end_call(call, status=None, response=None, log_id="", outcome=outcome)
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionDropped(f"sandbox dropped the connection ({outcome})")


# -- approval events of subscribed definitions ------------------------------------------------------------------


IDLE_S = 1.0  # an idle event worker ends after this long


class ApprovalEventPusher:
    """Posts approval events to the state's event target one at a time, in the order they happened (one worker
    thread, started on first use), as Feishu delivers one push after another."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._queue: queue.Queue[tuple[EventTarget, int, list[flow.FlowEvent]]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def push(self, events: list[flow.FlowEvent]) -> None:
        target = self.state.event_target
        if target is None:
            return
        self._queue.put((target, self.state.epoch, list(events)))
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="sandbox-approval-events", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            try:
                target, epoch, events = self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # idle: end; the next push starts a new worker
                        self._worker = None
                        return
                continue
            if epoch == self.state.epoch:
                _post_approval_events(self.state, target, epoch, events)


def _post_approval_events(state: SandboxState, target: EventTarget, epoch: int,
                          events: list[flow.FlowEvent]) -> None:
    from sandbox.sender import EventSender  # the sender imports the state; import late to keep modules apart

    sender = EventSender(target.url, encrypt_key=target.encrypt_key, verification_token=target.verification_token,
                         app_id=target.app_id, clock=state.now)
    for event in events:
        entry: dict[str, Any] = {"type": f"approval_{event.kind}", "instance_code": event.instance_code,
                                 "status": event.status, "task_id": event.task_id, "time": time.time()}
        try:
            if event.kind == "task":
                sent = sender.approval_task(event.instance_code, event.task_id, event.status,
                                            approval_code=event.approval_code, user_id=event.user_id,
                                            open_id=event.open_id, custom_key=event.custom_key,
                                            def_key=event.def_key, operate_time=event.operate_time, path=target.path)
            else:
                sent = sender.approval_instance(event.instance_code, event.status, approval_code=event.approval_code,
                                                operate_time=event.operate_time, instance_uuid=event.instance_uuid,
                                                path=target.path)
            entry.update(http_status=sent.status, event_id=sent.event_id, error=sent.error)
        except Exception as err:  # a failed push must not break the sandbox; tests read the entry
            entry.update(http_status=None, error=repr(err))
        state.record_notification(entry, epoch)


# -- /_sandbox/ controls ----------------------------------------------------------------------------------------------


def _json(payload: Any, status: int = 200) -> Response:
    response = Response(json.dumps(payload, ensure_ascii=False, default=str), status=status,
                        content_type="application/json; charset=utf-8")
    response.headers["X-Tt-Logid"] = new_log_id()
    return response


def _control_routes(app: Flask, state: SandboxState) -> None:
    @app.get("/_sandbox/calls")
    def calls() -> Response:
        endpoint = request.args.get("endpoint")
        with state.lock:
            found = [c.to_dict() for c in state.calls if endpoint in (None, c.endpoint)]
        return _json({"calls": found})

    @app.post("/_sandbox/reset")
    def reset() -> Response:
        state.reset()
        return _json({"ok": True})

    @app.post("/_sandbox/faults")
    def add_fault() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "endpoint" not in body:
            return _json({"error": "body must be a JSON object with `endpoint` and inject options"}, 400)
        unknown = sorted(set(body) - FAULT_OPTIONS - {"endpoint"})
        if unknown:
            return _json({"error": f"unknown fault options: {', '.join(unknown)}"}, 400)
        try:
            fault = state.inject(body.pop("endpoint"), **body)
        except (TypeError, ValueError) as err:
            return _json({"error": str(err)}, 400)
        return _json({"fault": fault.describe()})

    @app.delete("/_sandbox/faults")
    def clear_faults() -> Response:
        state.clear_faults()
        return _json({"ok": True})

    @app.get("/_sandbox/faults")
    def list_faults() -> Response:
        with state.lock:
            return _json({"faults": [f.describe() | {"hits": f.hits} for f in state.faults]})

    @app.post("/_sandbox/release")
    def release() -> Response:
        state.release_holds()
        return _json({"ok": True})

    @app.get("/_sandbox/messages")
    def messages() -> Response:
        include_users = request.args.get("all") in ("1", "true")
        return _json({"chats": state.messages_by_chat(include_users=include_users)})

    @app.get("/_sandbox/state/<any_id>")
    def snapshot(any_id: str) -> Response:
        found = state.snapshot(any_id)
        status = 200 if found["instance"] or found["attendance"] else 404
        return _json(found, status)

    @app.get("/_sandbox/samples")
    def samples() -> Response:
        return _json({"instances": data.INSTANCES, "records": data.RECORD_IDS, "app_id": state.app_id,
                      "tenant_key": state.tenant_key, "bot_open_id": data.BOT_OPEN_ID, "native": dict(worlds.NATIVE),
                      "attendance": dict(worlds.RECORDS)})

    @app.post("/_sandbox/event_target")
    def event_target() -> Response:
        body = request.get_json(silent=True) or {}
        if not body.get("url"):
            state.event_target = None
            return _json({"event_target": None})
        try:
            state.event_target = EventTarget(**body)
        except TypeError as err:
            return _json({"error": str(err)}, 400)
        return _json({"event_target": body})

    _world_controls(app, state)


def _world_controls(app: Flask, state: SandboxState) -> None:
    """New submissions and the contact data range, for tests and the playground."""

    @app.post("/_sandbox/submit")
    def submit() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object with `kind`"}, 400)
        try:
            return _json(_submit(state, body))
        except (KeyError, TypeError, ValueError) as err:
            return _json({"error": f"cannot submit: {err}"}, 400)

    @app.post("/_sandbox/contact_scope")
    def contact_scope() -> Response:
        body = request.get_json(silent=True) or {}
        if not body:
            state.clear_contact_scope()
            return _json({"contact_scope": None})
        state.set_contact_scope(departments=body.get("departments") or (), users=body.get("users") or ())
        return _json({"contact_scope": body})


def _submit(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("kind")
    if kind == "native":
        return {"instance_code": state.submit_instance(str(body["definition"]), str(body["requester"]),
                                                       body.get("form"))}
    if kind == "remedy":
        fields = {k: body[k] for k in ("remedy_date", "punch_no", "work_type", "remedy_time", "reason")}
        return {"approval_id": state.submit_remedy(str(body["employee"]), **fields)["approval_id"]}
    if kind in ("leave", "out", "overtime", "trip"):
        found = state.submit_user_approval(str(body["employee"]), kind, str(body["date"]), dict(body["item"]))
        return {"approval_id": found["approval_id"]}
    raise ValueError(f"kind must be native, remedy, leave, out, overtime or trip, got {kind!r}")
