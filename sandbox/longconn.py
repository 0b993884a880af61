"""The long connection as Feishu serves it: endpoint discovery and the WebSocket that carries events and callbacks.

`POST /callback/ws/endpoint` takes `{"AppID", "AppSecret"}` and answers the WebSocket URL (with a one-time ticket)
and the client config. The WebSocket speaks `pbbp2.Frame` (the protobuf lark-oapi ships):

- data frames carry one event or callback: headers `type` (event | card), `message_id`, `sum`, `seq`, `trace_id`;
  a payload larger than `frame_payload_limit` is split into `sum` frames sharing one `message_id`;
- the client answers each message with a data frame of the same `message_id` whose payload is
  `{"code": <http status>, "data": base64(<answer JSON>)}`; Feishu waits 3 s;
- the client pings with control frames (`type` ping, `service` = the URL's service_id); the server pongs, with the
  client config as payload when it changed since that connection last heard it.

An event not answered 200 in time is pushed again after each of `repush_delays` (Feishu: 15 s, 5 min, 1 h, 6 h);
a callback (`card`) is never re-sent. Faults for tests: drop every connection, refuse or stall the handshake, stall
the discovery endpoint, stop answering pings (a deaf connection).

The frames are encoded and decoded here by hand (`Frame`, the protobuf wire format of `pbbp2.proto`), so the
sandbox neither imports lark_oapi nor shares the client's reading of the protocol.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

log = logging.getLogger(__name__)

ENDPOINT_PATH = "/callback/ws/endpoint"
WS_PATH = "/ws"
ANSWER_WINDOW_S = 3.0
MAX_CONNECTIONS = 50  # per app
TICKET_TTL_S = 300.0
STALL_MAX_S = 60.0
FEISHU_REPUSH_DELAYS_S = (15.0, 300.0, 3600.0, 21600.0)
DEFAULT_CLIENT_CONFIG = {"ReconnectCount": -1, "ReconnectInterval": 120, "ReconnectNonce": 30, "PingInterval": 120}

# Endpoint codes (the ones lark-oapi and the node SDK know).
OK = 0
SYSTEM_BUSY = 1
AUTH_FAILED = 514
NO_CREDENTIAL = 1000040344
INVALID_CREDENTIAL = 1000040345
EXCEED_CONN_LIMIT = 1000040350

CONTROL, DATA = 0, 1


# -- pbbp2.Frame -------------------------------------------------------------------------------------------------
# message Header { required string key = 1; required string value = 2; }
# message Frame { required uint64 SeqID = 1; required uint64 LogID = 2; required int32 service = 3;
#   required int32 method = 4; repeated Header headers = 5; optional string payload_encoding = 6;
#   optional string payload_type = 7; optional bytes payload = 8; optional string LogIDNew = 9; }

_VARINT, _LEN = 0, 2
_FRAME_VARINTS = {1: "SeqID", 2: "LogID", 3: "service", 4: "method"}
_FRAME_STRINGS = {6: "payload_encoding", 7: "payload_type", 9: "LogIDNew"}


class FrameError(ValueError):
    """Bytes that are not a valid pbbp2.Frame."""


@dataclass
class Frame:
    SeqID: int = 0
    LogID: int = 0
    service: int = 0
    method: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload: bytes = b""
    payload_encoding: str = ""
    payload_type: str = ""
    LogIDNew: str = ""

    def header(self, key: str) -> str | None:
        return next((v for k, v in self.headers if k == key), None)

    def encode(self) -> bytes:
        out = bytearray()
        for number, name in _FRAME_VARINTS.items():
            out += _key(number, _VARINT) + _varint(getattr(self, name))
        for key, value in self.headers:
            header = _length_field(1, key.encode("utf-8")) + _length_field(2, value.encode("utf-8"))
            out += _length_field(5, header)
        for number, name in _FRAME_STRINGS.items():
            if getattr(self, name):
                out += _length_field(number, getattr(self, name).encode("utf-8"))
        if self.payload:
            out += _length_field(8, self.payload)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Frame:
        frame, seen = cls(), set()
        for number, wire, value in _fields(data):
            seen.add(number)
            if number in _FRAME_VARINTS and wire == _VARINT:
                setattr(frame, _FRAME_VARINTS[number], _signed(value) if number in (3, 4) else value)
            elif number == 5 and wire == _LEN:
                frame.headers.append(_decode_header(value))
            elif number in _FRAME_STRINGS and wire == _LEN:
                setattr(frame, _FRAME_STRINGS[number], _utf8(value))
            elif number == 8 and wire == _LEN:
                frame.payload = value
            elif number in (*_FRAME_VARINTS, 5, 8, *_FRAME_STRINGS):
                raise FrameError(f"field {number} has wire type {wire}")
        missing = set(_FRAME_VARINTS) - seen
        if missing:
            raise FrameError(f"required fields missing: {', '.join(_FRAME_VARINTS[n] for n in sorted(missing))}")
        return frame


def _decode_header(data: bytes) -> tuple[str, str]:
    values = {number: value for number, wire, value in _fields(data) if wire == _LEN}
    if 1 not in values or 2 not in values:
        raise FrameError("header without key or value")
    return _utf8(values[1]), _utf8(values[2])


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FrameError("string field is not UTF-8") from err


def _signed(value: int) -> int:  # int32 travels as a 64-bit two's-complement varint
    return value - (1 << 64) if value >= 1 << 63 else value


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_field(number: int, data: bytes) -> bytes:
    return _key(number, _LEN) + _varint(len(data)) + data


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise FrameError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise FrameError("varint longer than 10 bytes")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    out, pos = [], 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise FrameError("truncated field")
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):  # fixed64 / fixed32: not in this message, skipped as unknown fields
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise FrameError(f"unsupported wire type {wire}")
        if number == 0:
            raise FrameError("field number 0")
        out.append((number, wire, value))
    return out


# -- deliveries ----------------------------------------------------------------------------------------------------


@dataclass
class Delivery:
    """One push of one message to one connection, and what the client answered."""

    kind: str  # event | card
    payload: Any  # the JSON object pushed (or the raw bytes of `push_raw`)
    message_id: str
    device_id: str
    attempt: int  # 1 for the first push, 2… for re-pushes
    parts: int
    sent_at: float
    answered_at: float | None = None
    code: int | None = None
    body: Any = None  # the decoded `data` of the answer (None when the answer carried none)
    answer_headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # why an answer frame was refused, or "no answer"
    _answered: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def elapsed_s(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.sent_at

    @property
    def in_time(self) -> bool:
        return self.elapsed_s is not None and self.elapsed_s <= ANSWER_WINDOW_S

    @property
    def accepted(self) -> bool:
        """What Feishu counts as delivered: a well-formed 200 answer within the window."""
        return self.in_time and self.code == 200 and not self.error

    def wait(self, timeout: float) -> bool:
        return self._answered.wait(timeout)


@dataclass
class ClientInfo:
    device_id: str
    service_id: int
    connected_at: float
    pings: int = 0
    config_sent: dict[str, int] = field(default_factory=dict)


@dataclass
class _Conn:
    info: ClientInfo
    ws: ServerConnection


class LongConnHub:
    """The Feishu side of the long connection, for one app. Thread-safe; the WebSocket runs in its own thread.

    `start()` binds the WebSocket server on an ephemeral 127.0.0.1 port (it also starts on the first discovery).
    """

    def __init__(self, app_id: str, app_secret: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.host = host
        self._requested_port = port
        # Feishu's split size is not documented; a small one makes ordinary tests exercise reassembly too.
        self.frame_payload_limit = 16 * 1024
        self.repush_delays: tuple[float, ...] = FEISHU_REPUSH_DELAYS_S
        self.client_config: dict[str, int] = dict(DEFAULT_CLIENT_CONFIG)
        self.deliveries: list[Delivery] = []
        self.protocol_errors: list[str] = []
        self.discoveries = 0
        self._lock = threading.RLock()
        self._tickets: dict[str, tuple[str, int, float]] = {}  # ticket -> (device_id, service_id, expiry)
        self._conns: dict[str, _Conn] = {}
        self._pending: dict[str, Delivery] = {}  # message_id -> delivery awaiting its answer
        self._refusal: tuple[int, str, int | None] | None = None
        self._muted = False
        self._stall_handshake = False
        self._stall_endpoint = threading.Event()  # set = the endpoint stalls
        self._epoch = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    # -- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> LongConnHub:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve_forever, name="sandbox-longconn", daemon=True)
                self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the long-connection server did not start")
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("long-connection server not started")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._stall_endpoint.clear()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop, self._thread, self._server = None, None, None
        self._started.clear()

    def reset(self) -> None:
        """Faults off, records cleared, default config; scheduled re-pushes are abandoned. Connections stay."""
        with self._lock:
            self._epoch += 1
            self.deliveries.clear()
            self.protocol_errors.clear()
            self.discoveries = 0
            self.frame_payload_limit = 16 * 1024
            self.repush_delays = FEISHU_REPUSH_DELAYS_S
            self.client_config = dict(DEFAULT_CLIENT_CONFIG)
            self._pending.clear()
            self._refusal, self._muted = None, False
        self.stall_endpoint(False)
        self.stall_handshake(False)

    def _serve_forever(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._server = loop.run_until_complete(self._open_server())
        self._started.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.wait_for(self._server.wait_closed(), 2))
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _open_server(self) -> Server:
        # websockets' own keep-alive is off: the protocol's pings are application frames.
        return await serve(self._session, self.host, self._requested_port, process_request=self._handshake,
                           ping_interval=None, max_size=2**24)

    def _call(self, coro: Any, timeout: float) -> Any:
        self.start()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- discovery (called by the Flask view) --------------------------------------------------------------------

    def discover(self, body: Any) -> tuple[int, dict[str, Any]]:
        """`POST /callback/ws/endpoint`: (HTTP status, JSON answer)."""
        self._wait_while_stalled()
        with self._lock:
            self.discoveries += 1
        if not isinstance(body, dict):
            return 400, {"code": 400, "msg": "invalid request body"}
        app_id, app_secret = body.get("AppID"), body.get("AppSecret")
        if not isinstance(app_id, str) or not isinstance(app_secret, str) or not app_id or not app_secret:
            return 200, {"code": NO_CREDENTIAL, "msg": "the App ID or App Secret is empty"}
        if not (secrets.compare_digest(app_id, self.app_id) and secrets.compare_digest(app_secret, self.app_secret)):
            return 200, {"code": INVALID_CREDENTIAL, "msg": "the App ID or App Secret is invalid"}
        self.start()
        device_id, service_id, ticket = uuid.uuid4().hex, random.randint(1, 2**31 - 1), secrets.token_urlsafe(16)
        with self._lock:
            self._tickets[ticket] = (device_id, service_id, time.monotonic() + TICKET_TTL_S)
            config = dict(self.client_config)
        url = f"ws://{self.host}:{self.port}{WS_PATH}?device_id={device_id}&service_id={service_id}&ticket={ticket}"
        return 200, {"code": OK, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}

    def _wait_while_stalled(self) -> None:
        deadline = time.monotonic() + STALL_MAX_S
        while self._stall_endpoint.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- controls for tests --------------------------------------------------------------------------------------

    def configure(self, **config: int) -> None:
        """Change the client config (sent in the next discovery and in each connection's next pong)."""
        unknown = set(config) - set(DEFAULT_CLIENT_CONFIG)
        if unknown:
            raise ValueError(f"unknown client config: {', '.join(sorted(unknown))}")
        with self._lock:
            self.client_config.update({k: int(v) for k, v in config.items()})

    def stall_endpoint(self, on: bool = True) -> None:
        """Discovery accepts the request and answers nothing (for up to a minute) while on."""
        (self._stall_endpoint.set if on else self._stall_endpoint.clear)()

    def stall_handshake(self, on: bool = True) -> None:
        """The WebSocket accepts TCP and never completes the upgrade while on."""
        self._stall_handshake = on

    def refuse_handshake(self, on: bool = True, *, status: int = SYSTEM_BUSY, msg: str = "system busy",
                         auth_code: int | None = None) -> None:
        """Answer upgrades with Feishu's handshake-status headers instead of switching protocols."""
        self._refusal = (status, msg, auth_code) if on else None

    def mute(self, on: bool = True) -> None:
        """Keep connections open but stop answering pings: the client hears nothing (a deaf connection)."""
        self._muted = on

    def drop_connections(self) -> int:
        """Cut every connection without a close frame (a network failure); returns how many were cut."""
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            transport = conn.ws.transport
            if self._loop is not None and transport is not None:
                self._loop.call_soon_threadsafe(transport.abort)
        return len(conns)

    def connected_clients(self) -> list[ClientInfo]:
        with self._lock:
            return [conn.info for conn in self._conns.values()]

    def wait_for_clients(self, count: int = 1, timeout: float = 5.0) -> list[ClientInfo]:
        deadline = time.monotonic() + timeout
        while len(self.connected_clients()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.connected_clients()

    def deliveries_of(self, payload: Any) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.payload is payload]

    # -- pushing -------------------------------------------------------------------------------------------------

    def push_event(self, payload: dict[str, Any], *, parts: int | None = None, to: str | None = None,
                   timeout: float = ANSWER_WINDOW_S + 1) -> Delivery:
        """Push an event; return its first delivery once answered (or after `timeout`). Re-pushes follow on their
        own when the answer is not a timely 200 (see `deliveries_of`)."""
        return self._push("event", payload, parts, to, timeout)

    def push_card(self, payload: dict[str, Any], *, parts: int | None = None, to: str | None = None,
                  timeout: float = ANSWER_WINDOW_S + 1) -> Delivery:
        """Push a callback (`card.action.trigger`) as a `card` frame; it is never re-sent."""
        return self._push("card", payload, parts, to, timeout)

    def push_raw(self, kind: str, raw: bytes, *, timeout: float = ANSWER_WINDOW_S + 1) -> Delivery:
        """Push bytes that need not be JSON (what a client does with a payload it cannot read)."""
        return self._push(kind, raw, None, None, timeout)

    def _push(self, kind: str, payload: Any, parts: int | None, to: str | None, timeout: float) -> Delivery:
        delivery = self._call(self._deliver(kind, payload, parts, to, 1, self._epoch), timeout=5)
        delivery.wait(timeout)
        return delivery

    async def _deliver(self, kind: str, payload: Any, parts: int | None, to: str | None,
                       attempt: int, epoch: int) -> Delivery:
        conn = self._pick(to)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        chunks = _split(raw, parts or max(1, -(-len(raw) // self.frame_payload_limit)))
        delivery = Delivery(kind, payload, uuid.uuid4().hex, conn.info.device_id if conn else "", attempt,
                            len(chunks), time.monotonic())
        with self._lock:
            self.deliveries.append(delivery)
            self._pending[delivery.message_id] = delivery
        if conn is None:
            delivery.error = "no client connected"
        else:
            trace_id = uuid.uuid4().hex
            for seq, chunk in enumerate(chunks):
                frame = _data_frame(conn.info.service_id, kind, delivery.message_id, len(chunks), seq, trace_id, chunk)
                with contextlib.suppress(ConnectionClosed):
                    await conn.ws.send(frame.encode())
        asyncio.get_running_loop().create_task(self._expire(delivery, epoch, parts, to))
        return delivery

    def _pick(self, to: str | None) -> _Conn | None:
        with self._lock:
            if to is not None:
                return self._conns.get(to)
            conns = list(self._conns.values())
        return random.choice(conns) if conns else None  # cluster mode: one client, chosen at random

    async def _expire(self, delivery: Delivery, epoch: int, parts: int | None, to: str | None) -> None:
        """Once answered or past the answer window: an event not accepted is pushed again, as Feishu does."""
        while not delivery._answered.is_set() and time.monotonic() < delivery.sent_at + ANSWER_WINDOW_S:
            await asyncio.sleep(0.02)
        if delivery.answered_at is None and not delivery.error:
            delivery.error = "no answer"
        if delivery.kind != "event" or delivery.accepted or epoch != self._epoch:
            return
        delays = self.repush_delays
        if delivery.attempt > len(delays):
            return
        await asyncio.sleep(delays[delivery.attempt - 1])
        if epoch == self._epoch:
            await self._deliver(delivery.kind, delivery.payload, parts, to, delivery.attempt + 1, epoch)

    # -- the WebSocket -------------------------------------------------------------------------------------------

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        deadline = time.monotonic() + STALL_MAX_S
        while self._stall_handshake and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        parts = urlsplit(request.path)
        if parts.path != WS_PATH:
            return connection.respond(404, "not found\n")
        if self._refusal is not None:
            return _refuse(connection, *self._refusal)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            issued = self._tickets.pop(query.get("ticket", ""), None)
            full = len(self._conns) >= MAX_CONNECTIONS
        if issued is None or issued[2] < time.monotonic() or query.get("device_id") != issued[0] \
                or query.get("service_id") != str(issued[1]):
            return _refuse(connection, 403, "invalid or expired ticket", None)
        if full:
            return _refuse(connection, AUTH_FAILED, "exceed connection limit", EXCEED_CONN_LIMIT)
        connection.sandbox_ids = issued[:2]  # type: ignore[attr-defined]
        return None

    async def _session(self, ws: ServerConnection) -> None:
        device_id, service_id = ws.sandbox_ids  # type: ignore[attr-defined]
        with self._lock:
            config = dict(self.client_config)
            conn = _Conn(ClientInfo(device_id, service_id, time.monotonic(), config_sent=config), ws)
            self._conns[device_id] = conn
        try:
            async for message in ws:
                await self._receive(conn, message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._conns.pop(device_id, None)

    async def _receive(self, conn: _Conn, message: str | bytes) -> None:
        if not isinstance(message, bytes):
            self._protocol_error(conn, "a text message (frames are binary)")
            return
        try:
            frame = Frame.decode(message)
        except FrameError as err:
            self._protocol_error(conn, f"undecodable frame: {err}")
            return
        headers = dict(frame.headers)
        if frame.method == CONTROL and headers.get("type") == "ping":
            await self._pong(conn, frame)
        elif frame.method == DATA:
            self._answer(conn, headers, frame.payload)
        else:
            self._protocol_error(conn, f"unexpected frame: method {frame.method}, type {headers.get('type')}")

    async def _pong(self, conn: _Conn, ping: Frame) -> None:
        if ping.service != conn.info.service_id:
            self._protocol_error(conn, f"ping for service {ping.service}, connected as {conn.info.service_id}")
            return
        conn.info.pings += 1
        if self._muted:
            return
        pong = Frame(service=conn.info.service_id, method=CONTROL, headers=[("type", "pong")])
        with self._lock:
            config = dict(self.client_config)
        if config != conn.info.config_sent:
            pong.payload = json.dumps(config).encode("utf-8")
            conn.info.config_sent = config
        with contextlib.suppress(ConnectionClosed):
            await conn.ws.send(pong.encode())

    def _answer(self, conn: _Conn, headers: dict[str, str], payload: bytes) -> None:
        with self._lock:
            delivery = self._pending.pop(headers.get("message_id", ""), None)
        if delivery is None or delivery.device_id != conn.info.device_id:
            self._protocol_error(conn, f"answer for unknown message {headers.get('message_id')!r}")
            return
        delivery.answered_at = time.monotonic()
        delivery.answer_headers = headers
        try:
            if headers.get("type") != delivery.kind:
                raise ValueError(f"type {headers.get('type')!r} answers a {delivery.kind} message")
            delivery.code, delivery.body = _decode_answer(payload)
        except ValueError as err:
            delivery.error = f"malformed answer: {err}"
            self._protocol_error(conn, delivery.error)
        delivery._answered.set()

    def _protocol_error(self, conn: _Conn, what: str) -> None:
        log.warning("long connection %s: %s", conn.info.device_id, what)
        with self._lock:
            self.protocol_errors.append(what)


def _split(raw: bytes, parts: int) -> list[bytes]:
    size = -(-len(raw) // parts)
    return [raw[i * size:(i + 1) * size] for i in range(parts)]


def _data_frame(service_id: int, kind: str, message_id: str, total: int, seq: int, trace_id: str,
                chunk: bytes) -> Frame:
    headers = [("type", kind), ("message_id", message_id), ("sum", str(total)), ("seq", str(seq)),
               ("trace_id", trace_id)]
    return Frame(SeqID=seq, LogID=random.getrandbits(63), service=service_id, method=DATA, headers=headers,
                 payload=chunk)


def _decode_answer(payload: bytes) -> tuple[int, Any]:
    """The client's answer: `{"code": <int>, "data": <base64 of JSON>?}`."""
    try:
        answer = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError("not JSON") from err
    if not isinstance(answer, dict) or type(answer.get("code")) is not int:
        raise ValueError("no integer code")
    data = answer.get("data")
    if data is None:
        return answer["code"], None
    try:
        return answer["code"], json.loads(base64.b64decode(data, validate=True).decode("utf-8"))
    except (TypeError, binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise ValueError("data is not base64 of JSON") from err


def _refuse(connection: ServerConnection, status: int, msg: str, auth_code: int | None) -> Response:
    response = connection.respond(403 if status == 403 else 400, f"{msg}\n")
    response.headers["handshake-status"] = str(status)
    response.headers["handshake-msg"] = msg
    if auth_code is not None or status == AUTH_FAILED:
        response.headers["handshake-autherrcode"] = str(auth_code or 0)
    return response


def endpoint_view(hub: LongConnHub) -> Callable[[], Any]:
    """The Flask view of `POST /callback/ws/endpoint`."""
    from flask import Response as FlaskResponse
    from flask import request

    def callback_ws_endpoint() -> FlaskResponse:
        status, answer = hub.discover(request.get_json(silent=True))
        return FlaskResponse(json.dumps(answer), status=status, content_type="application/json; charset=utf-8")

    return callback_ws_endpoint


# -- the event sender, over the long connection ----------------------------------------------------------------------


def long_connection_sender(hub: LongConnHub, state: Any, *, callbacks_as: str = "card", **kwargs: Any) -> Any:
    """An `EventSender` (sandbox/sender.py) that delivers through `hub` instead of POSTing to a webhook: the same
    payloads (plaintext: the long connection needs no encryption), the same `SentEvent` answers, the same effects
    on the state (user messages recorded, callback tokens answered, returned cards applied). `callbacks_as` is the
    frame type card callbacks travel in (`card` or `event`: Feishu's pages do not say which, the bot takes both)."""
    from sandbox.sender import EventSender, SentEvent

    class LongConnSender(EventSender):
        def _send(self, payload: dict[str, Any], kind: str, path: str, **seal: Any) -> SentEvent:
            header = payload.get("header") if isinstance(payload.get("header"), dict) else {}
            is_callback = header.get("event_type") == "card.action.trigger"
            push = hub.push_card if is_callback and callbacks_as == "card" else hub.push_event
            delivery = push(payload, timeout=self.timeout)
            answered = delivery.answered_at is not None and not delivery.error
            body = delivery.body if delivery.body is not None else {}
            return SentEvent(delivery.code if answered and delivery.code is not None else 0, body,
                             json.dumps(body, ensure_ascii=False), header.get("event_id") or payload.get("uuid")
                             or "", payload=payload, elapsed_s=delivery.elapsed_s or 0.0,
                             error=delivery.error, kind=kind, path="longconn:" + delivery.kind)

    kwargs.setdefault("verification_token", "")
    return LongConnSender("longconn://sandbox", encrypt_key="", state=state, **kwargs)


def attach_playground(app: Any, state: Any, *, locale: str = "zh_cn") -> Any:
    """`approval-bot demo --connect`: the playground's messages and clicks travel over the long connection."""
    from sandbox import playground

    pg = playground.install(app, state)
    pg.sender = long_connection_sender(app.extensions["sandbox_longconn"], state, timeout=5)
    pg.bot_url = "long connection"
    pg.locale = locale
    return pg
