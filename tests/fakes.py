"""In-memory stand-ins for the shell (the gateway, the store, the pool) and factories for inbound values, so the
application (handlers/) is tested in-process without Flask, SQLite or lark-oapi (docs/architecture.md).

They keep the contracts of `handlers/ports.py`: the fake store's claims are leases, its locks expire, its
audit log is append-only; the fake gateway raises `FeishuError` as the real one does.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from core.errors import FeishuError
from core.inbound import CardClick, Mention, MessageIn
from core.records import AuditRecord, ClaimResult, TaskPage
from core.rules import Actor

BOT_OPEN_ID = "ou_bot"
_ids = itertools.count(1)


class InlinePool(Executor):
    """Runs each job at once in the caller's thread: deterministic tests of everything but the late path."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - a Future carries whatever the job raised
            future.set_exception(exc)
        return future


class FakeStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.claims: dict[str, tuple[str, float]] = {}  # key -> (state, lease until)
        self.locks: dict[str, tuple[str, float]] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.audit: list[AuditRecord] = []
        self.cards: dict[str, list[str]] = {}
        self.copies: dict[str, dict[str, Any]] = {}  # message id -> {"kind", "recipient", "shared", …}
        self.serials: dict[str, str] = {}
        self.seen_approvers: dict[str, float] = {}
        self.writes = 0

    def claim(self, key: str, lease_s: float, now: float) -> ClaimResult:
        with self.lock:
            self.writes += 1
            state, until = self.claims.get(key, ("", 0.0))
            if state == "done":
                return ClaimResult.DONE
            if state == "claimed" and until > now:
                return ClaimResult.BUSY
            self.claims[key] = ("claimed", now + lease_s)
            return ClaimResult.NEW

    def finish(self, key: str, now: float) -> None:
        with self.lock:
            self.claims[key] = ("done", now)

    def release(self, key: str) -> None:
        with self.lock:
            self.claims.pop(key, None)

    def sweep(self, now: float, keep_s: float = 48 * 3600) -> int:
        return 0

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        with self.lock:
            holder, until = self.locks.get(name, ("", 0.0))
            if holder and holder != owner and until > now:
                return False
            self.locks[name] = (owner, now + ttl_s)
            return True

    def release_lock(self, name: str, owner: str) -> bool:
        with self.lock:
            if self.locks.get(name, ("", 0.0))[0] != owner:
                return False
            del self.locks[name]
            return True

    def take_lease(self, name: str, owner: str, until: float, now: float) -> bool:
        with self.lock:
            holder, expires = self.leases.get(name, ("", 0.0))
            if holder and holder != owner and expires > now:
                return False
            self.leases[name] = (owner, until)
            return True

    def record_intent(self, intent_id: str, approval_id: str, action: str, operator: str, now: float,
                      detail: dict[str, Any] | None = None) -> None:
        with self.lock:
            self.intents.setdefault(intent_id, {"intent_id": intent_id, "approval_id": approval_id, "action": action,
                                                "operator": operator, "state": "sending", "created": now,
                                                "detail": dict(detail or {})})

    def finish_intent(self, intent_id: str, outcome: str, now: float) -> None:
        with self.lock:
            self.intents[intent_id]["state"] = outcome

    def open_intents(self, older_than: float) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(i) for i in self.intents.values() if i["state"] == "sending" and i["created"] <= older_than]

    def remember_approvers(self, open_ids: list[str], now: float) -> None:
        with self.lock:
            self.seen_approvers.update({o: now for o in open_ids if o})

    def approvers(self, seen_since: float) -> list[str]:
        with self.lock:
            return sorted(o for o, at in self.seen_approvers.items() if at >= seen_since)

    def remember_card(self, approval_id: str, message_id: str, now: float) -> None:
        with self.lock:
            known = self.cards.setdefault(approval_id, [])
            if message_id not in known:
                known.append(message_id)
                del known[:-20]  # as bot/store.py: the newest CARDS_KEPT copies

    def cards_for(self, approval_id: str) -> list[str]:
        with self.lock:
            return list(self.cards.get(approval_id, ()))

    def remember_copy(self, message_id: str, view: Mapping[str, Any], now: float) -> None:
        with self.lock:
            self.copies[message_id] = json.loads(json.dumps(dict(view)))  # stored as JSON, as the real store

    def copy_of(self, message_id: str) -> dict[str, Any] | None:
        with self.lock:
            view = self.copies.get(message_id)
            return dict(view) if view is not None else None

    def remember_serial(self, serial: str, instance_code: str, now: float) -> None:
        with self.lock:
            self.serials[serial] = instance_code

    def instance_for_serial(self, serial: str) -> str | None:
        with self.lock:
            return self.serials.get(serial)

    def append_audit(self, record: AuditRecord, *, settles: str = "") -> int:
        with self.lock:
            if settles:
                self.intents[settles]["state"] = record.outcome
            self.audit.append(record)
            return len(self.audit)

    def history(self, approval_id: str) -> list[AuditRecord]:
        with self.lock:
            return [r for r in self.audit if r.approval_id == approval_id]

    def last_success(self, approval_id: str) -> AuditRecord | None:
        with self.lock:
            done = [r for r in self.audit if r.approval_id == approval_id and r.outcome == "done"]
        return done[-1] if done else None


@dataclass
class FakeGateway:
    """Instances by code (seed 004's `data`); `process` changes them as seed 000 says, unless told to fail."""

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # open_id -> to-do tasks
    process_error: FeishuError | None = None
    apply_despite_error: bool = False  # the write lands although its answer is lost
    calls: list[tuple[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # replies and new messages, in order
    patched: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)  # (message id, card), in order
    on_process: Callable[[], None] | None = None  # e.g. wait on an event to hold the call
    subscribed: set[str] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)  # attendance records, as the queries list them

    def get_instance(self, instance_id: str, deadline: float | None = None) -> dict[str, Any]:
        self.calls.append(("instance_get", instance_id))
        if instance_id not in self.instances:
            raise FeishuError(1390003, "instance not found", log_id="log-not-found")
        return copy.deepcopy(self.instances[instance_id])  # a snapshot, as an answer over the wire is

    def query_tasks(self, user_id: str, page_size: int = 10, page_token: str = "",
                    deadline: float | None = None) -> TaskPage:
        self.calls.append(("tasks_query", user_id))
        tasks = tuple(self.tasks.get(user_id, ()))
        return TaskPage(tasks[:page_size], None, len(tasks))

    def process(self, approval_id: str, approval_type: str, status: int) -> dict[str, Any]:
        self.calls.append(("process", (approval_id, approval_type, status)))
        if self.on_process is not None:
            self.on_process()
        target = {2: "APPROVED", 1: "REJECTED", 4: "REVERTED"}[status]
        if self.process_error is not None:
            if self.apply_despite_error:
                self._set_status(approval_id, target)
            raise self.process_error
        self._set_status(approval_id, target)
        return {"approval_info": {"approval_id": approval_id, "status": status}, "log_id": "log-process"}

    def act_on_task(self, verb: str, approval_code: str, instance_code: str, task_id: str, open_id: str,
                    comment: str = "") -> dict[str, Any]:
        self.calls.append((f"task_{verb}", (instance_code, task_id, open_id, comment)))
        if self.on_process is not None:
            self.on_process()
        if self.process_error is not None and not self.apply_despite_error:
            raise self.process_error
        data = self.instances[instance_code]
        for task in data["task_list"]:
            if task["id"] == task_id:
                task["status"] = "APPROVED" if verb == "approve" else "REJECTED"
        if verb == "reject" or all(t["status"] != "PENDING" for t in data["task_list"]):
            data["status"] = "APPROVED" if verb == "approve" else "REJECTED"
        if self.process_error is not None:
            raise self.process_error
        return {"log_id": f"log-task-{verb}"}

    def query_remedies(self, employee_ids: list[str], time_from_s: int, time_to_s: int,
                       status: int | None = None) -> dict[str, Any]:
        self.calls.append(("remedy_query", tuple(employee_ids)))
        wanted = 2 if status is None else status
        return {"user_remedys": [r for r in self.records if r.get("kind") == "remedy"
                                 and r["user_id"] in employee_ids and r["status"] == wanted]}

    def query_user_approvals(self, employee_ids: list[str], date_from: int, date_to: int,
                             status: int) -> dict[str, Any]:
        self.calls.append(("user_approval_query", tuple(employee_ids)))
        found = [r for r in self.records if r.get("kind") != "remedy" and r["user_id"] in employee_ids
                 and r["status"] == status]
        return {"user_approvals": [{"user_id": r["user_id"], "date": "20261120", f"{r['kind']}s": [r]}
                                   for r in found]}

    def _set_status(self, attendance_id: str, status: str) -> None:
        for record in self.records:  # attendance's record is what process changes
            if record["approval_id"] == attendance_id:
                record["status"] = {"APPROVED": 2, "REJECTED": 1, "REVERTED": 4}[status]
        for data in self.instances.values():
            form = str(data.get("form") or "")
            if data.get("instance_code") == attendance_id or f'"value": "{attendance_id}"' in form:
                data["status"] = status

    def send_card(self, receive_id: str, card: Mapping[str, Any], id_type: str = "open_id", uuid: str = "") -> str:
        return self._sent("send", receive_id, card)

    def reply_card(self, message_id: str, card: Mapping[str, Any], uuid: str = "") -> str:
        return self._sent("reply", message_id, card)

    def _sent(self, kind: str, target: str, card: Mapping[str, Any]) -> str:
        message_id = f"om_bot_{next(_ids)}"
        self.calls.append((kind, target))
        self.sent.append({"kind": kind, "to": target, "card": card, "message_id": message_id})
        return message_id

    def patch_card(self, message_id: str, card: Mapping[str, Any]) -> None:
        self.calls.append(("patch", message_id))
        self.patched.append((message_id, card))

    def delayed_update(self, token: str, card: Mapping[str, Any]) -> None:
        self.calls.append(("card_update", token))

    def user_name(self, user_id: str, id_type: str = "open_id", locale: str = "zh_cn") -> str | None:
        return self.names.get(user_id)

    def bot_open_id(self) -> str:
        return BOT_OPEN_ID

    def subscribe_approval(self, approval_code: str) -> bool:
        self.calls.append(("subscribe", approval_code))
        if approval_code in self.subscribed:
            return False
        self.subscribed.add(approval_code)
        return True

    def count(self, endpoint: str) -> int:
        return sum(1 for name, _ in self.calls if name == endpoint)


@dataclass(frozen=True)
class FakeSettings:
    locale: str = "en_us"
    admins: frozenset[str] = frozenset({"ou_admin"})
    timezone: str = "Asia/Shanghai"
    attendance_id_field: str = "attendance_approval_id"
    answer_budget_s: float = 2.5
    digest_time: str = ""
    settle_window_s: float = 600.0
    approval_codes: tuple[str, ...] = ()
    base_url: str = "https://open.feishu.cn"


def make_context(gateway: FakeGateway | None = None, store: FakeStore | None = None, *,
                 pool: Executor | None = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] = lambda _s: None, routes: Any = None,
                 on_settled: Callable[[str, str], None] = lambda _e, _o: None, **settings: Any) -> Any:
    from handlers import registry
    from handlers.context import Context

    now = itertools.count(1_795_136_580)
    return Context(config=FakeSettings(**settings), feishu=gateway or FakeGateway(), store=store or FakeStore(),
                   pool=pool or InlinePool(), registry=routes or registry(),
                   clock=clock or (lambda: float(next(now))), sleep=sleep, on_settled=on_settled)


# -- inbound values, as the gateway would parse them ----------------------------------------------------------


def message(user: str, text: str, *, chat: str = "p2p", mention_bot: bool = False, sender_type: str = "user",
            message_id: str = "") -> MessageIn:
    import json

    mentions = (Mention("@_user_1", BOT_OPEN_ID, "Approval Bot", "bot"),) if mention_bot else ()
    body = f"@_user_1 {text}" if mention_bot else text
    number = next(_ids)
    return MessageIn(f"ev_{number}", message_id or f"om_{number}", f"oc_{chat}_{user}", chat, "text",
                     json.dumps({"text": body}, ensure_ascii=False), Actor(f"ou_{user}", f"u_{user}"),
                     sender_type, mentions)


def click(user: str, value: Mapping[str, Any], *, reason: str = "", message_id: str = "om_card",
          token: str = "c-token") -> CardClick:
    return CardClick(f"ev_{next(_ids)}", Actor(f"ou_{user}", f"u_{user}"), dict(value),
                     {"reason": reason} if reason else {}, message_id, "oc_chat", token)
