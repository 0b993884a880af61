"""The long connection (`approval-bot connect`): events and callbacks over Feishu's WebSocket, no public URL.

lark-oapi's `ws.Client` speaks the protocol (discovery, frames, reassembly, pings); this module keeps its codec and
replaces what does not fit a bot that must never go deaf silently:

- every data frame, `event` or `card`, goes to `Handle` as decoded JSON (the SDK's dispatcher would answer 500 for
  an event type nobody registered, and 1.7.5 drops `card` frames unanswered);
- `Handle` runs in a thread pool, so pings and other frames keep flowing while an action waits on Feishu; each frame
  is answered within the 3 s Feishu waits (200 at `answer_budget_s` if the handle is still busy; it keeps running);
  a frame that needs no work (`Triage`: chatter, types the bot does not read) is answered on the event loop itself,
  without the hand-off to a thread and back;
- discovery and handshake have timeouts (the SDK posts discovery without one), a watchdog reconnects when nothing
  was heard for `deaf_after_pings` ping intervals, and reconnects back off exponentially with jitter, forever;
- `/healthz` (503 with the reason while disconnected or deaf) and `/metrics` on their own small HTTP server.

The overrides use private parts of `lark_oapi.ws.Client`: lark-oapi is pinned to the version tested here.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hmac
import json
import logging
import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qs, urlparse

import requests
import websockets
from prometheus_client import Counter, Gauge, Histogram
from websockets.exceptions import InvalidHandshake

from bot import metrics
from bot.delivery import deliver, deliver_without_work, plain_envelope
from bot.sdk import loading_sdk
from core.inbound import Inbound

with loading_sdk():  # without pkg_resources, the collector paused (bot/sdk.py)
    import lark_oapi as lark
    import lark_oapi.ws.client as sdk_ws
    from lark_oapi.ws.exception import ClientException, ServerException
    from lark_oapi.ws.model import ClientConfig

log = logging.getLogger(__name__)

# payload: the decoded JSON of one event or callback, the shape of a decrypted webhook body; returns (status, body):
# 200 and {} for events; 200 and {"toast", "card"} for card.action.trigger. It may add a third item, a callable
# run in the pool once the answer frame is sent.
Handle = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
# The same payload, on the event loop before any thread hand-off: a Handle's answer for a frame that needs no work
# (decided from the payload alone: no store, no Feishu call, no blocking), or None to hand it to the Handle.
Triage = Callable[[dict[str, Any]], tuple[int, dict[str, Any], Callable[[], None] | None] | None]

STATES = ("starting", "connecting", "connected", "disconnected", "stopping", "stopped")
FRAME_TYPES = ("event", "card")

CONNECTED = Gauge("longconn_connected", "1 while the long connection is open and Feishu is heard")
STATE = Gauge("longconn_state", "The long connection's state (1 for the current one)", ["state"])
RECONNECTS = Counter("longconn_reconnects_total", "Connections given up, by why: lost or deaf", ["reason"])
CONNECT_FAILURES = Counter("longconn_connect_failures_total", "Failed attempts to connect, by stage", ["stage"])
FRAMES = Counter("longconn_frames_total", "Frames by direction, type and outcome", ["direction", "type", "outcome"])
HANDLE_SECONDS = Histogram("longconn_handle_seconds", "Time from a frame's arrival to its answer", ["type"],
                           buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.7, 3.0, 5.0))


@dataclass(frozen=True)
class LongConnSettings:
    discovery_timeout_s: float = 5.0
    handshake_timeout_s: float = 5.0
    answer_budget_s: float = 2.7  # Feishu waits 3 s for an answer
    deaf_after_pings: float = 3.0  # nothing heard for this many ping intervals: reconnect
    ping_interval_s: float | None = None  # None: the interval Feishu's client config gives
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    pool_size: int = 8
    drain_timeout_s: float = 5.0  # on stop, how long in-flight handles may take to finish


@dataclass(frozen=True)
class Status:
    state: str
    reason: str
    reconnects: int
    connected_for_s: float | None
    heard_s_ago: float | None
    deaf_after_s: float | None

    @property
    def healthy(self) -> bool:
        return self.state == "connected" and not self.deaf

    @property
    def deaf(self) -> bool:
        return (self.state == "connected" and self.heard_s_ago is not None and self.deaf_after_s is not None
                and self.heard_s_ago > self.deaf_after_s)

    def explain(self) -> str:
        if self.deaf:
            return f"deaf: nothing heard from Feishu for {self.heard_s_ago:.1f} s"
        if self.state == "connected":
            return "connected"
        return f"{self.state}: {self.reason}" if self.reason else self.state

    def to_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.healthy else "unhealthy", "state": self.state, "detail": self.explain(),
                "reconnects": self.reconnects, "connected_for_s": _round(self.connected_for_s),
                "heard_s_ago": _round(self.heard_s_ago)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- endpoint discovery with a timeout ----------------------------------------------------------------------------


class _DiscoveryRequests:
    """Stands in for `requests` inside `lark_oapi.ws.client`, whose discovery POST has no timeout (a reconnect
    could hang on it for days): every call gets the timeout of the connection that is discovering."""

    def __init__(self) -> None:
        self.local = threading.local()

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        timeout = kwargs.pop("timeout", None) or getattr(self.local, "timeout", LongConnSettings.discovery_timeout_s)
        return requests.post(url, timeout=timeout, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)


_DISCOVERY = _DiscoveryRequests()
sdk_ws.requests = _DISCOVERY  # type: ignore[attr-defined]


# -- a pool whose threads do not hold the process open ------------------------------------------------------------


class _DaemonPool(concurrent.futures.Executor):
    """A fixed pool of daemon threads: a handle stuck past the drain bound cannot keep the process from exiting
    (ThreadPoolExecutor joins its threads at exit)."""

    def __init__(self, size: int) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"longconn-handle-{i}", daemon=True)
                         for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as err:  # the future carries it to whoever awaits the answer
                future.set_exception(err)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


# -- the SDK client with our frame handling -----------------------------------------------------------------------


class _FrameClient(sdk_ws.Client):
    """`lark_oapi.ws.Client` on the caller's event loop, with bounded discovery and handshake, and every data
    frame answered from `Handle` through the pool."""

    def __init__(self, owner: LongConnection) -> None:
        super().__init__(owner.app_id, owner.app_secret, log_level=lark.LogLevel.WARNING, domain=owner.base_url,
                         auto_reconnect=False)
        self._owner = owner
        self._settings = owner.settings
        self.lost: asyncio.Event = asyncio.Event()
        self.lost_reason = ""
        self.frame_tasks: set[asyncio.Task[None]] = set()
        self._receiver: asyncio.Task[None] | None = None

    @property
    def ping_interval_s(self) -> float:
        return float(self._settings.ping_interval_s or self._ping_interval or 120)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.lost.clear()
        try:
            url = await asyncio.wait_for(loop.run_in_executor(None, self._discover),
                                         self._settings.discovery_timeout_s + 1)
        except Exception as err:
            raise _ConnectError("discovery", err) from err
        parts = parse_qs(urlparse(url).query)
        try:
            conn = await websockets.connect(url, open_timeout=self._settings.handshake_timeout_s,
                                            **sdk_ws._ws_connect_kwargs(self._connection_headers))
        except InvalidHandshake as err:
            raise _ConnectError("handshake", _handshake_error(err)) from err
        except Exception as err:
            raise _ConnectError("handshake", err) from err
        self._conn, self._conn_url = conn, url
        self._conn_id, self._service_id = parts["device_id"][0], parts["service_id"][0]
        self._receiver = loop.create_task(self._receive_message_loop())

    def _discover(self) -> str:
        _DISCOVERY.local.timeout = self._settings.discovery_timeout_s
        try:
            return self._get_conn_url()
        finally:
            del _DISCOVERY.local.timeout

    async def close(self) -> None:
        if self._receiver is not None:
            self._receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._receiver
            self._receiver = None
        conn = self._conn
        self._conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self._settings.handshake_timeout_s)

    async def ping(self) -> None:
        frame = sdk_ws._new_ping_frame(int(self._service_id))
        await asyncio.wait_for(self._write_message(frame.SerializeToString()), self._settings.handshake_timeout_s)
        FRAMES.labels("out", "ping", "ok").inc()

    async def _receive_message_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                conn = self._conn
                if conn is None:
                    raise sdk_ws.ConnectionClosedException("connection is closed")
                message = await conn.recv()
                self._owner.heard()
                task = loop.create_task(self._handle_message(message))
                self.frame_tasks.add(task)
                task.add_done_callback(self.frame_tasks.discard)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.lost_reason = f"connection lost ({type(err).__name__}: {err})"
            self.lost.set()

    async def _handle_control_frame(self, frame: Any) -> None:
        FRAMES.labels("in", sdk_ws._get_by_key(frame.headers, sdk_ws.HEADER_TYPE), "ok").inc()
        await super()._handle_control_frame(frame)

    def _configure(self, conf: ClientConfig) -> None:
        # A partial config would set the rest to None (and the ping loop would stop): keep what is not given.
        for name in ("ReconnectCount", "ReconnectInterval", "ReconnectNonce", "PingInterval"):
            value = getattr(conf, name, None)
            if value is not None:
                setattr(self, "_" + _snake(name), value)

    async def _handle_data_frame(self, frame: Any) -> None:
        arrived = time.monotonic()
        headers = frame.headers
        kind = sdk_ws._get_by_key(headers, sdk_ws.HEADER_TYPE)
        message_id = sdk_ws._get_by_key(headers, sdk_ws.HEADER_MESSAGE_ID)
        total = int(sdk_ws._get_by_key(headers, sdk_ws.HEADER_SUM))
        payload = frame.payload
        if total > 1:
            payload = self._combine(message_id, total, int(sdk_ws._get_by_key(headers, sdk_ws.HEADER_SEQ)), payload)
            if payload is None:
                return  # more parts to come
        if kind not in FRAME_TYPES:
            FRAMES.labels("in", "other", "ignored").inc()
            log.warning("long connection: ignored a data frame of type %r", kind)
            return
        FRAMES.labels("in", kind, "ok").inc()
        reply = await self._owner.answer(kind, payload, arrived)
        header = headers.add()
        header.key, header.value = sdk_ws.HEADER_BIZ_RT, str(int((time.monotonic() - arrived) * 1000))
        # an event's plain 200 carries no data, as the SDK answers it
        frame.payload = answer_frame(reply.status, reply.body if kind == "card" or reply.body != b"{}" else None)
        try:
            async with asyncio.timeout(self._settings.answer_budget_s):  # no task per frame, as wait_for makes
                await self._write_message(frame.SerializeToString())
        except Exception as err:
            FRAMES.labels("out", kind, "unsent").inc()
            log.warning("long connection: could not answer message %s: %s", message_id, err)
            return
        FRAMES.labels("out", kind, reply.outcome).inc()
        HANDLE_SECONDS.labels(kind).observe(time.monotonic() - arrived)
        if reply.after is not None:
            self._owner.run_in_pool(reply.after)


def answer_frame(status: int, data: bytes | None) -> bytes:
    """The answer frame's payload, byte for byte what the SDK's `JSON.marshal(ws.model.Response(...))` writes
    (`{"code": 200}`, or with `"data"`: the body in base64), without its deep copy of the object."""
    answer: dict[str, Any] = {"code": status}
    if data is not None:
        answer["data"] = base64.b64encode(data).decode("ascii")
    return json.dumps(answer).encode("utf-8")


class _Reply(NamedTuple):
    status: int
    body: bytes  # JSON
    outcome: str  # ok | refused | late | error | malformed (metrics)
    after: Callable[[], Any] | None = None


def _reply(result: Any) -> _Reply:
    """A handle's `(status, body)`, or `(status, body, after)` where `after` runs once the answer is sent (a
    delayed card update must come after the callback's answer)."""
    status, body, *rest = result
    after = rest[0] if rest else None
    if after is not None and not callable(after):
        raise TypeError("the third item of a handle's answer must be callable")
    status = int(status)
    return _Reply(status, json.dumps(body or {}, ensure_ascii=False).encode("utf-8"),
                  "ok" if status == 200 else "refused", after)


class _ConnectError(Exception):
    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} failed: {_describe(cause)}")
        self.stage = stage


def _describe(err: BaseException) -> str:
    if isinstance(err, TimeoutError | requests.Timeout):
        return "timed out"
    if isinstance(err, ClientException | ServerException):
        return f"refused ({err.code}: {err.args[0] if err.args else ''})"
    return f"{type(err).__name__}: {err}"


def _handshake_error(err: InvalidHandshake) -> BaseException:
    """Feishu's refusal as the SDK reads it from the handshake-* headers (or the error itself)."""
    try:
        sdk_ws._parse_ws_conn_exception(err)
    except Exception as parsed:
        return parsed
    return err  # pragma: no cover - the SDK always raises


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


# -- the connection's life --------------------------------------------------------------------------------------


class LongConnection:
    """One long connection: connect, answer frames, watch, reconnect, until stopped.

    `start()` runs it in a thread (tests); `run()` runs it in the calling thread (`run_long_connection`).
    """

    def __init__(self, app_id: str, app_secret: str, base_url: str, handle: Handle, *,
                 settings: LongConnSettings | None = None, stop: threading.Event | None = None,
                 triage: Triage | None = None) -> None:
        self.app_id, self.app_secret, self.base_url = app_id, app_secret, base_url.rstrip("/")
        self.handle = handle
        self.triage = triage
        self.settings = settings or LongConnSettings()
        self.stop_event = stop or threading.Event()
        self._lock = threading.Lock()
        self._state, self._reason = "starting", "not connected yet"
        self._reconnects = 0
        self._connected_at: float | None = None
        self._heard_at: float | None = None
        self._deaf_after_s: float | None = None
        self._thread: threading.Thread | None = None
        self._pool: _DaemonPool | None = None
        self._handles: set[concurrent.futures.Future[Any]] = set()
        self.abandoned_handles = 0  # still running when the drain bound passed
        _set_state_metric("starting")

    # -- control and state ---------------------------------------------------------------------------------------

    def start(self) -> LongConnection:
        self._thread = threading.Thread(target=self.run, name="longconn", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> Status:
        now = time.monotonic()
        with self._lock:
            return Status(self._state, self._reason, self._reconnects,
                          None if self._connected_at is None else now - self._connected_at,
                          None if self._heard_at is None else now - self._heard_at, self._deaf_after_s)

    def wait_for(self, predicate: Callable[[Status], bool], timeout: float) -> Status:
        deadline = time.monotonic() + timeout
        while not predicate(status := self.status()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return status

    def heard(self) -> None:
        with self._lock:
            self._heard_at = time.monotonic()

    def _set_state(self, state: str, reason: str = "") -> None:
        with self._lock:
            self._state, self._reason = state, reason
            if state == "connected":
                self._connected_at = self._heard_at = time.monotonic()
            elif state != "stopping":
                self._connected_at = None
        _set_state_metric(state)
        if state == "disconnected":
            log.warning("long connection %s: %s", state, reason)
        else:
            log.info("long connection %s", state)

    # -- running -------------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Block until `stop_event` is set; in-flight handles get `drain_timeout_s` to finish."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._pool = _DaemonPool(self.settings.pool_size)
        try:
            loop.run_until_complete(self._main())
        finally:
            _cancel_remaining(loop)
            loop.close()
            self._pool.shutdown(wait=False)
            self._set_state("stopped")

    async def _main(self) -> None:
        client = _FrameClient(self)  # built on this loop: the SDK binds its cache's timer to the current loop
        failures = 0
        try:
            while not self.stop_event.is_set():
                self._set_state("connecting", self._reason)
                try:
                    await client.open()
                except _ConnectError as err:
                    CONNECT_FAILURES.labels(err.stage).inc()
                    self._set_state("disconnected", str(err))
                    failures += 1
                    await self._pause(self._backoff(failures))
                    continue
                failures = 0
                self._set_state("connected")
                reason = await self._watch(client)
                if self.stop_event.is_set():
                    break
                await client.close()
                with self._lock:
                    self._reconnects += 1
                RECONNECTS.labels("deaf" if reason.startswith("deaf") else "lost").inc()
                self._set_state("disconnected", reason)
                await self._pause(self._backoff(0))
        finally:
            await self._shut(client)

    async def _watch(self, client: _FrameClient) -> str:
        """Ping, and wait until the connection is lost, goes deaf, or the process stops; say which."""
        next_ping = 0.0
        while True:
            interval = client.ping_interval_s
            deaf_after = self.settings.deaf_after_pings * interval
            with self._lock:
                self._deaf_after_s = deaf_after
                heard_at = self._heard_at or time.monotonic()
            if client.lost.is_set():
                return client.lost_reason
            if self.stop_event.is_set():
                return "stopping"
            if time.monotonic() - heard_at > deaf_after:
                return f"deaf: nothing heard for {deaf_after:.1f} s ({self.settings.deaf_after_pings:g} pings)"
            if time.monotonic() >= next_ping:
                next_ping = time.monotonic() + interval
                try:
                    await client.ping()
                except Exception as err:  # the receive loop or the watchdog will notice a dead socket
                    log.warning("long connection: ping failed: %s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.lost.wait(), min(0.1, interval / 4))

    async def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _backoff(self, failures: int) -> float:
        """Full jitter: a random wait up to initial × 2^failures, capped, so many clients do not reconnect at once."""
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_initial_s * 2 ** failures)
        return random.uniform(ceiling / 2, ceiling)

    async def _shut(self, client: _FrameClient) -> None:
        """Stop reading, let frames in flight be answered and handles finish (bounded), then close the socket."""
        self._set_state("stopping", "stop requested")
        if client._receiver is not None:
            client._receiver.cancel()
        deadline = time.monotonic() + self.settings.drain_timeout_s
        if client.frame_tasks:
            await asyncio.wait(set(client.frame_tasks), timeout=self.settings.drain_timeout_s)
        remaining = self._running_handles()
        if remaining:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: concurrent.futures.wait(remaining, max(0.0, deadline - time.monotonic())))
        self.abandoned_handles = len(self._running_handles())
        if self.abandoned_handles:
            log.warning("long connection: %d handle(s) still running at exit", self.abandoned_handles)
        await client.close()
        CONNECTED.set(0)

    # -- one frame -----------------------------------------------------------------------------------------------

    async def answer(self, kind: str, raw: bytes, arrived: float) -> _Reply:
        """The answer to one reassembled frame, within the answer budget."""
        try:
            payload = json.loads(raw.decode("utf-8"))
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            log.warning("long connection: undecodable %s payload: %s", kind, err)
            return _Reply(400, b"{}", "malformed")
        if self.triage is not None:
            try:
                quick = self.triage(payload)
            except Exception:
                log.exception("long connection: the %s triage failed", kind)
                return _Reply(500, b"{}", "error")
            if quick is not None:  # needs no work: answered here, no thread hand-off
                return _reply(quick)
        future = self.run_in_pool(self.handle, payload)
        budget = max(0.0, arrived + self.settings.answer_budget_s - time.monotonic())
        try:
            result = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), budget)
            reply = _reply(result)
        except TimeoutError:
            log.warning("long connection: %s still being handled after %.1f s: answered 200, it goes on",
                        kind, self.settings.answer_budget_s)
            future.add_done_callback(self._after_late_answer)
            return _Reply(200, b"{}", "late")
        except Exception:
            log.exception("long connection: the %s handle failed", kind)
            return _Reply(500, b"{}", "error")
        return reply

    def run_in_pool(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run `fn` in the handle pool; stopping waits for it (up to the drain bound)."""
        assert self._pool is not None
        future = self._pool.submit(fn, *args)
        with self._lock:
            self._handles.add(future)
        future.add_done_callback(self._forget)
        return future

    @staticmethod
    def _after_late_answer(future: concurrent.futures.Future[Any]) -> None:
        """A handle that outlived its frame: the frame was answered long ago, so its follow-up may run now."""
        if future.cancelled() or future.exception() is not None:
            return
        try:
            after = _reply(future.result()).after
            if after is not None:
                after()
        except Exception:
            log.exception("long connection: the follow-up of a late handle failed")

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:  # called in a pool thread
        with self._lock:
            self._handles.discard(future)

    def _running_handles(self) -> list[concurrent.futures.Future[Any]]:
        with self._lock:
            return [f for f in self._handles if not f.done()]


def _set_state_metric(state: str) -> None:
    for name in STATES:
        STATE.labels(name).set(1 if name == state else 0)
    CONNECTED.set(1 if state == "connected" else 0)


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


# -- /healthz and /metrics ----------------------------------------------------------------------------------------


class Readiness(Protocol):
    """What another part of the process reports to /healthz (the store's `HealthReport` is one): whether it works,
    and one line saying so."""

    @property
    def ok(self) -> bool: ...
    @property
    def store(self) -> str: ...


class HealthServer:
    """`/healthz` (200 connected and the store writable, 503 with the reason otherwise) and `/metrics` of the
    connect process. The store is reported through `store_health`, a callable: the transport knows no store."""

    def __init__(self, status: Callable[[], Status], *, host: str = "0.0.0.0", port: int = 8001,
                 metrics_token: str | None = None, store_health: Callable[[], Readiness] | None = None) -> None:
        handler = type("Handler", (_HealthHandler,), {"status": staticmethod(status),
                                                      "store_health": staticmethod(store_health or _no_store),
                                                      "metrics_token": metrics_token or ""})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HealthServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="longconn-health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class _NoStore:
    ok: bool = True
    store: str = "not used"


def _no_store() -> Readiness:
    return _NoStore()


def health_body(connection: Status, store: Readiness) -> tuple[bool, dict[str, Any]]:
    """Healthy when both the connection and the store are; the body says which part is not."""
    body = connection.to_dict()
    body["store"] = store.store
    healthy = connection.healthy and store.ok
    if not healthy:
        body["status"] = "unhealthy"
    return healthy, body


class _HealthHandler(BaseHTTPRequestHandler):
    status: Callable[[], Status]
    store_health: Callable[[], Readiness]
    metrics_token: str

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            healthy, body = health_body(self.status(), self.store_health())
            code = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(code, json.dumps(body).encode("utf-8"), "application/json")
        elif path == "/metrics":
            if not self._authorized():
                self._send(HTTPStatus.UNAUTHORIZED, b'{"code":401,"msg":"unauthorized"}', "application/json")
                return
            body, content_type = metrics.exposition()
            self._send(HTTPStatus.OK, body, content_type)
        else:
            self._send(HTTPStatus.NOT_FOUND, b'{"code":404,"msg":"not found"}', "application/json")

    def _authorized(self) -> bool:
        if not self.metrics_token:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode("utf-8"), f"Bearer {self.metrics_token}".encode())

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


# -- the bot's pipeline as a Handle ---------------------------------------------------------------------------------


def pipeline_handle(dispatch: Callable[..., Any], app_id: str, answer_budget_s: float) -> Handle:
    """Each frame's payload through the same pipeline as the webhook's (handlers/pipeline.py), answered as the
    webhook would: a card callback with its toast and card, an event 200 (503 while another delivery holds it,
    so Feishu pushes it again). Feishu authenticated the connection: there is no token to check here."""

    def handle(payload: dict[str, Any]) -> tuple[int, dict[str, Any], Callable[[], None] | None]:
        started = time.monotonic()
        envelope = plain_envelope(payload, app_id)
        if envelope is None:
            metrics.REJECTED.labels("longconn_envelope").inc()
            return 400, {}, None
        status, answer = deliver(dispatch, envelope[0], envelope[1], payload, started + answer_budget_s)
        return status, answer.body, answer.after_response

    return handle


def pipeline_triage(settle: Callable[[Inbound], Any], app_id: str) -> Triage:
    """The frames the pipeline answers without work (`handlers.pipeline.settle_without_work`: chatter, types
    the bot does not read), answered on the event loop as `pipeline_handle` would; the rest go to the pool."""

    def triage(payload: dict[str, Any]) -> tuple[int, dict[str, Any], Callable[[], None] | None] | None:
        envelope = plain_envelope(payload, app_id)
        if envelope is None:
            return None  # the handle refuses it, and counts it
        answered = deliver_without_work(settle, envelope[0], envelope[1], payload)
        if answered is None:
            return None
        status, answer = answered
        return status, answer.body, answer.after_response

    return triage


# -- the entry point ------------------------------------------------------------------------------------------------


def run_long_connection(app_id: str, app_secret: str, base_url: str, handle: Handle, *, health_port: int = 8001,
                        health_host: str = "0.0.0.0", metrics_token: str | None = None,
                        stop: threading.Event | None = None, settings: LongConnSettings | None = None,
                        store_health: Callable[[], Readiness] | None = None, triage: Triage | None = None) -> int:
    """Serve the long connection until SIGTERM/SIGINT (or `stop`); 0 after a clean exit.

    Signal handlers are installed only when called from the main thread.
    """
    stop = stop or threading.Event()
    connection = LongConnection(app_id, app_secret, base_url, handle, settings=settings, stop=stop, triage=triage)
    health = HealthServer(connection.status, host=health_host, port=health_port, metrics_token=metrics_token,
                          store_health=store_health).start()
    log.info("long connection: health and metrics on %s", health.url)
    previous = _install_signal_handlers(stop)
    try:
        connection.run()
    finally:
        _restore_signal_handlers(previous)
        health.stop()
    return 0


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
