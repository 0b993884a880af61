"""PATCH of one message is limited to 5 a second (230020 beyond, docs/feishu.md): the gateway paces them per
message, and one refused by the limit anyway (another process) is sent again after a pause, not lost. The real
lark-oapi client against the sandbox, whose clock moves with the gateway's injected one: no real waiting."""

from __future__ import annotations

import cards
from bot.feishu import PATCH_PER_MESSAGE_PER_S, FeishuGateway


class Clock:
    """The gateway's clock and sleep; sleeping moves the sandbox's clock as much."""

    def __init__(self, sandbox) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._sandbox = sandbox

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self._sandbox.state.advance(seconds)


def notice(text: str) -> dict:
    return cards.render("notice", "en_us", title="Notice", text=text, tone="info", log_id=None)


def gateway_and_card(sandbox):
    clock = Clock(sandbox)
    gateway = FeishuGateway(sandbox.app_id, sandbox.app_secret, sandbox.url, clock=clock, sleep=clock.sleep)
    message_id = gateway.send_card("ou_manager", notice("v0"))
    return gateway, clock, message_id


def patches(sandbox, message_id: str) -> list:
    return [c for c in sandbox.calls_for("message_patch") if message_id in c.path]


def test_a_burst_of_updates_to_one_message_is_paced_and_none_is_refused(sandbox):
    gateway, clock, message_id = gateway_and_card(sandbox)
    burst = 3 * PATCH_PER_MESSAGE_PER_S + 1
    for n in range(burst):
        gateway.patch_card(message_id, notice(f"v{n + 1}"))
    calls = patches(sandbox, message_id)
    assert len(calls) == burst and all(c.status == 200 for c in calls)
    assert "v16" in str(sandbox.state.message(message_id)["content"])
    assert 3.0 <= sum(clock.slept) < 3.5  # three waits of about a second: 5, 5, 5 then 1


def test_other_messages_do_not_wait_for_a_busy_one(sandbox):
    gateway, clock, busy = gateway_and_card(sandbox)
    other = gateway.send_card("ou_manager", notice("other"))
    for n in range(PATCH_PER_MESSAGE_PER_S):
        gateway.patch_card(busy, notice(f"v{n}"))
    gateway.patch_card(other, notice("other v1"))
    assert clock.slept == []


def test_an_update_refused_by_the_per_message_limit_is_sent_again(sandbox):
    gateway, clock, message_id = gateway_and_card(sandbox)
    sandbox.inject("message_patch", id=message_id, code=230020, http_status=400, times=1)
    gateway.patch_card(message_id, notice("after the limit"))
    assert [c.status for c in patches(sandbox, message_id)] == [400, 200]
    assert clock.slept == [1.0]
    assert "after the limit" in str(sandbox.state.message(message_id)["content"])
