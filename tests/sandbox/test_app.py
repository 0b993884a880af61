"""Every endpoint, every error path, faults and controls, through Flask's test client (no sockets)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sandbox import data
from sandbox.app import ConnectionDropped
from sandbox.state import SandboxState
from tests.sandbox.conftest import Api

TOKEN_URL = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES = "/open-apis/im/v1/messages"
RECORD = data.RECORD_IDS["remedy_pending"]  # an attendance record: process changes records only
PROCESS = "/open-apis/attendance/v1/approval_infos/process"


def card2(text: str = "hello", **extra):
    return {"schema": "2.0", "config": {"update_multi": True},
            "header": {"title": {"tag": "plain_text", "content": "Remedy"}, "template": "blue"},
            "body": {"elements": [{"tag": "markdown", "content": text}]}, **extra}


def card1(text: str = "old style"):
    return {"config": {"wide_screen_mode": True, "update_multi": True},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]}


def send(api: Api, receive_id: str, content, *, msg_type="interactive", id_type="open_id", uuid=None):
    body = {"receive_id": receive_id, "msg_type": msg_type,
            "content": content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)}
    if uuid:
        body["uuid"] = uuid
    return api.post(MESSAGES, body, receive_id_type=id_type)


# -- tokens and auth ------------------------------------------------------------------------------------------


def test_tenant_token_shape_and_reuse(api):
    first = api.post(TOKEN_URL, {"app_id": data.APP_ID, "app_secret": data.APP_SECRET}, auth=False)
    assert first.status == 200
    assert set(first.json) == {"code", "msg", "tenant_access_token", "expire"}
    assert (first.json["code"], first.json["msg"]) == (0, "ok")
    assert first.json["tenant_access_token"].startswith("t-")
    assert first.json["tenant_access_token"] == api.token  # ≥ 30 min left: the same token
    assert 7000 < first.json["expire"] <= 7200


def test_token_renewal_window_and_expiry(api, state):
    state.advance(7200 - 1700)  # less than 30 minutes left
    renewed = api.post(TOKEN_URL, {"app_id": data.APP_ID, "app_secret": data.APP_SECRET}, auth=False)
    new = renewed.json["tenant_access_token"]
    assert new != api.token
    assert api.get("/open-apis/bot/v3/info").code == 0  # the old token stays valid until it expires
    state.advance(1800)
    assert api.get("/open-apis/bot/v3/info").code == 99991663
    assert api.get("/open-apis/bot/v3/info", auth=new).code == 0


def test_app_access_token_endpoint(api):
    answer = api.post("/open-apis/auth/v3/app_access_token/internal",
                      {"app_id": data.APP_ID, "app_secret": data.APP_SECRET}, auth=False)
    assert answer.json["code"] == 0
    assert answer.json["app_access_token"].startswith("a-")
    assert answer.json["tenant_access_token"].startswith("t-")


@pytest.mark.parametrize(("body", "code"), [
    ({"app_id": data.APP_ID, "app_secret": "wrong"}, 10014),
    ({"app_id": "cli_other", "app_secret": data.APP_SECRET}, 10014),
    ({"app_id": data.APP_ID}, 10003),
])
def test_token_errors(api, body, code):
    answer = api.post(TOKEN_URL, body, auth=False)
    assert (answer.status, answer.code) == (400, code)
    assert answer.json["error"]["log_id"]


def test_token_endpoint_rejects_non_json(api):
    answer = api.post(TOKEN_URL, raw=b"app_id=x", auth=False)
    assert (answer.status, answer.code) == (400, 9499)


@pytest.mark.parametrize(("headers", "code"), [
    ({}, 99991661), ({"Authorization": ""}, 99991661), ({"Authorization": "Basic abc"}, 99991661),
    ({"Authorization": "Bearer"}, 99991661), ({"Authorization": "Bearer t-forged"}, 99991663),
])
def test_every_api_needs_a_valid_bearer_token(api, headers, code):
    for path in (f"/open-apis/approval/v4/instances/{data.INSTANCES['remedy_pending']}", "/open-apis/bot/v3/info",
                 "/open-apis/contact/v3/users/ou_manager"):
        response = api.client.get(path, headers=headers)
        assert response.status_code == 400
        assert response.get_json()["code"] == code


def test_revoked_tokens_fail_until_reset(api, state):
    state.revoke_tokens()
    assert api.process(RECORD, "remedy", 2).code == 99991663
    assert state.record(RECORD)["status"] == 0
    state.reset()
    assert api.get("/open-apis/bot/v3/info").code == 0  # reset keeps issued tokens valid


def test_every_response_carries_a_log_id_matching_the_error(api):
    ok = api.instance(data.INSTANCES["remedy_pending"])
    bad = api.instance("7300000000000000000")
    assert ok.headers["X-Tt-Logid"] and "error" not in ok.json
    assert bad.json["error"]["log_id"] == bad.headers["X-Tt-Logid"]
    assert bad.headers["Content-Type"].startswith("application/json")


# -- approval v4 --------------------------------------------------------------------------------------------------


def test_instance_lookup_has_the_seed_004_shape(api):
    answer = api.instance(data.INSTANCES["every_widget"], locale="zh-CN", user_id_type="open_id")
    assert (answer.status, answer.code, answer.json["msg"]) == (200, 0, "success")
    inst = answer.json["data"]
    assert list(inst) == ["approval_name", "start_time", "end_time", "user_id", "open_id", "serial_number",
                          "department_id", "status", "uuid", "form", "task_list", "comment_list", "timeline",
                          "modified_instance_code", "reverted_instance_code", "approval_code", "reverted",
                          "instance_code"]
    assert isinstance(inst["form"], str) and isinstance(json.loads(inst["form"]), list)
    assert set(inst["task_list"][0]) == {"id", "user_id", "open_id", "status", "node_id", "node_name",
                                         "custom_node_id", "type", "start_time", "end_time"}
    assert inst["comment_list"][0]["files"][0]["file_size"] == 186823


def test_instance_lookup_by_uuid_and_locale(api, state):
    code = data.INSTANCES["remedy_pending"]
    uuid = state.instance(code)["uuid"]
    assert api.instance(uuid).json["data"]["instance_code"] == code
    assert api.instance(code, locale="en-US").json["data"]["approval_name"] == "Punch Correction"
    assert api.instance(code).json["data"]["approval_name"] == "补卡申请"


@pytest.mark.parametrize(("query", "code"), [
    ({"locale": "fr-FR"}, 1390001), ({"user_id_type": "email"}, 1390001), ({"user_id": "ou_nobody"}, 1390004),
])
def test_instance_lookup_param_errors(api, query, code):
    answer = api.instance(data.INSTANCES["remedy_pending"], **query)
    assert (answer.status, answer.code) == (400, code)


def test_unknown_instance_is_1390003(api):
    answer = api.instance("7399999999999999999")
    assert (answer.status, answer.code, answer.json["msg"]) == (400, 1390003, "instance code not found")


def todo(api, user, **query):
    return api.get("/open-apis/approval/v4/tasks/query", user_id=user, topic="1", **query)


def test_task_query_lists_a_users_pending_tasks(api):
    answer = todo(api, "ou_manager")
    assert answer.code == 0
    tasks = answer.json["data"]["tasks"]
    codes = {t["process_code"] for t in tasks}
    assert {data.INSTANCES[n] for n in ("remedy_pending", "remedy_pending_2", "remedy_pending_3", "leave_pending",
                                        "every_widget", "attendance_field", "purchase_two_step",
                                        "linked_remedy")} == codes
    assert data.INSTANCES["own_request"] not in codes  # manager requested it: not their task
    first = tasks[0]
    assert set(first) >= {"topic", "user_id", "title", "urls", "process_external_id", "task_external_id", "status",
                          "process_status", "definition_code", "initiators", "initiator_names", "task_id",
                          "process_id", "process_code", "definition_group_id", "definition_id", "definition_name"}
    assert (first["topic"], first["status"], first["user_id"]) == ("1", "1", "ou_manager")
    assert set(first["urls"]) == {"helpdesk", "mobile", "pc"}
    assert answer.json["data"]["count"] == {"total": len(tasks), "has_more": False}
    assert answer.json["data"]["has_more"] is False and answer.json["data"]["page_token"] == ""


def test_task_query_for_other_approvers(api):
    manager2 = {t["process_code"] for t in todo(api, "ou_manager2").json["data"]["tasks"]}
    admin = {t["process_code"] for t in todo(api, "u_admin", user_id_type="user_id").json["data"]["tasks"]}
    assert manager2 == {data.INSTANCES["remedy_pending_2"], data.INSTANCES["own_request"]}
    assert admin == {data.INSTANCES["own_request"]}
    assert todo(api, "ou_stranger").json["data"]["tasks"] == []


def test_task_query_pages(api, state):
    codes = set(data.seed_pending(state, approver="stranger", n=25))
    seen: list[str] = []
    token = None
    for _ in range(10):  # bounded
        query = {"page_size": 10, **({"page_token": token} if token else {})}
        page = todo(api, "ou_stranger", **query).json["data"]
        seen += [t["process_code"] for t in page["tasks"]]
        assert page["count"]["total"] == 25
        if not page["has_more"]:
            break
        token = page["page_token"]
    assert len(seen) == 25 and set(seen) == codes


@pytest.mark.parametrize(("query", "code"), [
    ({"user_id": "ou_manager"}, 1390001),
    ({"user_id": "ou_manager", "topic": "9"}, 1390001),
    ({"topic": "1"}, 1390001),
    ({"user_id": "ou_nobody", "topic": "1"}, 1390004),
    ({"user_id": "ou_manager", "topic": "1", "page_size": "201"}, 99992402),
    ({"user_id": "ou_manager", "topic": "1", "page_size": "x"}, 99992402),
    ({"user_id": "ou_manager", "topic": "1", "page_token": "garbage!"}, 1390001),
])
def test_task_query_errors(api, query, code):
    answer = api.get("/open-apis/approval/v4/tasks/query", **query)
    assert (answer.status, answer.code) == (400, code)


def test_page_token_belongs_to_its_query(api, state):
    data.seed_pending(state, approver="stranger", n=3)
    token = todo(api, "ou_stranger", page_size=1).json["data"]["page_token"]
    assert todo(api, "ou_manager", page_size=1, page_token=token).code == 1390001


def test_approved_task_leaves_the_todo_list_and_enters_done(api, state):
    code = data.INSTANCES["remedy_pending"]
    state.decide(code, approve=True)  # approved in Feishu by the task's holder
    assert code not in {t["process_code"] for t in todo(api, "ou_manager").json["data"]["tasks"]}
    done = api.get("/open-apis/approval/v4/tasks/query", user_id="ou_manager", topic="2").json["data"]["tasks"]
    entry = next(t for t in done if t["process_code"] == code)
    assert (entry["status"], entry["process_status"]) == ("2", "2")


# -- IM -------------------------------------------------------------------------------------------------------------


def test_send_a_card_to_a_user(api, state):
    answer = send(api, "ou_manager", card2("你好 **manager**"))
    assert answer.code == 0
    msg = answer.json["data"]
    assert msg["message_id"].startswith("om_")
    assert (msg["chat_id"], msg["msg_type"], msg["deleted"], msg["updated"]) == ("oc_p2p_manager", "interactive",
                                                                                False, False)
    assert msg["sender"] == {"id": data.APP_ID, "id_type": "app_id", "sender_type": "app",
                             "tenant_key": data.TENANT_KEY}
    assert json.loads(msg["body"]["content"])["schema"] == "2.0"
    assert state.bot_messages("oc_p2p_manager")[0]["content"]["body"]["elements"][0]["content"] == "你好 **manager**"


@pytest.mark.parametrize(("receive_id", "id_type", "chat"), [
    ("oc_group_team", "chat_id", "oc_group_team"), ("u_employee", "user_id", "oc_p2p_employee"),
    ("on_admin", "union_id", "oc_p2p_admin"), ("manager2@sandbox.example.com", "email", "oc_p2p_manager2"),
])
def test_send_by_every_receive_id_type(api, receive_id, id_type, chat):
    answer = send(api, receive_id, {"text": "hi"}, msg_type="text", id_type=id_type)
    assert answer.json["data"]["chat_id"] == chat


@pytest.mark.parametrize(("receive_id", "id_type", "code"), [
    ("ou_nobody", "open_id", 230013), ("oc_unknown", "chat_id", 230002), ("ou_manager", "phone", 99992402),
])
def test_send_to_unknown_receivers(api, receive_id, id_type, code):
    assert send(api, receive_id, {"text": "hi"}, msg_type="text", id_type=id_type).code == code


def test_send_validates_the_body(api):
    assert api.post(MESSAGES, {"receive_id": "ou_manager", "msg_type": "text", "content": "{}"}).code == 99992402
    bad_type = {"receive_id": "ou_manager", "msg_type": "text", "content": {"text": "hi"}}
    assert api.post(MESSAGES, bad_type, receive_id_type="open_id").code == 9499
    assert api.post(MESSAGES, raw=b"{nope", receive_id_type="open_id").code == 9499
    assert send(api, "ou_manager", "not json at all").code == 230001
    assert send(api, "ou_manager", {"nope": 1}, msg_type="text").code == 230001
    assert send(api, "ou_manager", {"text": "x"}, msg_type="telegram").code == 230001
    assert send(api, "ou_manager", {"text": "x"}, msg_type="text", uuid="u" * 51).code == 99992402


@pytest.mark.parametrize(("card", "fragment"), [
    (card2(extra_field=1), "unknown property"),
    ({"schema": "2.0", "body": {"elements": [{"tag": "action", "actions": []}]}}, "'action'"),
    ({"schema": "2.0", "body": {"elements": [{"tag": "note", "elements": []}]}}, "'note'"),
    ({"schema": "2.0", "header": {"template": "red"}, "body": {"elements": []}}, "header.title"),
    ({"schema": "2.0", "config": {"update_multi": False}, "body": {"elements": []}}, "update_multi"),
    ({"schema": "2.0", "body": {}}, "body.elements"),
    ({"schema": "2.0", "body": {"elements": [{"tag": "hr"}] * 201}}, "300305"),
    ({"config": {}}, "elements"),
])
def test_bad_cards_are_230099(api, card, fragment):
    answer = send(api, "ou_manager", card)
    assert (answer.status, answer.code) == (400, 230099)
    assert fragment in answer.json["msg"]


def test_cards_over_30_kb_are_230025(api):
    assert send(api, "ou_manager", card2("x" * (31 * 1024))).code == 230025
    assert send(api, "ou_manager", card2("x" * (29 * 1024))).code == 0


def test_uuid_makes_send_idempotent(api, state):
    first = send(api, "ou_manager", card2(), uuid="notify-123")
    second = send(api, "ou_manager", card2("different"), uuid="notify-123")
    assert first.json["data"]["message_id"] == second.json["data"]["message_id"]
    assert len(state.bot_messages()) == 1
    state.advance(3601)
    assert send(api, "ou_manager", card2(), uuid="notify-123").json["data"]["message_id"] != first.json["data"][
        "message_id"]


def test_reply_to_a_user_message(api, state):
    user_msg = state.record_user_message("manager", "oc_group_team", "@_user_1 /pending")
    answer = api.post(f"{MESSAGES}/{user_msg['message_id']}/reply",
                      {"msg_type": "interactive", "content": json.dumps(card2()), "uuid": "r-1"})
    msg = answer.json["data"]
    assert (msg["chat_id"], msg["parent_id"], msg["root_id"]) == ("oc_group_team", user_msg["message_id"],
                                                                  user_msg["message_id"])
    again = api.post(f"{MESSAGES}/{user_msg['message_id']}/reply",
                     {"msg_type": "interactive", "content": json.dumps(card2()), "uuid": "r-1"})
    assert again.json["data"]["message_id"] == msg["message_id"]
    assert len(state.bot_messages()) == 1
    threaded = api.post(f"{MESSAGES}/{user_msg['message_id']}/reply",
                        {"msg_type": "text", "content": '{"text":"ok"}', "reply_in_thread": True})
    assert threaded.json["data"]["thread_id"].startswith("omt_")


def test_reply_errors(api, state):
    body = {"msg_type": "text", "content": '{"text":"x"}'}
    assert api.post(f"{MESSAGES}/om_unknown/reply", body).code == 230001
    user_msg = state.record_user_message("manager", "oc_p2p_manager", "hi")
    state.recall(user_msg["message_id"])
    assert api.post(f"{MESSAGES}/{user_msg['message_id']}/reply", body).code == 230011


def test_patch_updates_the_card_and_keeps_history(api, state):
    message_id = send(api, "ou_manager", card2("pending")).json["data"]["message_id"]
    answer = api.patch(f"{MESSAGES}/{message_id}", {"content": json.dumps(card2("approved"))})
    assert (answer.status, answer.json) == (200, {"code": 0, "msg": "success", "data": {}})
    message = state.message(message_id)
    assert message["content"]["body"]["elements"][0]["content"] == "approved"
    assert [h["via"] for h in message["history"]] == ["create", "patch"]
    assert message["updated"] is True


def test_patch_errors(api, state):
    card_id = send(api, "ou_manager", card2()).json["data"]["message_id"]
    text_id = send(api, "ou_manager", {"text": "hi"}, msg_type="text").json["data"]["message_id"]
    user_id = state.record_user_message("manager", "oc_p2p_manager", "hi")["message_id"]
    content = {"content": json.dumps(card2())}
    assert api.patch(f"{MESSAGES}/om_unknown", content).code == 230001
    assert api.patch(f"{MESSAGES}/{user_id}", content).code == 230027
    not_card = api.patch(f"{MESSAGES}/{text_id}", content)
    assert not_card.code == 230001 and "NOT a card" in not_card.json["msg"]
    downgrade = api.patch(f"{MESSAGES}/{card_id}", {"content": json.dumps(card1())})
    assert downgrade.code == 230099 and "200830" in downgrade.json["msg"]
    assert api.patch(f"{MESSAGES}/{card_id}", {"content": "{"}).code == 230001
    assert api.patch(f"{MESSAGES}/{card_id}", {"nothing": 1}).code == 99992402
    state.advance(14 * 86400 + 1)
    api.refresh_token()  # two weeks on, the old tenant token has long expired
    assert api.patch(f"{MESSAGES}/{card_id}", content).code == 230031


def test_patch_of_a_shared_1_0_card_and_the_update_multi_rule(api):
    shared = send(api, "ou_manager", card1()).json["data"]["message_id"]
    assert api.patch(f"{MESSAGES}/{shared}", {"content": json.dumps(card1("new"))}).code == 0
    assert api.patch(f"{MESSAGES}/{shared}", {"content": json.dumps(card2())}).code == 0  # upgrading is fine
    private = card1()
    private["config"] = {"wide_screen_mode": True}
    not_shared = send(api, "ou_manager", private).json["data"]["message_id"]
    assert api.patch(f"{MESSAGES}/{not_shared}", {"content": json.dumps(card1())}).code == 230099


def test_patch_rate_limit_is_5_per_second_per_message(api):
    message_id = send(api, "ou_manager", card2()).json["data"]["message_id"]
    codes = [api.patch(f"{MESSAGES}/{message_id}", {"content": json.dumps(card2(str(i)))}).code for i in range(6)]
    assert codes == [0, 0, 0, 0, 0, 230020]


def test_recalled_message_cannot_be_patched(api, state):
    message_id = send(api, "ou_manager", card2()).json["data"]["message_id"]
    state.recall(message_id)
    assert api.patch(f"{MESSAGES}/{message_id}", {"content": json.dumps(card2())}).code == 230011


def update(api, token, card):
    return api.post("/open-apis/interactive/v1/card/update", {"token": token, "card": card})


def test_delayed_card_update_with_a_callback_token(api, state):
    message_id = send(api, "ou_manager", card2("pending")).json["data"]["message_id"]
    token = state.issue_card_token(message_id, "oc_p2p_manager", "ou_manager")
    state.card_token_answered(token)
    answer = update(api, token, {**card2("approved"), "open_ids": ["ou_manager"]})
    assert (answer.status, answer.code) == (200, 0)
    message = state.message(message_id)
    assert message["content"]["body"]["elements"][0]["content"] == "approved"
    assert "open_ids" not in message["content"]
    assert message["history"][-1]["via"] == "card_update"
    assert update(api, token, card2("again")).code == 0
    third = update(api, token, card2("third"))
    assert third.code == 230001 and "used up" in third.json["msg"]


def test_delayed_update_errors(api, state):
    message_id = send(api, "ou_manager", card2()).json["data"]["message_id"]
    assert update(api, "c-forged", card2()).code == 230001
    token = state.issue_card_token(message_id)
    assert update(api, token, card1()).code == 230099  # 2.0 -> 1.0
    assert api.post("/open-apis/interactive/v1/card/update", {"token": token, "card": "{}"}).code == 9499
    state.advance(30 * 60 + 1)
    expired = update(api, token, card2())
    assert expired.code == 230001 and "expired" in expired.json["msg"]


def test_update_before_the_callback_answer_is_flagged(api, state):
    message_id = send(api, "ou_manager", card2()).json["data"]["message_id"]
    token = state.issue_card_token(message_id)
    assert update(api, token, card2("early")).code == 0
    assert state.message(message_id)["history"][-1]["via"] == "card_update_before_answer"


# -- contact, bot, unknown routes ---------------------------------------------------------------------------------


def test_user_lookup(api):
    by_open = api.get("/open-apis/contact/v3/users/ou_employee", user_id_type="open_id").json["data"]["user"]
    by_user = api.get("/open-apis/contact/v3/users/u_employee", user_id_type="user_id").json["data"]["user"]
    assert {k: v for k, v in by_open.items() if k != "leader_user_id"} == {
        k: v for k, v in by_user.items() if k != "leader_user_id"}
    assert (by_open["name"], by_open["en_name"], by_open["department_ids"]) == ("张三", "Employee Zhang", ["od-sales"])
    # the user get page: leader_user_id is in the query's user_id_type
    assert (by_open["leader_user_id"], by_user["leader_user_id"]) == ("ou_manager", "u_manager")
    assert api.get("/open-apis/contact/v3/users/ou_manager").json["data"]["user"]["open_id"] == "ou_manager"


@pytest.mark.parametrize(("path", "query", "code"), [
    ("/open-apis/contact/v3/users/ou_nobody", {}, 41050),
    ("/open-apis/contact/v3/users/ou_manager", {"user_id_type": "user_id"}, 41050),
    ("/open-apis/contact/v3/users/ou_manager", {"user_id_type": "nickname"}, 99992402),
])
def test_user_lookup_errors(api, path, query, code):
    answer = api.get(path, **query)
    assert (answer.status, answer.code) == (400, code)


def test_bot_info(api):
    answer = api.get("/open-apis/bot/v3/info")
    assert answer.json["code"] == 0 and answer.json["msg"] == "ok"
    assert answer.json["bot"]["open_id"] == "ou_bot"
    assert answer.json["bot"]["app_name"] == "Approval Bot"
    assert answer.json["bot"]["activate_status"] == 2


def test_unknown_open_api_route_is_a_json_404_and_logged(api, state):
    answer = api.get("/open-apis/approval/v4/approvals/xyz")
    assert answer.status == 404 and answer.code == 404
    assert state.calls[-1].endpoint == "unknown"
    assert api.get(PROCESS).status == 404  # wrong method


# -- the call log -------------------------------------------------------------------------------------------------


def test_call_log_records_every_call_exactly(api, state):
    api.instance(data.INSTANCES["remedy_pending"])
    api.process(RECORD, "remedy", 2)
    api.process(RECORD, "remedy", 2)
    assert [c.endpoint for c in state.calls] == ["token", "instance_get", "process", "process"]
    calls = state.process_calls()
    assert [c.status for c in calls] == [200, 400]
    assert [c.code for c in calls] == [0, 1220600]
    assert calls[0].json == {"approval_id": RECORD, "approval_type": "remedy", "status": 2}
    assert calls[0]["method"] == "POST" and calls[0]["path"] == PROCESS
    assert calls[0].applied and calls[0].outcome == "ok" and calls[1].outcome == "error"
    assert calls[0].log_id and calls[0].duration_s is not None
    assert all("Authorization" not in c.headers for c in state.calls)
    assert state.calls[1].query == {}


def test_reset_restores_the_seed_and_empties_the_log(api, state):
    calls = state.calls
    api.process(RECORD, "remedy", 2)
    send(api, "ou_manager", card2())
    state.inject("process", code=1220001)
    state.reset()
    assert state.calls is calls and calls == []
    assert state.faults == [] and state.bot_messages() == []
    assert state.record(RECORD)["status"] == 0
    assert api.process(RECORD, "remedy", 2).code == 0


# -- faults -------------------------------------------------------------------------------------------------------


def test_injected_5xx_once_then_normal(api, state):
    fault = state.inject("instance_get", http_status=500, times=1)
    first = api.instance(data.INSTANCES["remedy_pending"])
    second = api.instance(data.INSTANCES["remedy_pending"])
    assert (first.status, first.code) == (500, 1395001)
    assert first.json["error"]["log_id"] == first.headers["X-Tt-Logid"]
    assert (second.status, second.code) == (200, 0)
    assert fault.hits == 1
    assert [c.status for c in state.calls_for("instance_get")] == [500, 200]
    assert state.calls_for("instance_get")[0].fault["http_status"] == 500


@pytest.mark.parametrize(("status", "code"), [(500, 1225000), (502, 1225000), (503, 1225000)])
def test_process_5xx_does_not_apply(api, state, status, code):
    state.inject("process", http_status=status)
    answer = api.process(RECORD, "remedy", 2)
    assert (answer.status, answer.code) == (status, code)
    assert state.record(RECORD)["status"] == 0
    assert state.process_calls()[0].applied is False


def test_rate_limit_429_with_reset_header(api, state):
    state.inject("tasks_query", rate_limit_reset_s=2.5, times=1)
    answer = todo(api, "ou_manager")
    assert (answer.status, answer.code) == (429, 99991400)
    assert answer.headers["x-ogw-ratelimit-reset"] == "3"
    assert answer.json["msg"] == "request trigger frequency limit"
    assert todo(api, "ou_manager").code == 0


def test_rate_limit_as_400_with_reset_header(api, state):
    state.inject("process", http_status=400, code=99991400, rate_limit_reset_s=1)
    answer = api.process(RECORD, "remedy", 2)
    assert (answer.status, answer.code, answer.headers["x-ogw-ratelimit-reset"]) == (400, 99991400, "1")


@pytest.mark.parametrize(("code", "status"), [(1220001, 400), (1220002, 400), (1220004, 400), (1220005, 400),
                                              (1220600, 400), (1225000, 500), (1226500, 500), (1227500, 500)])
def test_every_seed_000_code_can_be_injected(api, state, code, status):
    state.inject("process", code=code, msg="injected")
    answer = api.process(RECORD, "remedy", 2)
    assert (answer.status, answer.code, answer.json["msg"]) == (status, code, "injected")


def test_non_json_body(api, state):
    state.inject("instance_get", body="<html><body>502 Bad Gateway</body></html>")
    answer = api.instance(data.INSTANCES["remedy_pending"])
    assert answer.status == 502 and answer.json is None and "Bad Gateway" in answer.text
    assert answer.headers["Content-Type"].startswith("text/html")


def test_fault_for_one_id_only(api, state):
    state.inject("instance_get", id=data.INSTANCES["remedy_approved"], code=1390009)
    assert api.instance(data.INSTANCES["remedy_approved"]).code == 1390009
    assert api.instance(data.INSTANCES["remedy_pending"]).code == 0


def test_wildcard_fault_and_clear(api, state):
    state.inject("*", http_status=503)
    assert api.get("/open-apis/bot/v3/info").status == 503
    assert api.instance(data.INSTANCES["remedy_pending"]).status == 503
    state.clear_faults()
    assert api.get("/open-apis/bot/v3/info").status == 200


def test_latency(api, state):
    state.inject("user_get", latency_s=0.2)
    started = time.monotonic()
    assert api.get("/open-apis/contact/v3/users/ou_manager").code == 0
    assert time.monotonic() - started >= 0.2


def test_drop_without_applying(api, state):
    state.inject("process", drop=True)
    with pytest.raises(ConnectionDropped):
        api.process(RECORD, "remedy", 2)
    assert state.record(RECORD)["status"] == 0
    call = state.process_calls()[0]
    assert (call.outcome, call.applied, call.status) == ("dropped", False, None)


def test_drop_after_apply_changes_state_and_loses_the_answer(api, state):
    state.inject("process", drop_after_apply=True, times=1)
    with pytest.raises(ConnectionDropped):
        api.process(RECORD, "remedy", 2)
    assert state.record(RECORD)["status"] == 2
    call = state.process_calls()[0]
    assert (call.outcome, call.applied, call.status, call.response) == ("dropped", True, None, None)
    assert api.process(RECORD, "remedy", 2).code == 1220600  # a blind retry is refused


def _in_thread(state: SandboxState, action):
    result: dict = {}

    def run():
        try:
            result["answer"] = action(Api(state))
        except Exception as err:  # recorded for the assertion
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_hold_until_released(state):
    state.inject("process", hold=True, times=1)
    thread, result = _in_thread(state, lambda a: a.process(RECORD, "remedy", 2))
    assert state.wait_held(1, timeout=5)
    assert state.record(RECORD)["status"] == 0
    assert state.process_calls()[0].outcome == "pending"
    state.release_holds()
    thread.join(5)
    assert result["answer"].code == 0
    assert state.held == 0
    assert state.record(RECORD)["status"] == 2


def test_hold_after_apply(state):
    state.inject("process", hold_after_apply=True, times=1)
    thread, result = _in_thread(state, lambda a: a.process(RECORD, "remedy", 2))
    assert state.wait_held(1, timeout=5)
    assert state.record(RECORD)["status"] == 2  # applied, answer not yet sent
    state.release_holds()
    thread.join(5)
    assert result["answer"].code == 0


def test_reset_abandons_held_requests(state):
    state.inject("process", hold=True)
    thread, result = _in_thread(state, lambda a: a.process(RECORD, "remedy", 2))
    assert state.wait_held(1, timeout=5)
    state.reset()
    thread.join(5)
    assert isinstance(result.get("error"), ConnectionDropped)
    assert state.record(RECORD)["status"] == 0
    assert state.calls == [] or all(c.endpoint == "token" for c in state.calls)


def test_inject_validates_its_arguments(state):
    with pytest.raises(ValueError):
        state.inject("nonexistent")
    with pytest.raises(ValueError):
        state.inject("process", latency_s=-1)
    with pytest.raises(ValueError):
        state.inject("process", http_status=999)


# -- /_sandbox/ controls ----------------------------------------------------------------------------------------------


def test_control_endpoints(api, state):
    client = api.client
    api.process(RECORD, "remedy", 2)
    calls = client.get("/_sandbox/calls?endpoint=process").get_json()["calls"]
    assert len(calls) == 1 and calls[0]["code"] == 0 and calls[0]["endpoint"] == "process"
    snap = client.get(f"/_sandbox/state/{RECORD}").get_json()
    assert snap["attendance"]["status"] == 2 and snap["instance"] is None  # an id names one world only
    native = client.get(f"/_sandbox/state/{data.INSTANCES['remedy_pending']}").get_json()
    assert native["instance"]["status"] == "PENDING" and native["attendance"] is None
    assert client.get(f"/_sandbox/state/{data.ATTENDANCE_FIELD_ID}").status_code == 404  # attendance lists none
    assert client.get("/_sandbox/state/123").status_code == 404
    added = client.post("/_sandbox/faults", json={"endpoint": "process", "code": 1220001, "times": 1})
    assert added.status_code == 200 and added.get_json()["fault"]["code"] == 1220001
    assert client.post("/_sandbox/faults", json={"endpoint": "process", "bogus": 1}).status_code == 400
    assert client.post("/_sandbox/faults", json={"endpoint": "nope"}).status_code == 400
    assert client.post("/_sandbox/faults", json=[1]).status_code == 400
    assert len(client.get("/_sandbox/faults").get_json()["faults"]) == 1
    assert client.delete("/_sandbox/faults").status_code == 200 and state.faults == []
    assert client.post("/_sandbox/release").status_code == 200
    send(api, "ou_manager", card2())
    chats = client.get("/_sandbox/messages").get_json()["chats"]
    assert list(chats) == ["oc_p2p_manager"] and chats["oc_p2p_manager"][0]["content"]["schema"] == "2.0"
    samples = client.get("/_sandbox/samples").get_json()
    assert samples["instances"]["every_widget"] == data.INSTANCES["every_widget"]
    assert samples["records"]["remedy_pending"] == RECORD
    target = {"url": "http://127.0.0.1:9", "encrypt_key": "k", "verification_token": "v"}
    assert client.post("/_sandbox/event_target", json=target).status_code == 200
    assert state.event_target.url == "http://127.0.0.1:9"
    assert client.post("/_sandbox/event_target", json={}).get_json() == {"event_target": None}
    assert client.post("/_sandbox/reset").status_code == 200
    assert state.calls == [] and state.record(RECORD)["status"] == 0


def test_flask_level_answers_carry_a_log_id_too(api):
    response = api.client.get("/not-feishu")
    assert response.status_code == 404 and response.headers["X-Tt-Logid"]


def test_state_helpers_for_test_set_ups(state):
    code = data.INSTANCES["remedy_pending_2"]
    decided = state.decide(code, approve=True, comment="ok")  # the first pending task's holder, in Feishu
    assert (decided["by"], decided["status"]) == ("ou_manager", "APPROVED")
    inst = state.instance(code)
    assert [t["status"] for t in inst["task_list"]] == ["APPROVED", "DONE"]  # an OR node: the other task is done
    assert inst["timeline"][-1]["type"] == "PASS" and inst["timeline"][-1]["comment"] == "ok"
    with pytest.raises(ValueError):
        state.decide(code)
    with pytest.raises(LookupError):
        state.decide(RECORD)  # an attendance id names no instance
    assert state.record(RECORD)["status"] == 0
    assert state.find_user("Employee Zhang") is None and state.find_user("u_employee")["name"] == "张三"
