"""The Feishu gateway: the only module that imports lark_oapi.

Every call has a timeout (the client's), reads retry 5xx and rate limits within a deadline, no write is retried
after it may have reached Feishu (task calls are paced, and one answered 429 never reached the API: it is sent
again after the reset), a rejected tenant token is refreshed once, and every failure becomes a
`FeishuError(code, msg, log_id, kind)` that `cards.messages.user_message` turns into a manager-readable line.
It also reads verified events into the core's inbound values (`parse_event`): all SDK-to-domain parsing is here.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import requests

from bot.http_pool import HttpPool
from bot.sdk import loading_sdk
from core.errors import FeishuError
from core.inbound import ApprovalEvent, CardClick, Inbound, Mention, MessageIn, OtherEvent, Unreadable
from core.records import TaskPage
from core.rules import Actor

with loading_sdk():  # without pkg_resources, the collector paused (bot/sdk.py)
    import lark_oapi as lark
    from lark_oapi.api.application.v6 import ListScopeRequest
    from lark_oapi.api.approval.v4 import (
        ApproveTaskRequest,
        GetInstanceRequest,
        QueryTaskRequest,
        RejectTaskRequest,
        SubscribeApprovalRequest,
        TaskApprove,
    )
    from lark_oapi.api.attendance.v1 import (
        ProcessApprovalInfoRequest,
        ProcessApprovalInfoRequestBody,
        QueryUserApprovalRequest,
        QueryUserApprovalRequestBody,
        QueryUserTaskRemedyRequest,
        QueryUserTaskRemedyRequestBody,
    )
    from lark_oapi.api.contact.v3 import (
        BatchUserRequest,
        FindByDepartmentUserRequest,
        GetDepartmentRequest,
        GetUserRequest,
    )
    from lark_oapi.api.im.v1 import (
        CreateMessageRequest,
        CreateMessageRequestBody,
        P2ImMessageReceiveV1,
        PatchMessageRequest,
        PatchMessageRequestBody,
        ReplyMessageRequest,
        ReplyMessageRequestBody,
    )
    from lark_oapi.core.cache import ICache
    from lark_oapi.core.const import APPLICATION_JSON, CONTENT_TYPE
    from lark_oapi.core.exception import ObtainAccessTokenException, UnmarshalException
    from lark_oapi.core.model import BaseRequest, BaseResponse, RequestOption
    from lark_oapi.core.token.manager import TokenManager
    from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTrigger

log = logging.getLogger(__name__)
# The SDK logs request bodies (and card tokens) at DEBUG: keep it quiet whatever the root level is.
logging.getLogger("Lark").setLevel(logging.WARNING)

TOKEN_ERRORS = frozenset({99991661, 99991663, 99991668, 99991671})
RETRYABLE_CODES = frozenset({99991400, 1395001})
ALREADY_SUBSCRIBED = 1390007
SCOPE_GRANTED = 1  # application/v6/scopes grant_status
MAX_RATE_LIMIT_WAIT_S = 5.0
PATCH_PER_MESSAGE_PER_S = 5  # PATCH of one message (docs/feishu.md); more answers 230020
PATCH_RATE_LIMITED = 230020
PATCH_RATE_PAUSES_S = (1.0, 2.0)  # a PATCH refused by that limit is sent again after these pauses
_PACING_MARGIN_S = 0.05  # requests arrive with jitter: leave a little more than the period the limit counts
TASK_CALLS_PER_MINUTE = 100  # approval v4 tasks/approve and tasks/reject, each (their pages; docs/feishu.md)
TASK_RATE_RETRIES = 3  # a task call answered 429 is sent again at most this often
TASK_WAIT_BUDGET_S = 40.0  # pacing and 429 pauses of one task call: well inside the action lock's 60 s
USERS_PER_BATCH = 50  # contact-v3_user_batch: at most 50 user_ids a call
CONTACT_TIMEOUT_S = 0.8  # names are a nicety on a card: a slow contact API must not eat the answer budget
CONTACT_USER_ID_TYPES = ("open_id", "user_id", "union_id")
CONTACT_DEPARTMENT_ID_TYPES = ("open_department_id", "department_id")
DEPARTMENT_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_\-@.]{0,63}$")  # contact-v3_department_get: the path id


_POOLED = HttpPool()


def _pool_sdk_connections() -> None:
    from lark_oapi.core.http import transport

    if transport.requests is not _POOLED:
        transport.requests = _POOLED


class _TokenCache(ICache):
    """A locked in-process token cache (the SDK's default is an unlocked global)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> str:
        with self._lock:
            value, expires = self._items.get(key, ("", 0.0))
        return value if expires > time.time() else ""

    def set(self, key: str, value: str, expire: int) -> None:
        with self._lock:
            self._items[key] = (value, float(expire))


Observer = Callable[[str, float, str], None]  # endpoint, seconds, outcome


class FeishuGateway:
    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str,
        timeout_s: float = 2.0,
        observer: Observer | None = None,
        write_timeout_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        task_calls_per_minute: int = TASK_CALLS_PER_MINUTE,
    ) -> None:
        _pool_sdk_connections()
        self._app_id = app_id
        self._cache = _TokenCache()
        self._client = self._build_client(app_id, app_secret, base_url, timeout_s)
        # Writes run in the background pool once the answer budget is spent: give them longer, since a
        # timed-out write leaves its outcome unknown and costs a lookup to settle.
        self._writer = self._build_client(app_id, app_secret, base_url, max(timeout_s, write_timeout_s))
        self._contact = self._build_client(app_id, app_secret, base_url, min(timeout_s, CONTACT_TIMEOUT_S))
        self.timeout_s = timeout_s
        self._observer = observer
        self._sleep = sleep
        self._clock = clock
        self._patch_pacer = Pacer(PATCH_PER_MESSAGE_PER_S, clock, sleep)
        # per process: another process's calls are not counted here, and their 429s are what is sent again
        self._task_pacer = Pacer(task_calls_per_minute, clock, sleep, period_s=60.0)
        self.task_wait_s = TASK_WAIT_BUDGET_S
        self._bot_open_id = ""
        self._bot_info_retry_at = 0.0

    def _build_client(self, app_id: str, app_secret: str, base_url: str, timeout_s: float) -> lark.Client:
        return (
            lark.Client.builder()
            .app_id(app_id)
            .app_secret(app_secret)
            .domain(base_url)
            .timeout(timeout_s)
            .cache(self._cache)
            .log_level(lark.LogLevel.WARNING)
            .build()
        )

    # -- the calls -------------------------------------------------------------------------------------------

    def get_instance(self, instance_id: str, deadline: float | None = None) -> dict[str, Any]:
        request = GetInstanceRequest.builder().instance_id(instance_id).build()
        body = self._call("instance_get", lambda: _request(self._client, request), deadline=deadline)
        return dict(body.get("data") or {})

    def query_tasks(
        self, user_id: str, page_size: int = 10, page_token: str = "", deadline: float | None = None
    ) -> TaskPage:
        builder = QueryTaskRequest.builder().user_id(user_id).topic(1).user_id_type("open_id").page_size(page_size)
        if page_token:
            builder = builder.page_token(page_token)
        request = builder.build()
        body = self._call("tasks_query", lambda: _request(self._client, request), deadline=deadline)
        data = body.get("data") or {}
        tasks = tuple(t for t in data.get("tasks") or () if isinstance(t, Mapping))
        count = data.get("count") or {}
        total = count.get("total") if isinstance(count, Mapping) else None
        next_token = data.get("page_token") if data.get("has_more") else None
        return TaskPage(tasks, next_token or None, int(total) if isinstance(total, int) else None)

    def process(self, approval_id: str, approval_type: str, status: int) -> dict[str, Any]:
        """approval_infos/process. Never retried once it may have reached Feishu."""
        request = (
            ProcessApprovalInfoRequest.builder()
            .request_body(
                ProcessApprovalInfoRequestBody.builder()
                .approval_id(approval_id)
                .approval_type(approval_type)
                .status(status)
                .build()
            )
            .build()
        )
        body = self._call("process", lambda: _request(self._writer, request), write=True)
        data = body.get("data") or {}
        return {"approval_info": data.get("approval_info") or {}, "log_id": body.get("_log_id", "")}

    def act_on_task(self, verb: str, approval_code: str, instance_code: str, task_id: str, open_id: str,
                    comment: str = "") -> dict[str, Any]:
        """approval v4 `tasks/approve` or `tasks/reject` (`verb`), as the approver `open_id` who holds `task_id`.
        Paced under 100 a minute; never retried once it may have reached Feishu, but one answered 429 was
        refused before it reached the API, so it is sent again after `x-ogw-ratelimit-reset` (`_task_write`)."""
        body = (TaskApprove.builder().approval_code(approval_code).instance_code(instance_code).task_id(task_id)
                .user_id(open_id).comment(comment).build())
        builder = ApproveTaskRequest.builder() if verb == "approve" else RejectTaskRequest.builder()
        request = builder.user_id_type("open_id").request_body(body).build()
        answer = self._task_write(f"task_{verb}", lambda: _request(self._writer, request))
        return {"log_id": answer.get("_log_id", "")}

    def _task_write(self, endpoint: str, send: Callable[[], Any]) -> dict[str, Any]:
        """One task call within `task_wait_s`: it waits for a turn under TASK_CALLS_PER_MINUTE (a batch paces
        itself), and a 429 (nothing applied) holds back this process's task calls until the reset, then it is
        sent again, TASK_RATE_RETRIES times at most. Past the budget the rate-limit error is raised: the action
        failed and may be tried again, its outcome is not unknown. No store write is open meanwhile."""
        deadline = self._clock() + self.task_wait_s
        attempt = 0
        while True:
            self._task_pacer.wait_turn(endpoint, deadline)
            try:
                return self._call(endpoint, send, write=True)
            except FeishuError as err:
                attempt += 1
                if err.kind != "rate_limit" or attempt > TASK_RATE_RETRIES:
                    raise
                resume = self._clock() + (err.retry_after_s if err.retry_after_s is not None else 1.0)
                self._task_pacer.hold_until(endpoint, resume)  # the rest of a batch waits too, or fails at once
                if resume > deadline:
                    raise
                log.info("task call rate-limited: %s sent again in %.1f s (log_id=%s)", endpoint,
                         resume - self._clock(), err.log_id)

    def query_remedies(self, employee_ids: list[str], time_from_s: int, time_to_s: int,
                       status: int | None = None) -> dict[str, Any]:
        """attendance `user_task_remedys/query` (at most 50 employee ids; one status per call)."""
        builder = (QueryUserTaskRemedyRequestBody.builder().user_ids(employee_ids)
                   .check_time_from(str(time_from_s)).check_time_to(str(time_to_s)))
        if status is not None:
            builder = builder.status(status)
        request = (QueryUserTaskRemedyRequest.builder().employee_type("employee_id").request_body(builder.build())
                   .build())
        return dict(self._call("remedy_query", lambda: _request(self._client, request))
                    .get("data") or {})

    def query_user_approvals(self, employee_ids: list[str], date_from: int, date_to: int,
                             status: int) -> dict[str, Any]:
        """attendance `user_approvals/query` (dates yyyyMMdd, at most 30 days apart, not past tomorrow)."""
        body = (QueryUserApprovalRequestBody.builder().user_ids(employee_ids).check_date_from(date_from)
                .check_date_to(date_to).status(status).build())
        request = QueryUserApprovalRequest.builder().employee_type("employee_id").request_body(body).build()
        return dict(self._call("user_approval_query", lambda: _request(self._client, request))
                    .get("data") or {})

    def send_card(self, receive_id: str, card: Mapping[str, Any], id_type: str = "open_id", uuid: str = "") -> str:
        builder = (
            CreateMessageRequestBody.builder().receive_id(receive_id).msg_type("interactive").content(_dump(card))
        )
        if uuid:
            builder = builder.uuid(uuid[:50])
        request = CreateMessageRequest.builder().receive_id_type(id_type).request_body(builder.build()).build()
        body = self._call("message_create", lambda: _request(self._client, request), write=True)
        return str((body.get("data") or {}).get("message_id") or "")

    def reply_card(self, message_id: str, card: Mapping[str, Any], uuid: str = "") -> str:
        builder = ReplyMessageRequestBody.builder().msg_type("interactive").content(_dump(card))
        if uuid:
            builder = builder.uuid(uuid[:50])
        request = ReplyMessageRequest.builder().message_id(message_id).request_body(builder.build()).build()
        body = self._call("message_reply", lambda: _request(self._client, request), write=True)
        return str((body.get("data") or {}).get("message_id") or "")

    def patch_card(self, message_id: str, card: Mapping[str, Any]) -> None:
        request = (
            PatchMessageRequest.builder()
            .message_id(message_id)
            .request_body(PatchMessageRequestBody.builder().content(_dump(card)).build())
            .build()
        )
        for pause in (*PATCH_RATE_PAUSES_S, None):
            self._patch_pacer.wait_turn(message_id)
            try:
                self._call("message_patch", lambda: _request(self._client, request), write=True,
                           retry_reads=True)
                return
            except FeishuError as err:
                if err.code != PATCH_RATE_LIMITED or pause is None:
                    raise
                self._sleep(pause)  # another process updated this message too: give the second time to pass

    def delayed_update(self, token: str, card: Mapping[str, Any]) -> None:
        """Update the clicked card with the callback token (no typed SDK method exists)."""
        request = (
            BaseRequest.builder()
            .http_method(lark.HttpMethod.POST)
            .uri("/open-apis/interactive/v1/card/update")
            .token_types({lark.AccessTokenType.TENANT})
            .headers({"Content-Type": "application/json; charset=utf-8"})
            .body({"token": token, "card": dict(card)})
            .build()
        )
        self._call("card_update", lambda: _request(self._client, request), write=True)

    def users_batch(self, user_ids: list[str], id_type: str = "open_id",
                    deadline: float | None = None) -> list[dict[str, Any]]:
        """contact `users/batch`: the users of at most 50 ids of one `id_type`. Users the app may not read
        (outside its contact data range) or that do not exist are left out of the answer, as the page says."""
        if not 1 <= len(user_ids) <= USERS_PER_BATCH or id_type not in CONTACT_USER_ID_TYPES:
            raise ValueError(f"users_batch takes 1 to {USERS_PER_BATCH} ids of one of {CONTACT_USER_ID_TYPES}")
        request = (BatchUserRequest.builder().user_ids(list(user_ids)).user_id_type(id_type)
                   .department_id_type("open_department_id").build())
        body = self._call("user_batch", lambda: _request(self._contact, request),
                          deadline=deadline if deadline is not None else time.monotonic() + self.timeout_s)
        items = (body.get("data") or {}).get("items") or ()
        return [dict(u) for u in items if isinstance(u, Mapping)]

    def department(self, department_id: str, id_type: str = "open_department_id",
                   deadline: float | None = None) -> dict[str, Any]:
        """contact department GET: its `name` and `i18n_name`; 40015 unknown, 40004 outside the data range."""
        if id_type not in CONTACT_DEPARTMENT_ID_TYPES or not DEPARTMENT_ID.match(department_id):
            raise ValueError(f"not a department id of one of {CONTACT_DEPARTMENT_ID_TYPES}: {department_id[:70]!r}")
        request = (GetDepartmentRequest.builder().department_id(department_id).department_id_type(id_type)
                   .user_id_type("open_id").build())
        body = self._call("department_get", lambda: _request(self._contact, request),
                          deadline=deadline if deadline is not None else time.monotonic() + self.timeout_s)
        return dict((body.get("data") or {}).get("department") or {})

    # -- contact: a manager's team (handlers/team.py) ------------------------------------------------------------

    def get_user(self, user_id: str, id_type: str = "user_id", deadline: float | None = None) -> dict[str, Any]:
        """contact `users/:user_id`: the user with `department_ids` (open_department_id) and `leader_user_id`
        (in `id_type`); 41050 when the user is outside the app's contact data range."""
        request = GetUserRequest.builder().user_id(user_id).user_id_type(id_type).build()
        body = self._call("user_get", lambda: _request(self._client, request), deadline=deadline)
        return dict((body.get("data") or {}).get("user") or {})

    def get_department(self, department_id: str, user_id_type: str = "user_id",
                       deadline: float | None = None) -> dict[str, Any]:
        """contact `departments/:department_id` (an open_department_id): its main leader is `leader_user_id`."""
        request = GetDepartmentRequest.builder().department_id(department_id).user_id_type(user_id_type).build()
        body = self._call("department_get", lambda: _request(self._client, request),
                          deadline=deadline)
        return dict((body.get("data") or {}).get("department") or {})

    def department_users(self, department_id: str, page_token: str = "", user_id_type: str = "user_id",
                         page_size: int = 50, deadline: float | None = None) -> tuple[list[dict[str, Any]], str]:
        """One page of contact `users/find_by_department` (direct members only, at most 50 a page): the users
        and the next page's token ("" on the last page)."""
        builder = (FindByDepartmentUserRequest.builder().department_id(department_id).user_id_type(user_id_type)
                   .page_size(page_size))
        if page_token:
            builder = builder.page_token(page_token)
        request = builder.build()
        body = self._call("user_find_by_department",
                          lambda: _request(self._client, request), deadline=deadline)
        data = body.get("data") or {}
        items = [dict(u) for u in data.get("items") or () if isinstance(u, Mapping)]
        return items, str(data.get("page_token") or "") if data.get("has_more") else ""

    def bot_open_id(self) -> str:
        """The bot's own open_id (to recognise its @mention), fetched once."""
        if self._bot_open_id or time.monotonic() < self._bot_info_retry_at:
            return self._bot_open_id
        try:
            bot = self.bot_info()
        except FeishuError:
            self._bot_info_retry_at = time.monotonic() + 300  # don't pay a failing call on every message
            return ""
        self._bot_open_id = str(bot.get("open_id") or "")
        return self._bot_open_id

    # -- set-up checks (approval-bot check-config --online) ------------------------------------------------------

    def bot_info(self) -> dict[str, Any]:
        """The bot's own record; raises FeishuError when the credentials or the bot itself are not usable."""
        request = (
            BaseRequest.builder()
            .http_method(lark.HttpMethod.GET)
            .uri("/open-apis/bot/v3/info")
            .token_types({lark.AccessTokenType.TENANT})
            .build()
        )
        body = self._call("bot_info", lambda: _request(self._client, request), deadline=time.monotonic() + 2)
        return dict(body.get("bot") or {})

    def subscribe_approval(self, approval_code: str) -> bool:
        """Subscribe the events of one approval definition: True when new, False when it already was (1390007)."""
        request = SubscribeApprovalRequest.builder().approval_code(approval_code).build()
        try:
            self._call("approval_subscribe", lambda: _request(self._client, request),
                       write=True)
        except FeishuError as err:
            if err.code == ALREADY_SUBSCRIBED:
                return False
            raise
        return True

    def granted_scopes(self) -> frozenset[str]:
        """The scopes the tenant has granted the app (application/v6/scopes)."""
        request = ListScopeRequest.builder().build()
        body = self._call("scopes_list", lambda: _request(self._client, request))
        scopes = (body.get("data") or {}).get("scopes") or ()
        return frozenset(str(s.get("scope_name")) for s in scopes
                         if isinstance(s, Mapping) and s.get("grant_status") == SCOPE_GRANTED and s.get("scope_name"))

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _call(
        self, endpoint: str, send: Callable[[], Any], *, write: bool = False, retry_reads: bool | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Send, and return the parsed body; raise FeishuError. Reads retry within `deadline`."""
        retry = (not write) if retry_reads is None else retry_reads
        deadline = deadline if deadline is not None else time.monotonic() + 3 * self.timeout_s
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                body = self._send_once(send)
                self._observe(endpoint, started, "ok")
                return body
            except FeishuError as err:
                self._observe(endpoint, started, err.kind if err.kind != "api" else str(err.code))
                if err.code in TOKEN_ERRORS and not refreshed:
                    refreshed = True  # the request never reached the API: safe to send again
                    self._forget_token()
                    continue
                wait = self._retry_wait(err, attempt)
                if not retry or wait is None or time.monotonic() + wait >= deadline:
                    raise
                self._sleep(wait)

    def _send_once(self, send: Callable[[], Any]) -> dict[str, Any]:
        try:
            response = send()
        except requests.Timeout:
            raise FeishuError(-1, "timeout", kind="timeout") from None
        except requests.RequestException:
            raise FeishuError(-1, "connection failed", kind="network") from None
        except ObtainAccessTokenException as exc:
            raise FeishuError(int(exc.code or -1), str(exc.msg or ""), kind="api") from None
        except ValueError:  # a non-JSON body, typically from a proxy in front of Feishu
            answered = _POOLED.last_response()
            if answered is not None and answered.status_code == 429:  # throttled: nothing was applied
                raise FeishuError(99991400, "rate limited", kind="rate_limit", http_status=429,
                                  retry_after_s=_reset_header(answered.headers)) from None
            raise FeishuError(-1, "unreadable answer", kind="server") from None
        raw = response.raw
        status = getattr(raw, "status_code", 0) or 0
        log_id = response.get_log_id() or ""
        try:
            body = json.loads(raw.content or b"{}")
        except ValueError:
            body = None
        if status == 429 and not isinstance(body, dict):  # refused by the gateway's limit: nothing was applied
            raise FeishuError(99991400, "rate limited", kind="rate_limit", http_status=status, log_id=log_id,
                              retry_after_s=_reset_header(raw.headers))
        if not isinstance(body, dict):
            raise FeishuError(-1, "unreadable answer", kind="server", http_status=status, log_id=log_id)
        code = body.get("code")
        if status >= 500 and code in (None, 0):
            raise FeishuError(-1, f"HTTP {status}", kind="server", http_status=status, log_id=log_id)
        if code != 0:
            error = body.get("error") if isinstance(body.get("error"), dict) else {}
            log_id = log_id or str(error.get("log_id") or "")
            kind = "rate_limit" if code == 99991400 or status == 429 else ("server" if status >= 500 else "api")
            raise FeishuError(
                int(code) if isinstance(code, int) else -1, str(body.get("msg") or ""), log_id=log_id, kind=kind,
                http_status=status, retry_after_s=_reset_header(raw.headers),
            )
        body["_log_id"] = log_id
        return body

    @staticmethod
    def _retry_wait(err: FeishuError, attempt: int) -> float | None:
        if attempt >= 4:
            return None
        if err.kind == "rate_limit":
            wait = err.retry_after_s if err.retry_after_s is not None else 0.5 * attempt
            return wait if wait <= MAX_RATE_LIMIT_WAIT_S else None
        if err.kind in {"server", "timeout", "network"} or err.code in RETRYABLE_CODES:
            return min(1.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        return None

    def _forget_token(self) -> None:
        # The SDK never evicts a token Feishu refused; an empty value makes it fetch a new one.
        for key in (f"self_tenant_token:{self._app_id}", f"self_app_token:{self._app_id}"):
            TokenManager.cache.set(key, "", 0)

    def _observe(self, endpoint: str, started: float, outcome: str) -> None:
        if self._observer is not None:
            self._observer(endpoint, time.monotonic() - started, outcome)


class Pacer:
    """At most `limit` calls per key in any `period_s` (a second unless told): a call beyond that waits for its
    turn (turns are reserved under a lock, so concurrent callers of one key queue instead of bursting).
    `hold_until` keeps a key's calls back until then (Feishu said when its limit resets)."""

    def __init__(self, limit: int, clock: Callable[[], float], sleep: Callable[[float], None],
                 period_s: float = 1.0) -> None:
        self._limit = limit
        self._period_s = period_s
        self._clock = clock
        self._sleep = sleep
        self._turns: dict[str, deque[float]] = {}
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_turn(self, key: str, deadline: float | None = None) -> None:
        """Wait for this key's next turn; with `deadline`, a turn later than it is not taken: FeishuError
        (rate_limit, nothing sent) with the seconds until the turn would have come."""
        with self._lock:
            now = self._clock()
            turns = self._turns.setdefault(key, deque())
            while turns and turns[0] <= now - self._period_s - _PACING_MARGIN_S:
                turns.popleft()
            turn = max(now, self._held.get(key, now))
            if len(turns) >= self._limit:
                turn = max(turn, turns[-self._limit] + self._period_s + _PACING_MARGIN_S)
            if deadline is not None and turn > deadline:
                raise FeishuError(99991400, f"paced: {self._limit} calls per {self._period_s:g} s",
                                  kind="rate_limit", retry_after_s=turn - now)
            turns.append(turn)
            self._forget_idle(now)
        if turn > now:
            self._sleep(turn - now)

    def hold_until(self, key: str, until: float) -> None:
        with self._lock:
            self._held[key] = max(until, self._held.get(key, until))

    def _forget_idle(self, now: float) -> None:
        if len(self._turns) <= 1000:
            return
        idle = now - self._period_s - 1.0
        for key in [k for k, turns in self._turns.items() if not turns or turns[-1] <= idle]:
            del self._turns[key]
            self._held.pop(key, None)


def _request(client: lark.Client, request: BaseRequest) -> BaseResponse:
    """The SDK's generic call (`Client.request`): its token, headers and transport for a typed request, without
    the typed response model a resource method builds, which the gateway never reads (`_send_once` reads the raw
    JSON; that model costs more Python than the rest of the call)."""
    option = RequestOption()
    if request.body is not None and CONTENT_TYPE not in (request.headers or {}):
        option.headers[CONTENT_TYPE] = f"{APPLICATION_JSON}; charset=utf-8"  # as the resource methods add it
    return client.request(request, option)


def _reset_header(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "x-ogw-ratelimit-reset":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _dump(card: Mapping[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"))


# -- typed events ----------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A string field of an event: the SDK's models do not check types, so a list or a number would get through
    to dedup keys, SQL and cards. Anything but a string (or absent) makes the event unreadable."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("an event field that must be a string is not one")
    return value


def _object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("an event field that must be an object is not one")
    return dict(value)


def parse_message(payload: Mapping[str, Any], event_id: str) -> MessageIn:
    """`im.message.receive_v1` through the SDK's typed model (built from the already verified and parsed
    payload: parsing the JSON again cost 7 % of an acknowledgement), into our own frozen dataclass."""
    chatter = _group_chatter(payload, event_id)
    if chatter is not None:
        return chatter
    event = P2ImMessageReceiveV1(dict(payload)).event
    if event is None or event.message is None or event.sender is None:
        raise ValueError("message event without message or sender")
    message, sender = event.message, event.sender
    sender_id = sender.sender_id
    mentions = tuple(
        Mention(
            key=_text(m.key),
            open_id=_text(m.id.open_id if m.id else None),
            name=_text(m.name),
            mentioned_type=_text(getattr(m, "mentioned_type", None)),
        )
        for m in message.mentions or ()
    )
    return MessageIn(
        event_id=event_id,
        message_id=_text(message.message_id),
        chat_id=_text(message.chat_id),
        chat_type=_text(message.chat_type),
        message_type=_text(message.message_type),
        content=_text(message.content),
        sender=Actor(open_id=_text(sender_id.open_id if sender_id else None),
                     user_id=_text(sender_id.user_id if sender_id else None)),
        sender_type=_text(sender.sender_type),
        mentions=mentions,
    )


def _group_chatter(payload: Mapping[str, Any], event_id: str) -> MessageIn | None:
    """A group message that mentions nobody, read straight from the verified payload: the bot stays silent on
    it whatever it says (core.inbound.command_text), and it is most of what a group sends, so it skips the
    SDK's typed model (a third of its acknowledgement). None for anything else (the full parse reads it)."""
    event = payload.get("event")
    message = event.get("message") if isinstance(event, Mapping) else None
    sender = event.get("sender") if isinstance(event, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(sender, Mapping) or message.get("mentions"):
        return None
    if message.get("chat_type") in (None, "", "p2p"):
        return None
    ids = sender.get("sender_id")
    ids = ids if isinstance(ids, Mapping) else {}
    return MessageIn(event_id=event_id, message_id=_text(message.get("message_id")),
                     chat_id=_text(message.get("chat_id")), chat_type=_text(message.get("chat_type")),
                     message_type=_text(message.get("message_type")), content=_text(message.get("content")),
                     sender=Actor(open_id=_text(ids.get("open_id")), user_id=_text(ids.get("user_id"))),
                     sender_type=_text(sender.get("sender_type")), mentions=())


def parse_card_action(payload: Mapping[str, Any], event_id: str) -> CardClick:
    """`card.action.trigger` through the SDK's typed model."""
    event = P2CardActionTrigger(dict(payload)).event
    if event is None or event.action is None or event.operator is None:
        raise ValueError("card action without action or operator")
    context = event.context
    return CardClick(
        event_id=event_id,
        operator=Actor(open_id=_text(event.operator.open_id), user_id=_text(event.operator.user_id)),
        value=_object(event.action.value),
        form_value=_object(event.action.form_value),
        message_id=_text(context.open_message_id if context else None),
        chat_id=_text(context.open_chat_id if context else None),
        token=_text(event.token),
    )


def _approval_event(payload: Mapping[str, Any], event_id: str, event_type: str) -> ApprovalEvent:
    """`approval_instance` and `approval_task` (v1 envelope) and `approval.instance.status_changed_v4` (v2)."""
    event = payload.get("event")
    if not isinstance(event, Mapping):
        raise ValueError("approval event without event")
    code = _text(event.get("instance_code"))
    if not code:
        raise ValueError("approval event without an instance code")
    return ApprovalEvent(event_id, event_type, code, _text(event.get("status")), _text(event.get("approval_code")),
                         task_id=_text(event.get("task_id")), open_id=_text(event.get("open_id")),
                         user_id=_text(event.get("user_id")))


_PARSERS: Mapping[str, Callable[[Mapping[str, Any], str], Inbound]] = {
    "im.message.receive_v1": parse_message,
    "card.action.trigger": parse_card_action,
    "approval_instance": lambda payload, event_id: _approval_event(payload, event_id, "approval_instance"),
    "approval_task": lambda payload, event_id: _approval_event(payload, event_id, "approval_task"),
    "approval.instance.status_changed_v4": lambda payload, event_id: _approval_event(
        payload, event_id, "approval.instance.status_changed_v4"),
}


def parse_event(event_type: str, event_id: str, payload: Mapping[str, Any]) -> Inbound:
    """A verified event or callback as a core inbound value. Types the bot does not read are not parsed at all."""
    parser = _PARSERS.get(event_type)
    if parser is None:
        return OtherEvent(event_id, event_type)
    try:
        return parser(payload, event_id)
    except (UnmarshalException, ValueError, TypeError, KeyError, AttributeError):  # wrong shapes
        return Unreadable(event_id, event_type, callback=event_type == "card.action.trigger")
