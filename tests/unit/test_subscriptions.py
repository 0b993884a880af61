"""BOT_APPROVAL_CODES are subscribed once per deployment, and `approval-bot subscribe` says how each code ended."""

from __future__ import annotations

from core.errors import FeishuError
from handlers.subscriptions import subscribe_configured
from tests.cli import run_cli
from tests.fakes import FakeGateway, FakeStore, make_context

CODES = ("A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A03", "A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A04")


def test_two_processes_on_one_store_subscribe_each_code_once():
    store, gateway = FakeStore(), FakeGateway()
    first, second = (make_context(gateway, store, approval_codes=CODES) for _ in range(2))
    assert subscribe_configured(first) == 2
    assert subscribe_configured(second) == 0
    assert [c for c in gateway.calls if c[0] == "subscribe"] == [("subscribe", c) for c in CODES]


def test_an_unreachable_feishu_is_tried_again_and_a_wrong_code_is_not():
    store = FakeStore()

    class Failing(FakeGateway):
        def subscribe_approval(self, approval_code: str) -> bool:
            self.calls.append(("subscribe", approval_code))
            if approval_code == CODES[0]:
                raise FeishuError(-1, "timeout", kind="timeout")
            raise FeishuError(1390002, "approval code not found")

    gateway = Failing()
    ctx = make_context(gateway, store, approval_codes=CODES)
    subscribe_configured(ctx)
    subscribe_configured(ctx)
    assert [c[1] for c in gateway.calls] == [CODES[0], CODES[1], CODES[0]]


def test_the_subscribe_command_says_a_line_per_code(sandbox_server, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FEISHU_APP_ID": sandbox_server.app_id,
           "FEISHU_APP_SECRET": sandbox_server.app_secret, "FEISHU_BASE_URL": sandbox_server.url}
    command = ["subscribe", CODES[0], "NOT-A-REAL-CODE-0000"]
    result = run_cli(command, env, tmp_path)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert lines[0].startswith(f"approval-bot: ok      subscribe {CODES[0]}: ")
    assert lines[1].startswith("approval-bot: PROBLEM subscribe NOT-A-REAL-CODE-0000: refused (code 1390002")
    again = run_cli(command[:2], env, tmp_path)
    assert again.returncode == 0 and "already subscribed" in again.stdout
