"""Peer B: lark-oapi's own webhook pattern — EventDispatcherHandler behind its Flask adapter, with an encrypt key
and a verification token (signature checked, body decrypted, token checked by the SDK). Handlers do nothing for a
message, and answer a toast and a raw card for a card callback. No dedup, no timestamp window, no store.
"""

import os

import lark_oapi as lark
from flask import Flask, jsonify
from lark_oapi.adapter.flask import parse_req, parse_resp
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)


def card(text: str) -> dict:
    return {"schema": "2.0", "header": {"title": {"tag": "plain_text", "content": "Approval"}},
            "body": {"elements": [{"tag": "markdown", "content": text}]}}


def on_message(data: lark.im.v1.P2ImMessageReceiveV1) -> None:
    return None


def on_card_action(data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
    return P2CardActionTriggerResponse({"toast": {"type": "success", "content": "ok"},
                                        "card": {"type": "raw", "data": card("ok")}})


def build_handler(on_card=on_card_action) -> lark.EventDispatcherHandler:
    return (
        lark.EventDispatcherHandler.builder(os.environ["FEISHU_ENCRYPT_KEY"], os.environ["FEISHU_VERIFICATION_TOKEN"],
                                            lark.LogLevel.WARNING)
        .register_p2_im_message_receive_v1(on_message)
        .register_p2_card_action_trigger(on_card)
        .build()
    )


def create_app(handler: lark.EventDispatcherHandler | None = None) -> Flask:
    handler = handler or build_handler()
    app = Flask(__name__)

    @app.post("/webhook/event")
    def event():
        return parse_resp(handler.do(parse_req()))

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
