"""The playground: a page that looks and behaves like a Feishu chat with the bot, served by the sandbox.

The page (`/` or `/playground`, plain HTML/CSS/JS from `sandbox/static/`, nothing from a CDN) talks to the JSON
endpoints under `/_playground/api/`:

- `GET  world`     sample users, chats, samples, Open API endpoint names, the bot's URL and locale;
- `POST send`      a user's message in a chat (`EventSender.message`: signed, encrypted, posted to the bot);
- `POST click`     a click on a button of a card the bot sent: the button is named by its path in the card the
                   page rendered, and the value sent is that card's real callback value (`EventSender.click`);
- `GET  messages`  a chat's messages changed since a cursor (each with a version, so updates show in place);
- `GET  calls`     the Open API calls the bot made, with every token and secret masked;
- `GET/POST/DELETE faults`  list, inject (`state.inject`) and clear Feishu latency or error codes; a value
                   that is out of range or of the wrong kind is answered 400 with what is wrong;
- `POST submit`    a new native submission arriving (`state.submit_instance`: Feishu pushes its events);
- `POST decide`    an approval decided elsewhere in Feishu: its first pending task approved or rejected in
                   the sandbox, which pushes the task and instance events to the bot;
- `POST digest`    the daily digest now (the bot's, when `approval-bot demo` runs it in this process).

The playground's context (state, sender) lives in `app.extensions[EXTENSION]`; `sandbox.demo.attach_bot` fills in
the sender once the bot runs. Nothing here trusts the page: paths, users and fault options are checked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory

from sandbox import data, worlds
from sandbox.sender import CALLBACK_DEADLINE_S, EventSender, SentEvent
from sandbox.state import ENDPOINTS, SandboxState

EXTENSION = "approval_playground"
STATIC_DIR = Path(__file__).with_name("static")
MAX_TEXT = 4000
MAX_CALLS_PER_POLL = 200
MAX_PATH_DEPTH = 32
ROLES = {"manager": "Manager", "manager2": "Second manager", "admin": "Admin", "employee": "Employee",
         "stranger": "Stranger"}
# What the page may inject: enough to watch the slow path and error handling, nothing that needs holds released.
FAULT_FIELDS: dict[str, type] = {"id": str, "latency_s": float, "http_status": int, "code": int, "msg": str,
                                 "times": int, "drop": bool}
MAX_LATENCY_S = 30.0
MAX_TIMES = 1000
MAX_COMMENT = 500
LOCALES = ("zh_cn", "en_us")

# Feishu's client-side errors when a card callback fails (feishu-protocol.md §3.1).
CLIENT_ERRORS = {
    "timeout": (200341, "The bot did not answer within 3 s"),
    "status": (200671, "The bot answered with HTTP {status}"),
    "body": (200672, "The bot's answer is not valid JSON"),
    "card": (200673, "The card in the bot's answer was refused: {reason}"),
}

bp = Blueprint("playground", __name__, static_folder=str(STATIC_DIR), static_url_path="/_playground/static")


@dataclass
class Playground:
    """What the endpoints need: the sandbox state, and the sender once a bot is attached."""

    state: SandboxState
    sender: EventSender | None = None
    locale: str = "zh_cn"
    bot_url: str = ""
    mentions: dict[str, dict[str, str]] = field(default_factory=dict)  # message id -> {"@_user_1": name}
    lock: threading.Lock = field(default_factory=threading.Lock)
    digest: Callable[[], int] | None = None  # sends the bot's daily digest now; set by the demo that runs the bot


def install(app: Flask, state: SandboxState) -> Playground:
    """Register the playground on the sandbox's Flask app (before it serves its first request)."""
    found = app.extensions.get(EXTENSION)
    if isinstance(found, Playground):
        return found
    playground = Playground(state)
    app.register_blueprint(bp)
    app.extensions[EXTENSION] = playground
    return playground


def _pg() -> Playground:
    return current_app.extensions[EXTENSION]


def _error(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"error": message}), status


# -- secrets ------------------------------------------------------------------------------------------------------

SECRET_KEYS = frozenset({"app_secret", "tenant_access_token", "app_access_token", "access_token", "token",
                         "encrypt_key", "verification_token", "refresh_token", "authorization"})
# Tenant/app tokens (t-g…, a-g…), card callback tokens (c-…), and the sample app secret wherever they appear.
_SECRET_TEXT = re.compile(r"\b(t-g|a-g|u-g|c-)[0-9A-Za-z]{12,}|" + re.escape(data.APP_SECRET))


def mask_text(text: str) -> str:
    return _SECRET_TEXT.sub(lambda m: (m.group(1) or "") + "••••(masked)", text)


def mask(value: Any) -> Any:
    """A copy of a call's body or answer with tokens and secrets replaced, at any depth and inside strings."""
    if isinstance(value, Mapping):
        return {k: ("••••(masked)" if str(k).lower() in SECRET_KEYS and value[k] not in (None, "") else mask(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


# -- the page -----------------------------------------------------------------------------------------------------


@bp.get("/")
@bp.get("/playground")
def page() -> Response:
    response = send_from_directory(STATIC_DIR, "playground.html", max_age=0)
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; "
                                                   "style-src 'self'; script-src 'self'; connect-src 'self'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/_playground/api/world")
def world() -> Response:
    pg = _pg()
    state = pg.state
    with state.lock:
        users = [{"key": key, "open_id": u["open_id"], "name": u["name"], "en_name": u["en_name"],
                  "role": ROLES.get(key, key)} for key, u in state.users.items()]
        group = state.chats.get(data.GROUP_CHAT, {})
    return jsonify({
        "users": users,
        "bot": {"name": data.BOT_NAME, "open_id": data.BOT_OPEN_ID},
        "group": {"chat_id": data.GROUP_CHAT, "name": group.get("name", "")},
        "samples": samples(),
        "endpoints": list(ENDPOINTS),
        "locale": pg.locale,
        "attached": pg.sender is not None,
        "bot_url": pg.bot_url,
        "callback_deadline_s": CALLBACK_DEADLINE_S,
        "definitions": sorted(worlds.FLOWS),
        "digest": pg.digest is not None,
    })


def samples() -> dict[str, str]:
    """The sales team's samples of each kind by name: native instances (UUID codes; `purchase_two_step` has two
    steps and is no attendance type), linked ones (`linked_*`, acted on through the record their form names) and
    attendance records with no instance (`record_*`, numeric ids)."""
    return {**data.INSTANCES, **{f"record_{name}": approval_id for name, approval_id in data.RECORD_IDS.items()
                                 if name not in LINKED_RECORDS}}


LINKED_RECORDS = ("remedy_linked", "leave_linked")  # reached through their linked instances


# -- sending and clicking -------------------------------------------------------------------------------------


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _user_key(state: SandboxState, raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    found = state.find_user(raw)
    return found["open_id"] if found else None


def _chat_for(user_open_id: str, chat: Any) -> str | None:
    if chat == "group" or chat == data.GROUP_CHAT:
        return "group"
    if chat in ("p2p", data.p2p_chat(user_open_id.removeprefix("ou_"))):
        return "p2p"
    return None


@bp.post("/_playground/api/send")
def send() -> tuple[Response, int] | Response:
    pg = _pg()
    if pg.sender is None:
        return _error("no bot is attached to this sandbox", 503)
    body = _body()
    user = _user_key(pg.state, body.get("user"))
    text = body.get("text")
    if user is None:
        return _error("user must be one of the sample users")
    chat = _chat_for(user, body.get("chat", "p2p"))
    if chat is None:
        return _error("chat must be 'p2p' (the user's chat with the bot) or 'group'")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return _error(f"text must be 1 to {MAX_TEXT} characters")
    mention = chat == "group" and bool(body.get("mention_bot", True))
    sent = pg.sender.message(user, text.strip(), chat=chat, mention_bot=mention)
    if mention:
        with pg.lock:
            pg.mentions[sent.message_id] = {"@_user_1": data.BOT_NAME}
    return jsonify({"message_id": sent.message_id, "status": sent.status, "elapsed_s": round(sent.elapsed_s, 3),
                    "error": sent.error})


def _resolve(card: Any, path: Any) -> tuple[Any, Any]:
    """The node at `path` (a list of keys and indexes) in the card, and the nearest enclosing form (or None)."""
    if not isinstance(path, list) or not 0 < len(path) <= MAX_PATH_DEPTH:
        raise LookupError("path must be a non-empty list")
    node, form = card, None
    for step in path:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and not isinstance(step, bool) \
                and 0 <= step < len(node):
            node = node[step]
        else:
            raise LookupError("no element at that path")
        if isinstance(node, dict) and node.get("tag") == "form":
            form = node
    return node, form


def _callback_value(button: Mapping[str, Any]) -> dict[str, Any] | None:
    for behavior in button.get("behaviors") or ():
        if isinstance(behavior, dict) and behavior.get("type") == "callback" and isinstance(behavior.get("value"),
                                                                                              dict):
            return behavior["value"]
    value = button.get("value")  # the 1.0 shape (and the SDK builder's): a top-level value object
    return value if isinstance(value, dict) else None


def _input_names(node: Any) -> list[str]:
    names: list[str] = []
    if isinstance(node, dict):
        if node.get("tag") in ("input", "select_static", "multi_select_static", "checker") and node.get("name"):
            names.append(str(node["name"]))
        for value in node.values():
            names.extend(_input_names(value))
    elif isinstance(node, list):
        for value in node:
            names.extend(_input_names(value))
    return names


def _form_value(button: Mapping[str, Any], form: Any, typed: Any) -> dict[str, str] | None:
    """What Feishu sends when a submit button of a form is clicked: every named field of that form."""
    if form is None or button.get("form_action_type") != "submit":
        return None
    typed = typed if isinstance(typed, dict) else {}
    out: dict[str, str] = {}
    for name in _input_names(form):
        value = typed.get(name, "")
        out[name] = value[:MAX_TEXT] if isinstance(value, str) else ""
    return out


def _shown_card(message: Mapping[str, Any], version: Any) -> Any:
    """The card as the page showed it (a click carries the value of what the user saw), else the current one."""
    history = message.get("history") or []
    if isinstance(version, int) and not isinstance(version, bool) and 1 <= version <= len(history):
        return history[version - 1]["content"]
    return message["content"]


def _client_error(sent: SentEvent) -> dict[str, Any] | None:
    """The error toast Feishu's client would show for this callback answer, if any."""
    if sent.status == 0 or sent.elapsed_s > CALLBACK_DEADLINE_S:
        code, text = CLIENT_ERRORS["timeout"]
    elif sent.status != 200:
        code, text = CLIENT_ERRORS["status"]
    elif not isinstance(sent.json, dict):
        code, text = CLIENT_ERRORS["body"]
    elif sent.card_error:
        code, text = CLIENT_ERRORS["card"]
    else:
        return None
    return {"type": "error", "content": f"{text.format(status=sent.status, reason=sent.card_error)} ({code})",
            "code": code}


def _toast(sent: SentEvent, locale: str) -> dict[str, Any] | None:
    toast = sent.toast
    if toast is None:
        return None
    i18n = toast.get("i18n") if isinstance(toast.get("i18n"), dict) else {}
    content = i18n.get(locale) or toast.get("content") or ""
    return {"type": str(toast.get("type") or "info"), "content": str(content)}


@bp.post("/_playground/api/click")
def click() -> tuple[Response, int] | Response:
    pg = _pg()
    if pg.sender is None:
        return _error("no bot is attached to this sandbox", 503)
    body = _body()
    user = _user_key(pg.state, body.get("user"))
    if user is None:
        return _error("user must be one of the sample users")
    message = pg.state.message(str(body.get("message_id") or ""))
    if message is None or not message["from_bot"] or message["msg_type"] != "interactive":
        return _error("no card with that message id", 404)
    try:
        button, form = _resolve(_shown_card(message, body.get("version")), body.get("path"))
    except LookupError as err:
        return _error(str(err))
    if not isinstance(button, dict) or button.get("tag") != "button":
        return _error("the path does not name a button")
    value = _callback_value(button)
    if value is None:
        return _error("that button has no callback (it only opens a link)")
    form_value = _form_value(button, form, body.get("form_value"))
    sent = pg.sender.click(user, value, message_id=message["message_id"], chat_id=message["chat_id"],
                           form_value=form_value, name=str(button.get("name") or ""))
    locale = body.get("locale") if body.get("locale") in LOCALES else pg.locale  # the reader's client language
    return jsonify({"status": sent.status, "elapsed_s": round(sent.elapsed_s, 3), "late": sent.late,
                    "toast": _client_error(sent) or _toast(sent, locale), "card_replaced": sent.card is not None,
                    "card_error": sent.card_error, "error": sent.error})


# -- polling ------------------------------------------------------------------------------------------------------


def _int_arg(name: str, default: int = 0) -> int:
    try:
        return max(0, int(request.args.get(name, default)))
    except ValueError:
        return default


def _preview(message: Mapping[str, Any] | None) -> str:
    if message is None:
        return ""
    content = message.get("content")
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"][:120]
    return "[card]" if message.get("msg_type") == "interactive" else f"[{message.get('msg_type')}]"


def _sender_view(state: SandboxState, message: Mapping[str, Any]) -> dict[str, str]:
    if message["from_bot"]:
        return {"open_id": data.BOT_OPEN_ID, "name": data.BOT_NAME, "en_name": data.BOT_NAME}
    open_id = message["sender"].get("id", "")
    found = state.find_user(open_id)
    return {"open_id": open_id, "name": found["name"] if found else open_id,
            "en_name": found["en_name"] if found else open_id}


def _message_view(pg: Playground, message: Mapping[str, Any]) -> dict[str, Any]:
    state = pg.state
    parent = state.messages.get(message["parent_id"]) if message.get("parent_id") else None
    with pg.lock:
        mentions = dict(pg.mentions.get(message["message_id"], {}))
    return {
        "message_id": message["message_id"], "chat_id": message["chat_id"], "msg_type": message["msg_type"],
        "from_bot": message["from_bot"], "sender": _sender_view(state, message),
        "create_time": int(message["create_time"]), "update_time": int(message["update_time"]),
        "version": len(message["history"]), "via": message["history"][-1]["via"], "deleted": message["deleted"],
        "parent_id": message.get("parent_id", ""), "parent_preview": _preview(parent),
        "parent_sender": _sender_view(state, parent)["name"] if parent else "",
        "mentions": mentions, "content": message["content"],
    }


@bp.get("/_playground/api/messages")
def messages() -> tuple[Response, int] | Response:
    """The chat's messages created or updated at or after `since` (ms), and the cursor for the next poll.

    `>=` so that an update in the same millisecond as the cursor is not missed; the page drops repeats by version.
    A changed `epoch` (the sandbox was reset) tells the page to start over.
    """
    pg = _pg()
    chat_id = request.args.get("chat", "")
    since = _int_arg("since")
    state = pg.state
    with state.lock:
        if chat_id not in state.chats:
            return _error("unknown chat", 404)
        found = [m for m in state.messages.values() if m["chat_id"] == chat_id]
        cursor = max([since, *(int(m["update_time"]) for m in found)])
        changed = [_message_view(pg, m) for m in found if int(m["update_time"]) >= since]
        epoch = state.epoch
    return jsonify({"epoch": epoch, "cursor": cursor, "messages": changed})


def _call_view(index: int, call: Any) -> dict[str, Any]:
    body = call.json if call.json is not None else (mask_text(call.body) if call.body else None)
    return {"index": index, "endpoint": call.endpoint, "method": call.method, "path": mask_text(call.path),
            "query": mask(call.query), "body": mask(body), "status": call.status, "code": call.code,
            "answer": mask(call.response), "outcome": call.outcome, "fault": call.fault,
            "duration_s": None if call.duration_s is None else round(call.duration_s, 4), "time": call.time,
            "log_id": call.log_id}


@bp.get("/_playground/api/calls")
def calls() -> Response:
    """Calls from index `since` on (the page asks again from its oldest call still in flight)."""
    state = _pg().state
    since = _int_arg("since")
    with state.lock:
        found = [_call_view(i, c) for i, c in enumerate(state.calls[since:since + MAX_CALLS_PER_POLL], start=since)]
        total, epoch = len(state.calls), state.epoch
    return jsonify({"epoch": epoch, "total": total, "calls": found})


# -- faults ---------------------------------------------------------------------------------------------------


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _option(name: str, kind: type, raw: Any) -> Any:
    """One fault option read strictly: "abc", 1.5 for a count or "yes" for a flag are errors, never dropped."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
    elif kind is str:
        if isinstance(raw, str):
            return raw[:200]
    elif not isinstance(raw, bool):
        try:
            value = kind(raw) if kind is float else _whole(raw)
        except (TypeError, ValueError, OverflowError):
            value = None
        if value is not None and value == value and value not in (float("inf"), float("-inf")):  # NaN, inf
            return value
    raise ValueError(f"{name} must be {_KIND_NAMES[kind]} (got {str(raw)[:40]!r})")


def _whole(raw: Any) -> int:
    if isinstance(raw, float) and not raw.is_integer():
        raise ValueError(raw)
    return int(raw)


_RANGES: dict[str, tuple[float, float]] = {"latency_s": (0, MAX_LATENCY_S), "http_status": (400, 599),
                                           "code": (1, 2**31 - 1), "times": (1, MAX_TIMES)}


def _fault_options(body: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(FAULT_FIELDS) - {"endpoint"})
    if unknown:
        raise ValueError(f"unknown fault options: {', '.join(unknown)}")
    options: dict[str, Any] = {}
    for name, kind in FAULT_FIELDS.items():
        raw = body.get(name)
        if raw is None or raw == "":
            continue
        options[name] = _option(name, kind, raw)
    for name, (low, high) in _RANGES.items():
        if name in options and not low <= options[name] <= high:
            raise ValueError(f"{name} must be between {low:g} and {high:g} (got {options[name]:g})")
    if not any(k in options for k in ("latency_s", "http_status", "code", "drop")):
        raise ValueError("say what to inject: latency_s, an error code, an HTTP status or drop")
    return options


@bp.get("/_playground/api/faults")
def list_faults() -> Response:
    state = _pg().state
    with state.lock:
        faults = [f.describe() | {"hits": f.hits} for f in state.faults]
    return jsonify({"faults": faults, "endpoints": list(ENDPOINTS)})


@bp.post("/_playground/api/faults")
def add_fault() -> tuple[Response, int] | Response:
    body = _body()
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str):
        return _error("endpoint is required")
    try:
        fault = _pg().state.inject(endpoint, **_fault_options(body))
    except ValueError as err:
        return _error(str(err))
    return jsonify({"fault": fault.describe()})


@bp.delete("/_playground/api/faults")
def clear_faults() -> Response:
    state = _pg().state
    state.clear_faults()
    state.release_holds()
    return jsonify({"ok": True})


# -- what happens elsewhere in Feishu ---------------------------------------------------------------------------


@bp.post("/_playground/api/submit")
def submit() -> tuple[Response, int] | Response:
    """A new submission arrives: a native instance of `definition` by `requester`; Feishu pushes its events."""
    body = _body()
    definition, requester = body.get("definition"), _user_key(_pg().state, body.get("requester"))
    if not isinstance(definition, str) or definition not in worlds.FLOWS:
        return _error(f"definition must be one of: {', '.join(sorted(worlds.FLOWS))}")
    if requester is None:
        return _error("requester must be one of the sample users")
    try:
        code = _pg().state.submit_instance(definition, requester)
    except ValueError as err:
        return _error(str(err))
    return jsonify({"instance_code": code})


@bp.post("/_playground/api/decide")
def decide() -> tuple[Response, int] | Response:
    body = _body()
    code, action, comment = body.get("instance_code"), body.get("action"), body.get("comment", "")
    if not isinstance(code, str) or not code.strip():
        return _error("instance_code is required")
    if action not in ("approve", "reject"):
        return _error("action must be 'approve' or 'reject'")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        return _error(f"comment must be text of at most {MAX_COMMENT} characters")
    try:
        return jsonify(_pg().state.decide(code.strip(), action == "approve", comment))
    except LookupError as err:
        return _error(str(err), 404)
    except ValueError as err:
        return _error(str(err), 409)


@bp.post("/_playground/api/digest")
def digest() -> tuple[Response, int] | Response:
    run = _pg().digest
    if run is None:
        return _error("the daily digest is the bot's: it can be sent from here when `approval-bot demo` runs it", 503)
    return jsonify({"sent": run()})


def set_digest(app: Flask, run: Callable[[], int]) -> None:
    """Let the page send the bot's daily digest now (the demo, which runs the bot in this process, calls this)."""
    playground = app.extensions.get(EXTENSION)
    if isinstance(playground, Playground):
        playground.digest = run
