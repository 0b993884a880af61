"""The sandbox's event sender over the long connection: what the playground and `demo --connect` use."""

from __future__ import annotations

from sandbox.longconn import long_connection_sender
from tests.longconn.conftest import TOAST, RecordingHandle


def test_a_users_message_goes_over_the_long_connection_and_is_recorded(connect, hub, sandbox):
    handle = RecordingHandle()
    connect(handle)
    sender = long_connection_sender(hub, sandbox.state, timeout=5)
    sent = sender.message("manager", "/pending")
    assert sent.ok and not sent.late
    assert handle.payloads[0]["header"]["event_type"] == "im.message.receive_v1"
    assert sandbox.state.message(sent.message_id) is not None  # the bot can reply to it


def test_a_click_goes_as_a_card_frame_and_its_toast_comes_back(connect, hub, sandbox):
    handle = RecordingHandle()
    connect(handle)
    sender = long_connection_sender(hub, sandbox.state, timeout=5)
    shown = sandbox.state.record_user_message("ou_manager", "oc_p2p_manager", "hi")
    sent = sender.click("manager", {"action": "approve", "approval_id": "7"}, message_id=shown["message_id"])
    assert sent.ok and sent.toast == TOAST["toast"]
    assert [d.kind for d in hub.deliveries] == ["card"]
    assert handle.payloads[0]["event"]["token"] == sent.payload["event"]["token"]


def test_the_playground_can_talk_to_a_bot_on_the_long_connection(connect, hub, sandbox):
    from flask import Flask

    from sandbox.longconn import attach_playground

    app = Flask("playground-only")
    app.extensions["sandbox_longconn"] = hub
    attach_playground(app, sandbox.state, locale="en_us")
    handle = RecordingHandle()
    connect(handle)
    answer = app.test_client().post("/_playground/api/send", json={"user": "manager", "text": "/help"})
    assert answer.status_code == 200 and answer.get_json()["status"] == 200
    assert [p["header"]["event_type"] for p in handle.payloads] == ["im.message.receive_v1"]
