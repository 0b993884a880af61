"""Everything the sandbox remembers: the sample world, what the bot sent, issued credentials, the call log and
the injected faults. The world holds Feishu's two worlds apart (sandbox.worlds, sandbox.data): native instances
(UUID codes) in `instances`, attendance records (numeric ids) in `attendance`, the contact directory in `people`.
No id of one world is ever looked up in the other (DESIGN.md, "Where an approval lives").
One lock (`state.lock`, re-entrant) guards all of it; the Flask app holds it while a request changes the world,
never while a request is delayed or held.

`reset()` goes back to the seed but keeps issued tenant tokens valid, so clients that cached a token (lark-oapi
caches per process) keep working from one test to the next. Requests still delayed or held when `reset()` runs are
abandoned: they wake up, see the epoch changed, and drop their connection without touching the new world.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
import uuid as uuidlib
from collections import ChainMap, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandbox import data, flow, records, worlds

# Endpoint names, used by the call log and by `inject`.
ENDPOINTS = (
    "token",          # POST /open-apis/auth/v3/tenant_access_token/internal
    "app_token",      # POST /open-apis/auth/v3/app_access_token/internal
    "instance_get",   # GET  /open-apis/approval/v4/instances/{instance_id}
    "tasks_query",    # GET  /open-apis/approval/v4/tasks/query
    "process",        # POST /open-apis/attendance/v1/approval_infos/process
    "message_create",  # POST /open-apis/im/v1/messages
    "message_reply",  # POST /open-apis/im/v1/messages/{message_id}/reply
    "message_patch",  # PATCH /open-apis/im/v1/messages/{message_id}
    "card_update",    # POST /open-apis/interactive/v1/card/update
    "user_get",       # GET  /open-apis/contact/v3/users/{user_id}
    "bot_info",       # GET  /open-apis/bot/v3/info
    # the two worlds (sandbox.worlds)
    "task_approve",   # POST /open-apis/approval/v4/tasks/approve
    "task_reject",    # POST /open-apis/approval/v4/tasks/reject
    "task_transfer",  # POST /open-apis/approval/v4/tasks/transfer
    "instance_cancel",  # POST /open-apis/approval/v4/instances/cancel
    "approval_subscribe",  # POST /open-apis/approval/v4/approvals/{approval_code}/subscribe
    "remedy_create",  # POST /open-apis/attendance/v1/user_task_remedys
    "remedy_query",   # POST /open-apis/attendance/v1/user_task_remedys/query
    "user_approval_create",  # POST /open-apis/attendance/v1/user_approvals
    "user_approval_query",   # POST /open-apis/attendance/v1/user_approvals/query
    "department_get",  # GET  /open-apis/contact/v3/departments/{department_id}
    "user_batch",     # GET  /open-apis/contact/v3/users/batch
    "user_find_by_department",  # GET  /open-apis/contact/v3/users/find_by_department
)
ANY_ENDPOINT = "*"
Subject = str | tuple[str, ...] | None  # what a fault's `id` is matched against

HOLD_MAX_S = 60.0
TENANT_TOKEN_TTL_S = 7200
TOKEN_RENEW_WINDOW_S = 1800  # asking with less than 30 min left gets a new token (the old one stays valid)
CARD_TOKEN_TTL_S = 30 * 60
CARD_TOKEN_MAX_USES = 2
UUID_TTL_S = 3600
PATCH_QPS = 5
# Rate limits of the two worlds' endpoints, from their pages: (calls, per seconds) per endpoint for the app
PER_MINUTE_100 = ((100, 60.0),)
PER_SECOND_50 = ((50, 1.0),)
RATE_LIMITS: Mapping[str, tuple[tuple[int, float], ...]] = {
    "task_approve": PER_MINUTE_100, "task_reject": PER_MINUTE_100, "task_transfer": PER_MINUTE_100,
    "instance_cancel": PER_MINUTE_100, "approval_subscribe": PER_MINUTE_100,
    "remedy_create": PER_SECOND_50, "remedy_query": PER_SECOND_50, "user_approval_create": PER_SECOND_50,
    "user_approval_query": PER_SECOND_50, "user_batch": ((1000, 60.0), (50, 1.0)),
    "user_find_by_department": ((1000, 60.0), (50, 1.0)),
}
REMEDY_WINDOW_DAYS = 60  # an attendance group's "remedy only the last N days" (1226503 beyond it)


@dataclass
class Call:
    """One request to /open-apis, recorded on arrival and completed when answered (or dropped)."""

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    json: Any
    body: str
    headers: dict[str, str]
    time: float
    epoch: int = 0
    status: int | None = None  # HTTP status; None while in flight or when the connection was dropped
    response: Any = None  # the JSON answered (None when dropped or not JSON)
    log_id: str = ""
    duration_s: float | None = None
    outcome: str = "pending"  # ok | error | dropped | aborted | pending
    fault: dict[str, Any] | None = None
    applied: bool = False  # the endpoint's logic ran: the world may have changed

    @property
    def code(self) -> int | None:
        return self.response.get("code") if isinstance(self.response, dict) else None

    def __getitem__(self, key: str) -> Any:  # dict-style access for convenience in tests
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["code"] = self.code
        return out


@dataclass
class Fault:
    endpoint: str
    id: str | None = None
    latency_s: float = 0.0
    http_status: int | None = None
    code: int | None = None
    msg: str | None = None
    times: int | None = None  # remaining matches; None = until cleared
    rate_limit_reset_s: float | None = None
    drop_after_apply: bool = False
    hold: bool = False
    hold_after_apply: bool = False
    drop: bool = False  # close the connection without applying (a connection reset)
    body: str | None = None  # answer this raw, non-JSON body instead
    hits: int = 0

    @property
    def answers_error(self) -> bool:
        return any(v is not None for v in (self.http_status, self.code, self.rate_limit_reset_s, self.body))

    def matches(self, endpoint: str, subject: Subject) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.endpoint not in (endpoint, ANY_ENDPOINT):
            return False
        if isinstance(subject, tuple):  # a call about several ids (a query): any one of them
            return self.id is None or self.id in subject
        return self.id is None or self.id == subject

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, False, 0.0)
                or f.name == "endpoint"}


FAULT_OPTIONS = frozenset(f.name for f in fields(Fault)) - {"endpoint", "hits"}


@dataclass
class CardToken:
    token: str
    message_id: str
    chat_id: str
    operator: str
    issued_at: float
    uses: int = 0
    answered_at: float | None = None


@dataclass(frozen=True)
class ContactScope:
    """The app's contact data range (the console's 通讯录权限范围): departments (with their sub-departments) and
    single users, by sample name. Reading anyone or any department outside it answers 41050 / 40004."""

    departments: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EventTarget:
    """Where the sandbox pushes the `approval_task` / `approval_instance` events of subscribed definitions."""

    url: str  # the bot's base URL
    encrypt_key: str
    verification_token: str
    path: str = "/webhook/event"
    app_id: str = data.APP_ID


class SandboxState:
    def __init__(self, *, app_id: str = data.APP_ID, app_secret: str = data.APP_SECRET,
                 clock: Callable[[], float] = time.time) -> None:
        # where approval events go once the lock is released (the app posts them to `event_target`)
        self.event_sink: Callable[[list[flow.FlowEvent]], None] | None = None
        self.app_id = app_id
        self.app_secret = app_secret
        self.tenant_key = data.TENANT_KEY
        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self._clock = clock
        self._offset = 0.0
        self.epoch = 0
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.tenant_tokens: dict[str, float] = {}  # token -> expiry (state time); kept across reset()
        self.app_tokens: dict[str, float] = {}
        self._current_tenant_token = ""
        self._revoked: set[str] = set()
        self.card_tokens: dict[str, CardToken] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.event_target: EventTarget | None = None
        self._uuids: dict[tuple[str, str], tuple[str, float]] = {}
        self._patches: dict[str, deque[float]] = {}
        self._held = 0
        self._release_generation = 0
        self._load_world()

    # -- time -----------------------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._offset

    def now_ms(self) -> str:
        return str(int(self.now() * 1000))

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock (token and card-token expiry, 14-day windows); reset() undoes it."""
        with self.lock:
            self._offset += seconds

    # -- world ----------------------------------------------------------------------------------------------------

    def _load_world(self) -> None:
        world = data.build_world(worlds.today_in_tenant(self.now()))
        self.users: dict[str, dict[str, Any]] = world["users"]
        self.chats: dict[str, dict[str, Any]] = world["chats"]
        self.instances: dict[str, dict[str, Any]] = world["instances"]
        self._load_worlds()
        self.attendance.update(world["attendance"])
        self._load_sales_flows()

    def _load_worlds(self) -> None:
        """The contact tree, the native instances and the attendance records of sandbox.worlds."""
        # the support team lives beside the sales team: `users` stays the sales team (the playground lists it),
        # `people` is the whole contact directory every endpoint reads
        self.team: dict[str, dict[str, Any]] = worlds.build_team_users(first_order=len(self.users) + 1)
        self.people: ChainMap[str, dict[str, Any]] = ChainMap(self.team, self.users)
        self.departments: dict[str, dict[str, Any]] = {
            key: worlds.legacy_department(found) for key, found in data.build_departments().items()}
        self.departments.update(worlds.build_departments())
        self._add_chats()
        self.definitions: dict[str, dict[str, Any]] = worlds.build_definitions()
        built = worlds.build(self.people, worlds.today_in_tenant(self.now()))
        self.instances.update(built["instances"])
        self.attendance: dict[str, dict[str, Any]] = built["attendance"]
        self.subscriptions: set[str] = set()
        self.approval_events: list[flow.FlowEvent] = []  # what Feishu pushed (subscribed definitions only)
        self.contact_scope: ContactScope | None = None  # None: the app may read the whole contact
        self.remedy_window_days = REMEDY_WINDOW_DAYS
        self.remedy_quota_per_month: int | None = None
        self.remedy_not_allowed: set[str] = set()  # employee ids whose attendance group allows no remedy
        self.rate_limits: dict[str, tuple[tuple[int, float], ...]] = dict(RATE_LIMITS)  # {} turns them off
        self._admitted: dict[str, deque[float]] = {}

    def _add_chats(self) -> None:
        for name, user in self.people.items():
            self.chats.setdefault(data.p2p_chat(name), {"chat_id": data.p2p_chat(name), "chat_type": "p2p",
                                                        "name": "", "members": [user["open_id"], data.BOT_OPEN_ID]})
        members = [self.team[p[0]]["open_id"] for p in worlds.TEAM]
        self.chats[worlds.TEAM_CHAT] = {"chat_id": worlds.TEAM_CHAT, "chat_type": "group",
                                        "name": "客服运维群 Support & Ops", "members": members + [data.BOT_OPEN_ID]}

    def _load_sales_flows(self) -> None:
        """The sales team's instances that move through sandbox.flow (their routes name support-team approvers)."""
        ids = iter(range(7_440_000_000_000_000_001, 7_440_000_000_000_001_000))
        today = worlds.today_in_tenant(self.now())
        for name, kind, requester, form, day, verbs in data.flow_samples(today):
            user = self.people[requester]
            inst = worlds.new_instance(data.INSTANCES[name], kind, user, form, self.people,
                                       serial=f"{day.replace('-', '')}{len(self.instances):04d}")
            flow.start(inst, user, data.ms(data.rfc3339(day, "09:30")), lambda: str(next(ids)))
            for verb in verbs:
                task = flow.open_tasks(inst)[0]
                when = data.ms(data.rfc3339(day, "14:00"))
                if verb == "approve":
                    flow.approve(inst, task, "同意 OK", when, lambda: str(next(ids)))
                else:
                    flow.reject(inst, task, "不同意 No", when)
            self.instances[inst["instance_code"]] = inst

    def reset(self, *, keep_tokens: bool = True) -> None:
        """Back to the seed: world, messages, calls, faults, holds, card tokens, clock. Tenant tokens survive
        unless `keep_tokens=False`, which leaves the state as a new one (tests/sandbox/conftest.py)."""
        with self._cond:
            self.epoch += 1
            if not keep_tokens:
                self.tenant_tokens.clear()
                self.app_tokens.clear()
                self._current_tenant_token = ""
            self.calls.clear()  # in place: `sandbox.calls` references stay live
            self.faults.clear()
            self.messages.clear()
            self.card_tokens.clear()
            self.notifications.clear()
            self._uuids.clear()
            self._patches.clear()
            self._revoked.clear()
            self.event_target = None
            self._offset = 0.0
            self._release_generation += 1
            self._load_world()
            self._cond.notify_all()

    def find_user(self, any_id: str) -> dict[str, Any] | None:
        found = data.find_user(self.people, any_id)
        return dict(found) if found is not None else None

    def find_instance(self, instance_id: str) -> dict[str, Any] | None:
        """The live instance dict by instance code or creation uuid (hold the lock while using it)."""
        with self.lock:
            found = self.instances.get(instance_id)
            if found is None:
                found = next((i for i in self.instances.values() if i.get("uuid") == instance_id), None)
            return found

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        """A copy of an instance (test helper)."""
        with self.lock:
            found = self.find_instance(instance_id)
            return copy.deepcopy(found) if found is not None else None

    def record(self, approval_id: str) -> dict[str, Any] | None:
        """A copy of an attendance record (test helper)."""
        with self.lock:
            found = self.find_record(approval_id)
            return copy.deepcopy(found) if found is not None else None

    def find_record(self, approval_id: str) -> dict[str, Any] | None:
        """The live attendance record `approval_infos/process` acts on (hold the lock while using it)."""
        with self.lock:
            return self.attendance.get(approval_id)

    def put_instance(self, instance: Mapping[str, Any]) -> None:
        """Add or replace a native instance in the world (attendance is never touched)."""
        with self.lock:
            self.instances[str(instance["instance_code"])] = copy.deepcopy(dict(instance))

    def decide(self, instance_code: str, approve: bool = True, comment: str = "") -> dict[str, Any]:
        """The first pending task of a native instance decided in Feishu by its holder (as `tasks/approve` or
        `tasks/reject` would: the timeline and next node follow, events of subscribed definitions are pushed).
        LookupError for an id that names no instance, ValueError when nothing is left to decide."""
        with self.lock:
            instance = self.instances.get(instance_code)
            if instance is None:
                raise LookupError(f"no native instance {instance_code[:64]!r} (attendance records change only "
                                  "through approval_infos/process)")
            tasks = flow.open_tasks(instance)
            if instance["status"] != "PENDING" or not tasks:
                raise ValueError(f"instance {instance_code} is {instance['status']}: nothing left to decide")
            task, now = tasks[0], self.now_ms()
            events = (flow.approve(instance, task, comment, now, self.new_task_id) if approve
                      else flow.reject(instance, task, comment, now))
            decided = {"instance_code": instance_code, "task_id": task.get("id", ""), "by": task.get("open_id", ""),
                       "status": instance["status"]}
        self.emit(events)
        return decided

    def snapshot(self, any_id: str) -> dict[str, Any]:
        """What an id names in each world: a native instance by its code, an attendance record by its id (the two
        id spaces are apart, so at most one of them is found)."""
        with self.lock:
            inst = self.find_instance(any_id)
            return {"instance": copy.deepcopy(inst), "attendance": copy.deepcopy(self.attendance.get(any_id))}

    # -- the two worlds: definitions, subscriptions, submissions, contact ---------------------------------------

    def definition(self, approval_code: str) -> dict[str, Any] | None:
        return self.definitions.get(approval_code)

    def user_name(self, user: Mapping[str, Any]) -> str:
        """The sample name (the key in `users`) of a user dict."""
        return next(name for name, found in self.people.items() if found["user_id"] == user["user_id"])

    def _new_number(self, taken: Callable[[str], bool]) -> str:
        while True:
            candidate = str(7_500_000_000_000_000_000 + secrets.randbelow(10**18))
            if not taken(candidate):
                return candidate

    def new_task_id(self) -> str:
        with self.lock:
            used = {t["id"] for inst in self.instances.values() for t in inst.get("task_list") or ()}
            return self._new_number(used.__contains__)

    def new_attendance_id(self) -> str:
        with self.lock:
            return self._new_number(self.attendance.__contains__)

    def admit(self, endpoint: str) -> tuple[int, float] | None:
        """Count a call against the endpoint's rate limits; (limit, seconds until a slot frees) when over one."""
        with self.lock:
            limits = self.rate_limits.get(endpoint)
            if not limits:
                return None
            now = self.now()
            window = self._admitted.setdefault(endpoint, deque())
            while window and window[0] <= now - max(period for _, period in limits):
                window.popleft()
            for limit, period in limits:
                recent = [t for t in window if t > now - period]
                if len(recent) >= limit:
                    return limit, recent[-limit] + period - now
            window.append(now)
            return None

    def subscribe(self, approval_code: str) -> bool:
        """Subscribe the app to a definition's approval events; False when it already was (1390007)."""
        with self.lock:
            if approval_code in self.subscriptions:
                return False
            self.subscriptions.add(approval_code)
            return True

    def emit(self, events: list[flow.FlowEvent]) -> list[flow.FlowEvent]:
        """Hand the events of subscribed definitions to the sink (call without holding the lock); returns them."""
        with self.lock:
            pushed = [e for e in events if e.approval_code in self.subscriptions]
            self.approval_events.extend(pushed)
            sink = self.event_sink
        if pushed and sink is not None:
            sink(pushed)
        return pushed

    def submit_instance(self, kind: str, requester: str, form: list[dict[str, Any]] | None = None) -> str:
        """A new native submission of definition `kind` (worlds.FLOWS) by a sample user; events are pushed."""
        if kind not in worlds.FLOWS:
            raise ValueError(f"unknown native definition {kind!r}; one of {', '.join(worlds.FLOWS)}")
        with self.lock:
            user = self._sample_user(requester)
            code = str(uuidlib.uuid4()).upper()
            today = worlds.today_in_tenant(self.now())
            form = form if form is not None else worlds.DEFAULT_FORMS[kind](today)
            inst = worlds.new_instance(code, kind, user, form, self.people,
                                       serial=f"{today.strftime('%Y%m%d')}{len(self.instances):04d}")
            self.instances[code] = inst
            events = flow.start(inst, user, self.now_ms(), self.new_task_id)
        self.emit(events)
        return code

    def delete_definition(self, kind: str) -> list[str]:
        """An admin deletes a definition: its pending instances become DELETED (events pushed), later task calls
        and subscriptions answer 1390002. Returns the codes of the instances it closed."""
        with self.lock:
            code = data.DEFINITIONS[kind]["approval_code"]
            self.definitions.pop(code)
            now = self.now_ms()
            closed = [i for i in self.instances.values() if i["approval_code"] == code and i["status"] == "PENDING"]
            events = [e for inst in closed for e in flow.delete(inst, now)]
        self.emit(events)
        return [i["instance_code"] for i in closed]

    def submit_remedy(self, employee: str, *, remedy_date: int, punch_no: int, work_type: int, remedy_time: str,
                      reason: str) -> dict[str, Any]:
        """A remedy request written into attendance (as `user_task_remedys` create does): pending."""
        with self.lock:
            user = self._sample_user(employee)
            approval_id = self.new_attendance_id()
            self.attendance[approval_id] = records.remedy(
                approval_id, user["user_id"], remedy_date=remedy_date, punch_no=punch_no, work_type=work_type,
                remedy_time=remedy_time, reason=reason, created_ms=self.now_ms())
            return copy.deepcopy(self.attendance[approval_id])

    def submit_user_approval(self, employee: str, approval_type: str, day: str,
                             item: Mapping[str, Any]) -> dict[str, Any]:
        """An approved leave/out/overtime/trip written into attendance (as `user_approvals` create does)."""
        with self.lock:
            user = self._sample_user(employee)
            approval_id = self.new_attendance_id()
            self.attendance[approval_id] = records.user_approval(approval_id, approval_type, user["user_id"], day,
                                                                 item, self.now_ms())
            return copy.deepcopy(self.attendance[approval_id])

    def _sample_user(self, any_id: str) -> dict[str, Any]:
        found = data.find_user(self.people, any_id)
        if found is None:
            raise ValueError(f"unknown sample user {any_id!r}")
        return dict(found)

    def add_user(self, name: str, *, departments: list[str], leader: str = "", zh: str = "",
                 en: str = "") -> dict[str, Any]:
        """Another contact user (a sample name, open_id `ou_<name>`), e.g. to grow a team past a page."""
        with self.lock:
            if name in self.people:
                raise ValueError(f"user {name!r} exists")
            unknown = [d for d in departments if d not in self.departments]
            if unknown or not departments:
                raise ValueError(f"unknown departments {unknown}")
            user = data._user(name, zh or name, en or name, departments, "", leader,
                              f"E9{len(self.people):04d}", order=len(self.people) + 1)
            self.team[name] = user
            self._add_chats()
            return copy.deepcopy(user)

    def set_contact_scope(self, *, departments: Iterable[str] = (), users: Iterable[str] = ()) -> None:
        """Narrow the app's contact data range (reset() or clear_contact_scope() widens it to everyone again)."""
        with self.lock:
            self.contact_scope = ContactScope(frozenset(departments), frozenset(users))

    def clear_contact_scope(self) -> None:
        with self.lock:
            self.contact_scope = None

    def may_read_department(self, open_id: str) -> bool:
        with self.lock:
            scope = self.contact_scope
            if scope is None:
                return True
            seen: set[str] = set()
            while open_id and open_id != "0" and open_id not in seen:
                if open_id in scope.departments:
                    return True
                seen.add(open_id)
                open_id = self.departments.get(open_id, {}).get("parent_department_id", "")
            return False

    def may_read_user(self, user: Mapping[str, Any]) -> bool:
        with self.lock:
            if self.contact_scope is None or self.user_name(user) in self.contact_scope.users:
                return True
            return any(self.may_read_department(d) for d in user.get("department_ids") or ())

    # -- tenant tokens -----------------------------------------------------------------------------------------

    def issue_tenant_token(self) -> tuple[str, int]:
        """The current token while it has ≥ 30 min left, else a new one (the old one stays valid until expiry)."""
        with self.lock:
            now = self.now()
            current = self._current_tenant_token
            expires = self.tenant_tokens.get(current, 0.0)
            if current and current not in self._revoked and expires - now >= TOKEN_RENEW_WINDOW_S:
                return current, int(expires - now)
            token = "t-g" + secrets.token_hex(19)
            self.tenant_tokens[token] = now + TENANT_TOKEN_TTL_S
            self._current_tenant_token = token
            return token, TENANT_TOKEN_TTL_S

    def issue_app_token(self) -> tuple[str, int]:
        with self.lock:
            token = "a-g" + secrets.token_hex(19)
            self.app_tokens[token] = self.now() + TENANT_TOKEN_TTL_S
            return token, TENANT_TOKEN_TTL_S

    def tenant_token_valid(self, token: str) -> bool:
        with self.lock:
            expires = self.tenant_tokens.get(token)
            return expires is not None and expires > self.now() and token not in self._revoked

    def revoke_tokens(self) -> None:
        """Every tenant token issued so far answers 99991663 until reset() (token-refresh tests)."""
        with self.lock:
            self._revoked.update(self.tenant_tokens)
            self._current_tenant_token = ""

    # -- faults, holds --------------------------------------------------------------------------------------------

    def inject(self, endpoint: str, *, id: str | None = None, latency_s: float = 0, http_status: int | None = None,  # noqa: A002
               code: int | None = None, msg: str | None = None, times: int | None = None,
               rate_limit_reset_s: float | None = None, drop_after_apply: bool = False, hold: bool = False,
               hold_after_apply: bool = False, drop: bool = False, body: str | None = None) -> Fault:
        """Make matching requests misbehave. Faults match in the order injected; the first match applies.

        `id` narrows it to one subject (instance id, approval_id, message id, receive_id, user id, app_id).
        `times` limits how many requests it hits. Order of effects: hold, latency, then either an error answer
        (`http_status` / `code` / `rate_limit_reset_s` / `body`), a dropped connection (`drop`), or the real
        answer, after which `hold_after_apply` and `drop_after_apply` apply.
        """
        if endpoint != ANY_ENDPOINT and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)} or '*'")
        if latency_s < 0 or (times is not None and times < 0):
            raise ValueError("latency_s and times must not be negative")
        if http_status is not None and not 100 <= http_status <= 599:
            raise ValueError("http_status must be an HTTP status code")
        fault = Fault(endpoint, id=None if id is None else str(id), latency_s=float(latency_s),
                      http_status=http_status, code=code, msg=msg, times=times,
                      rate_limit_reset_s=rate_limit_reset_s, drop_after_apply=drop_after_apply, hold=hold,
                      hold_after_apply=hold_after_apply, drop=drop, body=body)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, endpoint: str, subject: Subject) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(endpoint, subject):
                    fault.hits += 1
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            return None

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def release_holds(self) -> None:
        """Let every request currently held go on."""
        with self._cond:
            self._release_generation += 1
            self._cond.notify_all()

    @property
    def held(self) -> int:
        with self.lock:
            return self._held

    def wait_held(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least `n` requests are held (or `timeout`); True when they are."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._held < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def hold(self, epoch: int) -> bool:
        """Block the calling request until released, at most HOLD_MAX_S. False if reset() abandoned it."""
        deadline = time.monotonic() + HOLD_MAX_S
        with self._cond:
            generation = self._release_generation
            self._held += 1
            self._cond.notify_all()
            try:
                while self._release_generation == generation and self.epoch == epoch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                return self.epoch == epoch
            finally:
                self._held -= 1
                self._cond.notify_all()

    def pause(self, seconds: float, epoch: int) -> bool:
        """An injected delay that reset() can cut short. False if it was."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while self.epoch == epoch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                self._cond.wait(remaining)
            return False

    # -- call log ---------------------------------------------------------------------------------------------------

    def begin_call(self, endpoint: str, method: str, path: str, query: dict[str, str], json_body: Any,
                   body: str, headers: dict[str, str]) -> Call:
        with self.lock:
            call = Call(endpoint, method, path, query, json_body, body, headers, time=self.now(), epoch=self.epoch)
            self.calls.append(call)
            return call

    def end_call(self, call: Call, *, status: int | None, response: Any, log_id: str, outcome: str) -> None:
        with self.lock:
            call.status, call.response, call.log_id, call.outcome = status, response, log_id, outcome
            call.duration_s = self.now() - call.time

    def calls_for(self, endpoint: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.endpoint == endpoint]

    def process_calls(self) -> list[Call]:
        """The `approval_infos/process` calls so far (answered, failed, dropped or in flight)."""
        return self.calls_for("process")

    def action_calls(self) -> list[Call]:
        """Every call that acts on an approval, in either world: process, and tasks approve/reject."""
        with self.lock:
            return [c for c in self.calls if c.endpoint in ("process", "task_approve", "task_reject")]

    # -- messages -----------------------------------------------------------------------------------------------

    def add_message(self, *, chat_id: str, msg_type: str, body: str, content: Any, from_bot: bool,
                    sender_open_id: str = "", parent_id: str = "", root_id: str = "", thread_id: str = "",
                    uuid: str = "", message_id: str | None = None, via: str = "create") -> dict[str, Any]:
        with self.lock:
            now = self.now_ms()
            chat = self.chats.get(chat_id, {})
            message = {
                "message_id": message_id or "om_" + secrets.token_hex(16),
                "chat_id": chat_id,
                "chat_type": chat.get("chat_type", "p2p"),
                "msg_type": msg_type,
                "content": content,
                "body": body,
                "from_bot": from_bot,
                "sender": ({"id": self.app_id, "id_type": "app_id", "sender_type": "app", "tenant_key": self.tenant_key}
                           if from_bot else
                           {"id": sender_open_id, "id_type": "open_id", "sender_type": "user",
                            "tenant_key": self.tenant_key}),
                "create_time": now,
                "update_time": now,
                "root_id": root_id,
                "parent_id": parent_id,
                "thread_id": thread_id,
                "deleted": False,
                "updated": False,
                "uuid": uuid,
                "history": [{"via": via, "time": now, "content": copy.deepcopy(content)}],
            }
            self.messages[message["message_id"]] = message
            return message

    def record_user_message(self, user: str, chat_id: str, text: str, *, message_id: str | None = None,
                            message_type: str = "text", content: str | None = None) -> dict[str, Any]:
        """A message a user sent (the event sender calls this so the bot can reply to it)."""
        found = self.find_user(user)
        open_id = found["open_id"] if found else user
        body = content if content is not None else json.dumps({"text": text}, ensure_ascii=False)
        return self.add_message(chat_id=chat_id, msg_type=message_type, body=body, content=json.loads(body),
                                from_bot=False, sender_open_id=open_id, message_id=message_id, via="user")

    def update_message(self, message_id: str, body: str, content: Any, via: str) -> None:
        with self.lock:
            message = self.messages[message_id]
            message["body"], message["content"] = body, content
            message["update_time"] = self.now_ms()
            message["updated"] = True
            message["history"].append({"via": via, "time": message["update_time"], "content": copy.deepcopy(content)})

    def message(self, message_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.messages.get(message_id)
            return copy.deepcopy(found) if found is not None else None

    def bot_messages(self, chat_id: str | None = None) -> list[dict[str, Any]]:
        """What the bot sent (oldest first), optionally in one chat, with each card's current content."""
        with self.lock:
            return [copy.deepcopy(m) for m in self.messages.values()
                    if m["from_bot"] and (chat_id is None or m["chat_id"] == chat_id)]

    def messages_by_chat(self, include_users: bool = False) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            out: dict[str, list[dict[str, Any]]] = {}
            for m in self.messages.values():
                if m["from_bot"] or include_users:
                    out.setdefault(m["chat_id"], []).append(copy.deepcopy(m))
            return out

    def recall(self, message_id: str) -> None:
        """Mark a message recalled (later replies and patches answer 230011)."""
        with self.lock:
            self.messages[message_id]["deleted"] = True

    def remember_uuid(self, kind: str, uuid: str, message_id: str) -> None:
        with self.lock:
            self._uuids[(kind, uuid)] = (message_id, self.now() + UUID_TTL_S)

    def message_for_uuid(self, kind: str, uuid: str) -> str | None:
        with self.lock:
            found = self._uuids.get((kind, uuid))
            return found[0] if found and found[1] > self.now() else None

    def patch_allowed(self, message_id: str) -> bool:
        """At most PATCH_QPS updates of one message in any second (Feishu's per-message limit)."""
        with self.lock:
            now = self.now()
            window = self._patches.setdefault(message_id, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= PATCH_QPS:
                return False
            window.append(now)
            return True

    # -- card callback tokens -------------------------------------------------------------------------------------

    def issue_card_token(self, message_id: str, chat_id: str = "", operator: str = "") -> str:
        with self.lock:
            token = "c-" + secrets.token_hex(20)
            self.card_tokens[token] = CardToken(token, message_id, chat_id, operator, self.now())
            return token

    def card_token_answered(self, token: str) -> None:
        with self.lock:
            found = self.card_tokens.get(token)
            if found is not None and found.answered_at is None:
                found.answered_at = self.now()

    # -- notifications ------------------------------------------------------------------------------------------

    def record_notification(self, entry: dict[str, Any], epoch: int) -> None:
        with self._cond:
            if epoch == self.epoch:
                self.notifications.append(entry)
                self._cond.notify_all()

    def wait_notifications(self, n: int = 1, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.notifications) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True
