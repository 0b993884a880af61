"""`check-config --online`: the token, the store (a write), each subscription and the scopes, one line each,
saying what is wrong; exit non-zero on any problem."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.feishu import FeishuError
from bot.preflight import FEATURE_SCOPES, check_scopes, check_store, check_subscriptions, run_online_checks
from bot.store import open_store
from tests.cli import run_cli

CODE_A = "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C01"
CODE_B = "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C02"
EVERY_SCOPE = frozenset(s for _, scopes in FEATURE_SCOPES for s in scopes)


class FakeGateway:
    def __init__(self, *, bot: Exception | None = None, subscribe: dict[str, Any] | None = None,
                 scopes: frozenset[str] | Exception = EVERY_SCOPE) -> None:
        self.bot, self.subscribe, self.scopes = bot, subscribe or {}, scopes
        self.subscribed: list[str] = []

    def bot_info(self) -> dict[str, Any]:
        if self.bot:
            raise self.bot
        return {"app_name": "Approval Bot", "open_id": "ou_bot"}

    def subscribe_approval(self, code: str) -> bool:
        self.subscribed.append(code)
        outcome = self.subscribe.get(code, True)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def granted_scopes(self) -> frozenset[str]:
        if isinstance(self.scopes, Exception):
            raise self.scopes
        return self.scopes


def _config(tmp_path: Path, **env: str) -> Any:
    return load_config({"FEISHU_APP_ID": "cli_a1", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "t",
                        "FEISHU_ENCRYPT_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}", **env})


def test_everything_fine_is_one_ok_line_per_check(tmp_path: Path) -> None:
    gateway = FakeGateway(subscribe={CODE_B: False})
    checks = run_online_checks(_config(tmp_path, BOT_APPROVAL_CODES=f"{CODE_A},{CODE_B}"), gateway, open_store,
                               lambda: 1_800_000_000.0)
    assert [(c.name, c.ok) for c in checks] == [("store", True), ("token", True), (f"subscribe {CODE_A}", True),
                                                (f"subscribe {CODE_B}", True), ("scopes", True)]
    assert [c.detail for c in checks[2:4]] == ["subscribed", "already subscribed"]
    assert gateway.subscribed == [CODE_A, CODE_B]


def test_wrong_credentials_say_so_and_skip_the_rest(tmp_path: Path) -> None:
    gateway = FakeGateway(bot=FeishuError(10014, "app secret invalid", log_id="LOG1"))
    checks = run_online_checks(_config(tmp_path, BOT_APPROVAL_CODES=CODE_A), gateway, open_store, lambda: 1.0)
    token = next(c for c in checks if c.name == "token")
    assert not token.ok and "FEISHU_APP_SECRET" in token.detail and "10014" in token.detail
    assert gateway.subscribed == []  # every Feishu call would fail the same way
    unreachable = run_online_checks(_config(tmp_path), FakeGateway(bot=FeishuError(-1, "x", kind="network")),
                                    open_store, lambda: 1.0)
    assert "could not be reached" in next(c.detail for c in unreachable if c.name == "token")


def test_each_refused_subscription_is_named_with_what_to_do() -> None:
    gateway = FakeGateway(subscribe={CODE_A: FeishuError(1390002, "approval code not found"),
                                     CODE_B: FeishuError(99991672, "Access denied")})
    checks = check_subscriptions((CODE_A, CODE_B), gateway)
    assert [c.ok for c in checks] == [False, False]
    assert "no approval definition has this code" in checks[0].detail
    assert "approval:approval or approval:definition" in checks[1].detail


def test_missing_scopes_name_the_feature_and_the_scope() -> None:
    granted = EVERY_SCOPE - {"attendance:task", "im:message:update"}
    checks = check_scopes(FakeGateway(scopes=granted))
    assert [c.ok for c in checks] == [False, False]
    assert checks[0].detail.startswith("acting on attendance records (approval_infos/process) needs attendance:task")
    assert checks[1].detail.startswith("updating cards needs im:message:update")
    # one scope of a group is enough: approval:approval alone serves lookups, tasks and subscriptions
    only_broad = EVERY_SCOPE - {"approval:approval:readonly", "approval:instance", "approval:task",
                                "approval:definition"}
    assert [c.detail for c in check_scopes(FakeGateway(scopes=only_broad))] == [
        "/pending (tasks/query) needs approval:approval:readonly: grant it in the developer console and publish a "
        "new version"]
    unlisted = check_scopes(FakeGateway(scopes=FeishuError(99991672, "Access denied")))
    assert not unlisted[0].ok and "could not be listed" in unlisted[0].detail


def test_an_unreachable_database_is_a_problem_and_its_password_is_not_shown() -> None:
    check = check_store("postgresql://bot:hunter2-secret@127.0.0.1:1/bot", open_store, 1.0)
    assert not check.ok and "127.0.0.1:1" in check.detail
    assert "hunter2-secret" not in check.detail and "***" in check.detail


def test_a_store_that_cannot_be_written_is_a_problem(tmp_path: Path) -> None:
    check = check_store(f"sqlite:///{tmp_path / 'no-such-dir' / 'bot.sqlite3'}", open_store, 1.0)
    assert not check.ok and "not usable" in check.detail and "directory missing" in check.detail


# --- the command against the sandbox ---------------------------------------------------------------------------


def _run(tmp_path: Path, sandbox: Any, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "FEISHU_APP_ID": sandbox.app_id,
            "FEISHU_APP_SECRET": sandbox.app_secret, "FEISHU_VERIFICATION_TOKEN": "vt", "FEISHU_ENCRYPT_KEY": "ek",
            "FEISHU_BASE_URL": sandbox.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}"}
    return run_cli(["check-config", "--online"], {**base, **env}, tmp_path)


def test_online_check_against_the_sandbox_reports_every_check(tmp_path: Path, sandbox: Any) -> None:
    result = _run(tmp_path, sandbox, BOT_APPROVAL_CODES=CODE_A)
    out = result.stdout + result.stderr
    assert "approval-bot: ok      store: sqlite:///" in out
    assert "approval-bot: ok      token: tenant token issued for" in out
    assert f"subscribe {CODE_A}:" in out and " scopes: " in out
    problems = [line for line in out.splitlines() if " PROBLEM " in line]
    assert result.returncode == (1 if problems else 0), out
    assert "Traceback" not in out
    assert any(c.endpoint == "token" for c in sandbox.calls)


def test_online_check_with_a_wrong_secret_fails_on_the_token(tmp_path: Path, sandbox: Any) -> None:
    result = _run(tmp_path, sandbox, FEISHU_APP_SECRET="wrong-secret")
    assert result.returncode == 1
    assert "PROBLEM token: Feishu refused the app credentials (code 10014)" in result.stdout
    assert result.stderr.strip() == "approval-bot: 2 online checks failed"  # the token, and the skipped rest
    assert "wrong-secret" not in result.stdout + result.stderr
