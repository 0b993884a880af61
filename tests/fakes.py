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
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.errors import FeishuError
from core.inbound import CardClick, Mention, MessageIn
from core.records import ActionStart, AuditRecord, ClaimResult, Intent, TaskPage
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
        self.lock = threading.RLock()  # re-entered by the methods that are one transaction in bot/store.py
        self.claims: dict[str, tuple[str, float]] = {}  # key -> (state, lease until)
        self.locks: dict[str, tuple[str, float]] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.audit: list[AuditRecord] = []
        self.cards: dict[str, list[str]] = {}
        self.copies: dict[str, dict[str, Any]] = {}  # message id -> {"kind", "recipient", "shared", …}
        self.serials: dict[str, str] = {}
        self.seen_approvers: dict[str, float] = {}
        self.record_refs: dict[str, dict[str, Any]] = {}
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

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """As one transaction of bot/store.py: all of it, or (when a step raises) none of it."""
        with self.lock:
            saved = copy.deepcopy((self.claims, self.locks, self.intents, self.audit))
            try:
                yield
            except BaseException:
                self.claims, self.locks, self.intents, self.audit = saved
                raise

    def claim_click(self, key: str, lease_s: float, now: float,
                    message_id: str) -> tuple[ClaimResult, dict[str, Any] | None]:
        with self._transaction():
            return self.claim(key, lease_s, now), self.copy_of(message_id) if message_id else None

    def begin_action(self, lock: str, owner: str, ttl_s: float, now: float, intent: Intent,
                     fresh_since: float) -> ActionStart:
        with self._transaction():
            if not self.acquire_lock(lock, owner, ttl_s, now):
                return ActionStart(False)
            previous = self.last_success(intent.approval_id)
            if previous is not None and previous.at >= fresh_since:
                return ActionStart(True, previous, False)
            self.record_intent(intent.intent_id, intent.approval_id, intent.action, intent.operator, now,
                               dict(intent.detail))
            return ActionStart(True, previous, True)

    def end_action(self, record: AuditRecord, *, settles: str = "", lock: str = "", owner: str = "",
                   claim: str = "", serial: tuple[str, str] | None = None) -> int:
        with self._transaction():
            found = self.append_audit(record, settles=settles)
            if lock:
                self.release_lock(lock, owner)
            if claim:
                self.finish(claim, record.at)
            if serial is not None:
                self.remember_serial(*serial, record.at)
            return found

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

    def knows_serial(self, serial: str, instance_code: str) -> bool:
        with self.lock:
            return self.serials.get(serial) == instance_code

    def append_audit(self, record: AuditRecord, *, settles: str = "") -> int:
        with self.lock:
            if settles:
                self.intents[settles]["state"] = record.outcome
            self.audit.append(record)
            return len(self.audit)

    def history(self, approval_id: str) -> list[AuditRecord]:
        with self.lock:
            return [r for r in self.audit if r.approval_id == approval_id]

    def remember_records(self, refs: Mapping[str, Mapping[str, Any]], now: float) -> None:
        with self.lock:
            self.writes += 1
            self.record_refs.update({k: dict(v) for k, v in refs.items()})

    def record_ref(self, approval_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.record_refs.get(approval_id)
        return dict(found) if found is not None else None

    def last_success(self, approval_id: str) -> AuditRecord | None:
        with self.lock:
            done = [r for r in self.audit if r.approval_id == approval_id and r.outcome == "done"]
        return done[-1] if done else None


@dataclass
class FakeGateway:
    """Instances by code (seed 004's `data`); `process` changes them as seed 000 says, unless told to fail."""

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # any user id -> name (zh and en alike)
    # contact: users by user_id ({open_id, name, en_name, …}), departments by id ({name, i18n_name, …});
    # `contact_error` answers every contact call
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_error: FeishuError | None = None  # every contact call fails with it
    on_contact: Callable[[], None] | None = None  # e.g. a slow contact API
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # open_id -> to-do tasks
    process_error: FeishuError | None = None
    apply_despite_error: bool = False  # the write lands although its answer is lost
    calls: list[tuple[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # replies and new messages, in order
    patched: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)  # (message id, card), in order
    on_process: Callable[[], None] | None = None  # e.g. wait on an event to hold the call
    subscribed: set[str] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)  # attendance records, as the queries list them
    # contact for teams: users also carry department_ids and leader_user_id, departments their leader_user_id;
    # `contact_page` caps find_by_department pages
    contact_page: int = 50
    on_query: Callable[[str], None] | None = None  # called with the endpoint before each attendance query
    queried: list[tuple[str, tuple[str, ...], int, int, int | None]] = field(default_factory=list)

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
        self.queried.append(("remedy_query", tuple(employee_ids), time_from_s, time_to_s, status))
        if self.on_query is not None:
            self.on_query("remedy_query")
        wanted = 2 if status is None else status
        return {"user_remedys": [r for r in self.records if r.get("kind") == "remedy"
                                 and r["user_id"] in employee_ids and r["status"] == wanted]}

    def query_user_approvals(self, employee_ids: list[str], date_from: int, date_to: int,
                             status: int) -> dict[str, Any]:
        self.calls.append(("user_approval_query", tuple(employee_ids)))
        self.queried.append(("user_approval_query", tuple(employee_ids), date_from, date_to, status))
        if self.on_query is not None:
            self.on_query("user_approval_query")
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

    def users_batch(self, user_ids: list[str], id_type: str = "open_id",
                    deadline: float | None = None) -> list[dict[str, Any]]:
        """As the gateway: 1 to 50 ids of one type; unknown ids left out of the answer."""
        if not 1 <= len(user_ids) <= 50 or id_type not in ("open_id", "user_id", "union_id"):
            raise ValueError("users_batch takes 1 to 50 ids of one id type")
        self.calls.append(("user_batch", (id_type, tuple(user_ids))))
        self._contact_call()
        found = []
        people = [{**u, "user_id": key} for key, u in self.users.items()]
        for ident in dict.fromkeys(user_ids):
            person = next((p for p in people if p.get(id_type) == ident), None)
            if person is None and ident in self.names:
                person = {id_type: ident, "name": self.names[ident]}
            if person is not None:
                found.append(dict(person))
        return found

    def department(self, department_id: str, id_type: str = "open_department_id",
                   deadline: float | None = None) -> dict[str, Any]:
        self.calls.append(("department_get", (id_type, department_id)))
        self._contact_call()
        if department_id not in self.departments:
            raise FeishuError(40015, "department not exist", log_id="log-dept")
        return {id_type: department_id, **self.departments[department_id]}

    def _contact_call(self) -> None:
        if self.on_contact is not None:
            self.on_contact()
        if self.contact_error is not None:
            raise self.contact_error
    def _user_as(self, user: Mapping[str, Any], id_type: str) -> dict[str, Any]:
        out = copy.deepcopy(dict(user))
        leader = self.users.get(str(user.get("leader_user_id") or ""))
        out["leader_user_id"] = leader.get(id_type, "") if leader else ""
        return out

    def get_user(self, user_id: str, id_type: str = "user_id", deadline: float | None = None) -> dict[str, Any]:
        self.calls.append(("user_get", user_id))
        if self.contact_error is not None:
            raise self.contact_error
        found = next((u for u in self.users.values() if u.get(id_type) == user_id), None)
        if found is None:
            raise FeishuError(41050, "no user authority error", log_id="log-contact")
        return self._user_as(found, id_type)

    def get_department(self, department_id: str, user_id_type: str = "user_id",
                       deadline: float | None = None) -> dict[str, Any]:
        self.calls.append(("department_get", department_id))
        if self.contact_error is not None:
            raise self.contact_error
        if department_id not in self.departments:
            raise FeishuError(40004, "no dept authority error", log_id="log-contact")
        dept = dict(self.departments[department_id])
        leader = self.users.get(str(dept.get("leader_user_id") or ""))
        dept["leader_user_id"] = leader.get(user_id_type, "") if leader else ""
        return dept

    def department_users(self, department_id: str, page_token: str = "", user_id_type: str = "user_id",
                         page_size: int = 50, deadline: float | None = None) -> tuple[list[dict[str, Any]], str]:
        self.calls.append(("user_find_by_department", (department_id, page_token)))
        if self.contact_error is not None:
            raise self.contact_error
        members = [u for u in self.users.values() if department_id in u.get("department_ids", ())]
        start, size = int(page_token or 0), min(page_size, self.contact_page)
        page = [self._user_as(u, user_id_type) for u in members[start:start + size]]
        return page, str(start + size) if start + size < len(members) else ""

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
    attendance_lookback_days: int = 30


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
