"""The sandbox's side of the long connection is as strict as Feishu: discovery, tickets, the frame codec."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import requests
import websockets
from websockets.exceptions import InvalidStatus

from sandbox.longconn import Frame, FrameError, _decode_answer


def discover(sandbox, body):
    return requests.post(f"{sandbox.url}/callback/ws/endpoint", json=body, timeout=5)


def ws_url(sandbox) -> str:
    return discover(sandbox, {"AppID": sandbox.app_id, "AppSecret": sandbox.app_secret}).json()["data"]["URL"]


def handshake(url: str) -> int:
    """101 when the upgrade succeeds, else the `handshake-status` Feishu puts in the refusal."""
    async def attempt() -> int:
        try:
            async with websockets.connect(url, open_timeout=2, proxy=None):
                return 101
        except InvalidStatus as err:
            return int(err.response.headers["handshake-status"])
    return asyncio.run(attempt())


def test_discovery_hands_out_a_loopback_url_and_the_client_config(sandbox):
    hub = sandbox.longconn
    hub.configure(PingInterval=1)
    answer = discover(sandbox, {"AppID": sandbox.app_id, "AppSecret": sandbox.app_secret})
    assert answer.status_code == 200 and answer.json()["code"] == 0
    data = answer.json()["data"]
    assert data["URL"].startswith(f"ws://127.0.0.1:{hub.port}/ws?device_id=")
    assert "service_id=" in data["URL"] and "ticket=" in data["URL"]
    assert data["ClientConfig"] == {"ReconnectCount": -1, "ReconnectInterval": 120, "ReconnectNonce": 30,
                                    "PingInterval": 1}


@pytest.mark.parametrize(("body", "code"), [
    ({"AppID": "cli_sandbox_app", "AppSecret": "wrong"}, 1000040345),
    ({"AppID": "cli_other", "AppSecret": "sandbox-app-secret"}, 1000040345),
    ({"AppID": "cli_sandbox_app", "AppSecret": ""}, 1000040344),
    ({"AppID": "cli_sandbox_app"}, 1000040344),
])
def test_discovery_refuses_wrong_or_missing_credentials_with_the_sdk_codes(sandbox, body, code):
    answer = discover(sandbox, body).json()
    assert answer["code"] == code
    assert "data" not in answer


def test_a_ticket_opens_one_connection_only_and_a_forged_one_none(sandbox):
    url = ws_url(sandbox)
    assert handshake(url) == 101
    assert handshake(url) == 403  # already used
    assert handshake(ws_url(sandbox).replace("ticket=", "ticket=x")) == 403


def test_a_refused_handshake_carries_feishus_headers(sandbox):
    url = ws_url(sandbox)
    sandbox.longconn.refuse_handshake(status=514, msg="exceed connection limit", auth_code=1000040350)
    assert handshake(url) == 514


def test_frames_encode_as_the_sdk_decodes_them_and_back():
    from lark_oapi.ws.pb.pbbp2_pb2 import Frame as SdkFrame

    ours = Frame(SeqID=3, LogID=2**62, service=77, method=1, headers=[("type", "event"), ("sum", "1")],
                 payload="数据".encode())
    sdk = SdkFrame()
    sdk.ParseFromString(ours.encode())
    assert (sdk.SeqID, sdk.LogID, sdk.service, sdk.method, sdk.payload) == (3, 2**62, 77, 1, "数据".encode())
    assert [(h.key, h.value) for h in sdk.headers] == [("type", "event"), ("sum", "1")]
    sdk.headers.add(key="biz_rt", value="5")
    back = Frame.decode(sdk.SerializeToString())
    assert back.header("biz_rt") == "5" and back.payload == "数据".encode() and back.service == 77


@pytest.mark.parametrize("raw", [
    b"\x08",  # truncated varint
    b"\x08\x01\x10\x01\x18\x01",  # method missing
    b"\x08\x01\x10\x01\x18\x01\x20\x01\x2a\x03\x0a\x01a",  # a header without a value
    b"\x0f",  # an unsupported wire type
])
def test_truncated_or_incomplete_frames_are_refused(raw):
    with pytest.raises(FrameError):
        Frame.decode(raw)


def test_answers_must_have_the_sdks_shape():
    assert _decode_answer(b'{"code": 200}') == (200, None)
    data = base64.b64encode(json.dumps({"toast": {"content": "x"}}).encode()).decode()
    assert _decode_answer(json.dumps({"code": 200, "data": data}).encode()) == (200, {"toast": {"content": "x"}})
    for bad in (b"200", b'{"code": "200"}', b'{"code": 200, "data": "not base64!"}', b"\xff"):
        with pytest.raises(ValueError):
            _decode_answer(bad)


def test_at_most_50_connections_per_app(sandbox):
    urls = [ws_url(sandbox) for _ in range(51)]

    async def open_all() -> list[int]:
        opened, statuses = [], []
        try:
            for url in urls:
                try:
                    opened.append(await websockets.connect(url, open_timeout=2, proxy=None))
                    statuses.append(101)
                except InvalidStatus as err:
                    headers = err.response.headers
                    statuses.append((int(headers["handshake-status"]), int(headers["handshake-autherrcode"])))
        finally:
            for conn in opened:
                await conn.close()
        return statuses

    statuses = asyncio.run(open_all())
    assert statuses[:50] == [101] * 50
    assert statuses[50] == (514, 1000040350)
