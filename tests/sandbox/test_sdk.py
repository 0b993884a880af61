"""The real lark-oapi 1.7.5 client against the sandbox on 127.0.0.1: every endpoint, its errors and the faults.

If the sandbox's shapes drifted from what the SDK expects, typed parsing here would fail (or fields go missing).
"""

from __future__ import annotations

import json
import threading
import time

import lark_oapi as lark
import pytest
import requests
from lark_oapi.api.approval.v4 import GetInstanceRequest, QueryTaskRequest
from lark_oapi.api.attendance.v1 import ProcessApprovalInfoRequest, ProcessApprovalInfoRequestBody
from lark_oapi.api.contact.v3 import GetUserRequest
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.model import BaseRequest

from sandbox import data, worlds

CARD = {"schema": "2.0", "config": {"update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": "补卡申请 Remedy"}},
        "body": {"elements": [{"tag": "markdown", "content": "**张三** 2024-11-15 09:00"}]}}


RECORD = data.RECORD_IDS["remedy_pending"]  # an attendance record (process changes records only)

def get_instance(client, instance_id):
    return client.approval.v4.instance.get(GetInstanceRequest.builder().instance_id(instance_id).build())


def process(client, approval_id, approval_type, status):
    body = (ProcessApprovalInfoRequestBody.builder().approval_id(approval_id).approval_type(approval_type)
            .status(status).build())
    return client.attendance.v1.approval_info.process(ProcessApprovalInfoRequest.builder().request_body(body).build())


def send_card(client, receive_id, card=CARD, uuid=None, id_type="open_id"):
    body = CreateMessageRequestBody.builder().receive_id(receive_id).msg_type("interactive").content(
        json.dumps(card, ensure_ascii=False))
    if uuid:
        body = body.uuid(uuid)
    request = CreateMessageRequest.builder().receive_id_type(id_type).request_body(body.build()).build()
    return client.im.v1.message.create(request)


def raw_request(client, method, uri, body=None):
    builder = (BaseRequest.builder().http_method(method).uri(uri).token_types({lark.AccessTokenType.TENANT}))
    if body is not None:
        builder = builder.headers({"Content-Type": "application/json; charset=utf-8"}).body(body)
    return client.request(builder.build())


def test_instance_lookup_round_trip(lark_client, sandbox):
    response = get_instance(lark_client, data.INSTANCES["every_widget"])
    assert response.success(), response.msg
    inst = response.data
    assert inst.instance_code == data.INSTANCES["every_widget"]
    assert inst.status == "PENDING" and inst.open_id == "ou_employee"
    assert isinstance(inst.form, str) and json.loads(inst.form)[0]["type"] == "remedyGroup"
    assert [t.open_id for t in inst.task_list if t.status == "PENDING"] == ["ou_manager"]
    assert inst.comment_list[0].files[0].title
    assert [e.type for e in inst.timeline][:2] == ["START", "CC"]
    assert inst.timeline[1].cc_user_list[0].open_id == "ou_admin"
    assert response.get_log_id()
    assert [c.endpoint for c in sandbox.calls] == ["token", "instance_get"]


def test_unknown_instance_is_1390003(lark_client):
    response = get_instance(lark_client, "7399999999999999999")
    assert not response.success()
    assert (response.code, response.msg, response.raw.status_code) == (1390003, "instance code not found", 400)
    assert response.get_log_id()


def test_task_query_round_trip_and_paging(lark_client, sandbox):
    data.seed_pending(sandbox.state, approver="stranger", n=5)
    request = (QueryTaskRequest.builder().user_id("ou_stranger").topic(1).user_id_type("open_id").page_size(3)
               .build())
    first = lark_client.approval.v4.task.query(request)
    assert first.success(), first.msg
    assert len(first.data.tasks) == 3 and first.data.has_more and first.data.count.total == 5
    assert first.data.tasks[0].urls.pc and first.data.tasks[0].process_code
    request = (QueryTaskRequest.builder().user_id("ou_stranger").topic(1).user_id_type("open_id").page_size(3)
               .page_token(first.data.page_token).build())
    second = lark_client.approval.v4.task.query(request)
    assert len(second.data.tasks) == 2 and not second.data.has_more
    codes = {t.process_code for t in first.data.tasks + second.data.tasks}
    assert len(codes) == 5


def test_process_round_trip_changes_the_record_only(lark_client, sandbox):
    response = process(lark_client, RECORD, "remedy", 2)
    assert response.success(), response.msg
    info = response.data.approval_info
    assert (info.approval_id, info.approval_type, info.status) == (RECORD, "remedy", 2)
    assert sandbox.state.record(RECORD)["status"] == 2
    code = data.INSTANCES["remedy_pending"]
    refused = process(lark_client, code, "remedy", 2)  # an instance code is no attendance id
    assert (refused.code, refused.raw.status_code) == (1220600, 400) and "not found" in refused.msg
    assert get_instance(lark_client, code).data.status == "PENDING"
    assert len(sandbox.process_calls()) == 2


@pytest.mark.parametrize(("sample", "approval_type", "status", "code"), [
    ("leave_approved", "leave", 2, 1220001), ("remedy_pending", "remedy", 3, 1220001),
    ("remedy_pending", "remedy", 4, 1220600), ("remedy_approved", "remedy", 2, 1220600),
])
def test_process_errors(lark_client, sample, approval_type, status, code):
    response = process(lark_client, worlds.RECORDS[sample], approval_type, status)
    assert (response.code, response.raw.status_code) == (code, 400)
    assert response.msg and response.get_log_id()


def test_process_unknown_id(lark_client):
    response = process(lark_client, "6999999999999999999", "remedy", 2)
    assert response.code == 1220600 and "not found" in response.msg


def test_messages_create_reply_patch(lark_client, sandbox):
    created = send_card(lark_client, "ou_manager", uuid="bot-notify-1")
    assert created.success(), created.msg
    message_id = created.data.message_id
    assert (created.data.chat_id, created.data.msg_type, created.data.sender.sender_type) == (
        "oc_p2p_manager", "interactive", "app")
    assert json.loads(created.data.body.content)["schema"] == "2.0"
    assert send_card(lark_client, "ou_manager", uuid="bot-notify-1").data.message_id == message_id

    user_message = sandbox.state.record_user_message("manager", "oc_p2p_manager", "/pending")
    reply = lark_client.im.v1.message.reply(
        ReplyMessageRequest.builder().message_id(user_message["message_id"]).request_body(
            ReplyMessageRequestBody.builder().msg_type("interactive").content(json.dumps(CARD)).build()).build())
    assert reply.success(), reply.msg
    assert reply.data.parent_id == user_message["message_id"]

    updated = dict(CARD, body={"elements": [{"tag": "markdown", "content": "已通过 Approved"}]})
    patch = lark_client.im.v1.message.patch(
        PatchMessageRequest.builder().message_id(message_id).request_body(
            PatchMessageRequestBody.builder().content(json.dumps(updated, ensure_ascii=False)).build()).build())
    assert patch.success(), patch.msg
    assert sandbox.state.message(message_id)["content"]["body"]["elements"][0]["content"] == "已通过 Approved"
    assert len(sandbox.messages("oc_p2p_manager")) == 2


def test_message_errors(lark_client):
    assert send_card(lark_client, "ou_nobody").code == 230013
    assert send_card(lark_client, "ou_manager", card={"schema": "2.0", "body": {"elements": [
        {"tag": "action", "actions": []}]}}).code == 230099
    patch = lark_client.im.v1.message.patch(
        PatchMessageRequest.builder().message_id("om_missing").request_body(
            PatchMessageRequestBody.builder().content(json.dumps(CARD)).build()).build())
    assert patch.code == 230001


def test_delayed_card_update_through_the_raw_request(lark_client, sandbox):
    message_id = send_card(lark_client, "ou_manager").data.message_id
    token = sandbox.state.issue_card_token(message_id, "oc_p2p_manager", "ou_manager")
    sandbox.state.card_token_answered(token)
    new_card = dict(CARD, body={"elements": [{"tag": "markdown", "content": "done"}]})
    response = raw_request(lark_client, lark.HttpMethod.POST, "/open-apis/interactive/v1/card/update",
                           {"token": token, "card": new_card})
    assert response.code == 0, response.msg
    assert sandbox.state.message(message_id)["content"] == new_card


def test_user_lookup_and_bot_info(lark_client):
    user = lark_client.contact.v3.user.get(GetUserRequest.builder().user_id("u_manager").user_id_type("user_id")
                                           .build())
    assert user.success(), user.msg
    assert (user.data.user.name, user.data.user.en_name, user.data.user.open_id) == ("王经理", "Manager Wang",
                                                                                      "ou_manager")
    assert user.data.user.avatar.avatar_72 and user.data.user.status.is_activated
    missing = lark_client.contact.v3.user.get(GetUserRequest.builder().user_id("ou_nobody").build())
    assert missing.code == 41050
    bot = raw_request(lark_client, lark.HttpMethod.GET, "/open-apis/bot/v3/info")
    assert bot.code == 0
    assert json.loads(bot.raw.content)["bot"]["open_id"] == "ou_bot"


def test_the_token_is_fetched_once(lark_client, sandbox):
    for _ in range(3):
        assert get_instance(lark_client, data.INSTANCES["remedy_pending"]).success()
    assert len(sandbox.calls_for("token")) == 1
    assert sandbox.calls_for("token")[0].json == {"app_id": data.APP_ID, "app_secret": data.APP_SECRET}


def test_invalid_token_is_99991663(lark_client, sandbox):
    assert get_instance(lark_client, data.INSTANCES["remedy_pending"]).success()  # caches a token
    sandbox.state.revoke_tokens()
    response = get_instance(lark_client, data.INSTANCES["remedy_pending"])
    assert (response.code, response.raw.status_code) == (99991663, 400)


def test_wrong_app_secret_fails_token_fetch(sandbox):
    from lark_oapi.core.cache import ICache
    from lark_oapi.core.token.manager import TokenManager

    class Empty(ICache):
        def get(self, key):
            return ""

        def set(self, key, value, expire):
            pass

    previous = TokenManager.cache
    try:
        client = (lark.Client.builder().app_id(data.APP_ID).app_secret("wrong").domain(sandbox.url).timeout(5)
                  .cache(Empty()).log_level(lark.LogLevel.ERROR).build())
        with pytest.raises(lark.core.exception.ObtainAccessTokenException) as info:
            get_instance(client, data.INSTANCES["remedy_pending"])
        assert info.value.code == 10014
    finally:
        TokenManager.cache = previous


def test_rate_limit_429_with_reset_header(lark_client, sandbox):
    sandbox.inject("instance_get", rate_limit_reset_s=2, times=1)
    limited = get_instance(lark_client, data.INSTANCES["remedy_pending"])
    assert (limited.code, limited.raw.status_code) == (99991400, 429)
    headers = {k.lower(): v for k, v in limited.raw.headers.items()}
    assert headers["x-ogw-ratelimit-reset"] == "2"
    assert get_instance(lark_client, data.INSTANCES["remedy_pending"]).success()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_5xx(lark_client, sandbox, status):
    sandbox.inject("process", http_status=status)
    response = process(lark_client, RECORD, "remedy", 2)
    assert (response.code, response.raw.status_code) == (1225000, status)
    assert sandbox.state.record(RECORD)["status"] == 0


def test_non_json_answer_breaks_typed_parsing(lark_client, sandbox):
    get_instance(lark_client, data.INSTANCES["remedy_pending"])  # fetch the token before the fault
    sandbox.inject("*", body="<html>502 Bad Gateway</html>", http_status=502)
    with pytest.raises(ValueError):
        get_instance(lark_client, data.INSTANCES["remedy_pending"])


def test_latency_is_felt_and_timeouts_fire(lark_client, sandbox):
    get_instance(lark_client, data.INSTANCES["remedy_pending"])  # token first
    sandbox.inject("instance_get", latency_s=0.3, times=1)
    started = time.monotonic()
    assert get_instance(lark_client, data.INSTANCES["remedy_pending"]).success()
    assert time.monotonic() - started >= 0.3
    fast = (lark.Client.builder().app_id(data.APP_ID).app_secret(data.APP_SECRET).domain(sandbox.url).timeout(0.5)
            .log_level(lark.LogLevel.ERROR).build())
    sandbox.inject("instance_get", latency_s=1.5, times=1)
    with pytest.raises(requests.exceptions.Timeout):
        get_instance(fast, data.INSTANCES["remedy_pending"])


def test_applied_but_answer_lost(lark_client, sandbox):
    get_instance(lark_client, data.INSTANCES["remedy_pending"])
    sandbox.inject("process", drop_after_apply=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        process(lark_client, RECORD, "remedy", 2)
    assert sandbox.state.record(RECORD)["status"] == 2
    calls = sandbox.process_calls()
    assert len(calls) == 1 and calls[0].outcome == "dropped" and calls[0].applied


def test_connection_reset_without_applying(lark_client, sandbox):
    get_instance(lark_client, data.INSTANCES["remedy_pending"])
    sandbox.inject("process", drop=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        process(lark_client, RECORD, "remedy", 2)
    assert sandbox.state.record(RECORD)["status"] == 0


def test_hold_and_release(lark_client, sandbox):
    get_instance(lark_client, data.INSTANCES["remedy_pending"])
    sandbox.inject("process", hold=True, times=1)
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("r", process(lark_client, RECORD, "remedy", 2)),
        daemon=True)
    thread.start()
    assert sandbox.state.wait_held(1, timeout=5)
    assert sandbox.state.record(RECORD)["status"] == 0
    sandbox.release_holds()
    thread.join(5)
    assert result["r"].success()
    assert len(sandbox.process_calls()) == 1


def test_http_control_endpoints_over_the_wire(sandbox):
    fault = requests.post(f"{sandbox.url}/_sandbox/faults", json={"endpoint": "bot_info", "code": 99991672},
                          timeout=5)
    assert fault.status_code == 200
    assert len(sandbox.state.faults) == 1
    calls = requests.get(f"{sandbox.url}/_sandbox/calls", timeout=5).json()["calls"]
    assert calls == []
    assert requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=5).status_code == 200
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).json() == {"ok": True}
