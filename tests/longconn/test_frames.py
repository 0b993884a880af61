"""Every frame reaches the handle as the decoded JSON a webhook body has, and gets the handle's answer."""

from __future__ import annotations

import time

from tests.longconn.conftest import TOAST, RecordingHandle, approval_v1_event, card_click, message_event, wait_until


def test_a_message_event_reaches_the_handle_and_is_answered_200(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    event = message_event()
    delivery = hub.push_event(event)
    assert delivery.accepted, delivery.error
    assert delivery.code == 200 and delivery.body is None
    assert handle.payloads == [event]
    assert hub.protocol_errors == []


def test_a_card_click_in_a_card_frame_gets_the_toast_in_the_reply_frame(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    click = card_click()
    delivery = hub.push_card(click)
    assert delivery.kind == "card" and delivery.accepted, delivery.error
    assert delivery.body == TOAST
    assert handle.payloads == [click]


def test_a_card_click_in_an_event_frame_is_answered_the_same_way(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    delivery = hub.push_event(card_click())
    assert delivery.accepted and delivery.body == TOAST


def test_an_approval_v1_event_reaches_the_handle(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    event = approval_v1_event()
    assert hub.push_event(event).accepted
    assert handle.payloads == [event]


def test_an_event_type_nobody_handles_is_answered_200_not_repushed(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    event = message_event("ev-unknown")
    event["header"]["event_type"] = "contact.user.updated_v3"
    delivery = hub.push_event(event)
    assert delivery.accepted
    assert not wait_until(lambda: len(hub.deliveries_of(event)) > 1, 1.0)
    assert handle.payloads == [event]


def test_a_large_payload_arrives_in_several_frames_and_is_reassembled(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    event = message_event("ev-big", text="长" * 40_000)  # ~120 kB of UTF-8: 8 frames of 16 kB
    delivery = hub.push_event(event)
    assert delivery.parts >= 3
    assert delivery.accepted
    assert handle.payloads == [event]


def test_frames_may_be_split_anywhere_even_inside_a_character(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    event = message_event("ev-split", text="审批" * 10)
    assert hub.push_event(event, parts=7).accepted
    assert handle.payloads == [event]


def test_an_event_the_handle_refuses_is_pushed_again_until_it_is_accepted(connect, hub):
    answers = iter([(503, {}), (200, {})])
    handle = RecordingHandle(answer=lambda _payload: next(answers))
    connect(handle)
    event = message_event("ev-retry")
    first = hub.push_event(event)
    assert first.code == 503 and not first.accepted
    assert wait_until(lambda: any(d.accepted for d in hub.deliveries_of(event)), 3)
    assert [d.attempt for d in hub.deliveries_of(event)] == [1, 2]
    assert len(handle.payloads) == 2


def test_a_handle_that_raises_answers_500_and_feishu_pushes_again(connect, hub):
    calls = []

    def flaky(payload):
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("store unreachable")
        return 200, {}

    connect(flaky)
    event = message_event("ev-raise")
    assert hub.push_event(event).code == 500
    assert wait_until(lambda: any(d.accepted for d in hub.deliveries_of(event)), 3)
    assert len(calls) == 2


def test_a_card_callback_is_never_pushed_again(connect, hub):
    handle = RecordingHandle(answer=lambda _payload: (500, {}))
    connect(handle)
    click = card_click("ev-card-500")
    assert hub.push_card(click).code == 500
    assert not wait_until(lambda: len(hub.deliveries_of(click)) > 1, 1.0)


def test_an_undecodable_payload_is_refused_without_calling_the_handle(connect, hub):
    handle = RecordingHandle()
    connect(handle)
    delivery = hub.push_raw("event", b"\xff not json")
    assert delivery.code == 400
    assert handle.payloads == []


def test_a_handle_answer_that_is_not_json_is_still_answered_500_not_left_unanswered(connect, hub):
    connect(lambda _payload: (200, {"toast": object()}))
    delivery = hub.push_card(card_click("ev-card-bad-body"))
    assert delivery.code == 500 and delivery.in_time


def _answers_sent(kind: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"direction": "out", "type": kind, "outcome": "ok"}
    return REGISTRY.get_sample_value("longconn_frames_total", labels) or 0.0


def test_a_follow_up_the_handle_returns_runs_once_the_answer_is_sent(connect, hub):
    seen: dict = {}

    def handle(payload):
        sent_before = _answers_sent("card")
        return 200, TOAST, lambda: seen.update(sent=_answers_sent("card") - sent_before)

    connect(handle)
    assert hub.push_card(card_click("ev-card-after")).body == TOAST
    assert wait_until(lambda: "sent" in seen, 2)
    assert seen["sent"] == 1  # the answer frame was out before the follow-up (e.g. a delayed card update) began


def test_a_late_handles_follow_up_runs_when_it_finishes(connect, hub):
    ran = []
    connect(lambda _payload: (time.sleep(3.0), (200, TOAST, lambda: ran.append("after")))[1])
    delivery = hub.push_card(card_click("ev-card-late-after"))
    assert delivery.in_time and delivery.body == {}  # answered at the budget, before the handle finished
    assert ran == []
    assert wait_until(lambda: ran == ["after"], 2)
