"""Peer C: peer B doing the naive work inline on a card click — instance lookup and the process call through the
SDK client against the sandbox, then a toast and a raw card. No dedup, no authorization, no lock, no audit.
"""

import json
import os

import lark_oapi as lark
from lark_oapi.api.approval.v4 import GetInstanceRequest
from lark_oapi.api.attendance.v1 import ProcessApprovalInfoRequest, ProcessApprovalInfoRequestBody
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
    instance_code = str(value.get("approval_id") or "")
    found = client.approval.v4.instance.get(GetInstanceRequest.builder().instance_id(instance_code).build())
    if not found.success():
        return toast("error", f"lookup failed: {found.code}")
    status = {"approve": 2, "reject": 1, "revoke": 4}.get(value.get("action"), 2)
    request = (
        ProcessApprovalInfoRequest.builder()
        .request_body(ProcessApprovalInfoRequestBody.builder().approval_id(instance_code)
                      .approval_type(str(value.get("approval_type") or "remedy")).status(status).build())
        .build()
    )
    done = client.attendance.v1.approval_info.process(request)
    if not done.success():
        return toast("error", f"process failed: {done.code}")
    title = json.dumps(found.data.instance_code if found.data else instance_code)
    return toast("success", "approved", card(f"Approved {title}"))


def create_app():
    return create_b_app(build_handler(on_card_action))
