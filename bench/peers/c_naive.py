"""Peer C: peer B doing what the bot does on a click, inline and unguarded: the instance lookup (approval v4
instance GET), then the action on the clicker's own PENDING task (`tasks/approve`, as that approver, by open_id)
through the SDK client against the sandbox, then a toast and a raw card. No dedup, no authorization, no lock, no
intent, no audit, no names, no other card copies.
"""

import os

import lark_oapi as lark
from lark_oapi.api.approval.v4 import ApproveTaskRequest, GetInstanceRequest, RejectTaskRequest, TaskApprove
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

from bench.peers.b_lark import build_handler, card
from bench.peers.b_lark import create_app as create_b_app

client = (
    lark.Client.builder()
    .app_id(os.environ["FEISHU_APP_ID"])
    .app_secret(os.environ["FEISHU_APP_SECRET"])
    .domain(os.environ["FEISHU_BASE_URL"])
    .timeout(float(os.environ.get("FEISHU_TIMEOUT_S", "2.0")))
    .log_level(lark.LogLevel.WARNING)
    .build()
)


def toast(kind: str, text: str, body: dict | None = None) -> P2CardActionTriggerResponse:
    answer = {"toast": {"type": kind, "content": text}}
    if body is not None:
        answer["card"] = {"type": "raw", "data": body}
    return P2CardActionTriggerResponse(answer)


def on_card_action(data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
    value = data.event.action.value or {}
    open_id = data.event.operator.open_id
    instance_code = str(value.get("approval_id") or "")
    found = client.approval.v4.instance.get(GetInstanceRequest.builder().instance_id(instance_code).build())
    if not found.success():
        return toast("error", f"lookup failed: {found.code}")
    task = next((t for t in found.data.task_list or () if t.status == "PENDING" and t.open_id == open_id), None)
    if task is None:
        return toast("error", "not your task")
    body = (TaskApprove.builder().approval_code(found.data.approval_code).instance_code(instance_code)
            .task_id(task.id).user_id(open_id).comment("").build())
    if value.get("action") == "reject":
        done = client.approval.v4.task.reject(RejectTaskRequest.builder().user_id_type("open_id")
                                             .request_body(body).build())
    else:
        done = client.approval.v4.task.approve(ApproveTaskRequest.builder().user_id_type("open_id")
                                              .request_body(body).build())
    if not done.success():
        return toast("error", f"task action failed: {done.code}")
    return toast("success", "approved", card(f"Approved {found.data.approval_name} {found.data.serial_number}"))


def create_app():
    return create_b_app(build_handler(on_card_action))
