"""`approval-bot`: demo | serve | connect | sandbox | check-config."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, environment, load_config


def check_config(online: bool = False) -> int:
    """Every problem of the configuration, one line each (exit 2); with `online`, also try the token, the store,
    each subscription and the scopes (exit 1 on any failure). Starts nothing."""
    try:
        config = load_config(environment())
    except ConfigError as err:
        for problem in err.problems:
            print(f"approval-bot: {problem}", file=sys.stderr)  # noqa: T201
        count = len(err.problems)
        print(f"approval-bot: configuration error: {count} problem{'s' if count != 1 else ''}",  # noqa: T201
              file=sys.stderr)
        return 2
    mode = "insecure demo mode (loopback only)" if config.insecure_demo else "signed and encrypted events"
    store = config.database_url.split(":", 1)[0]
    print(f"approval-bot: configuration OK: app {config.app_id}, {mode}, store {store}, "  # noqa: T201
          f"Feishu at {config.base_url}, locale {config.locale}")
    if not online:
        return 0
    return _check_online(config)


def _check_online(config: Config) -> int:
    from bot.feishu import FeishuGateway
    from bot.preflight import run_online_checks
    from bot.store import open_store

    gateway = FeishuGateway(config.app_id, config.app_secret.reveal(), config.base_url, config.api_timeout_s)
    checks = run_online_checks(config, gateway, open_store, time.time)
    for check in checks:
        print(f"approval-bot: {check.line()}", flush=True)  # noqa: T201 - one stream, in order
    failed = sum(1 for c in checks if not c.ok)
    if failed:
        print(f"approval-bot: {failed} online check{'s' if failed != 1 else ''} failed",  # noqa: T201
              file=sys.stderr)
        return 1
    print("approval-bot: every online check passed")  # noqa: T201
    return 0


def _subscribe(args: argparse.Namespace) -> int:
    """Subscribe approval definitions' events (the codes given, else BOT_APPROVAL_CODES): a line per code; exit 0
    when every code ends subscribed, new or already."""
    try:
        config = load_config(environment(), long_connection=True)  # needs only the app's credentials
    except ConfigError as err:
        for problem in err.problems:
            print(f"approval-bot: {problem}", file=sys.stderr)  # noqa: T201
        return 2
    codes = tuple(dict.fromkeys(code.strip().upper() for code in args.codes if code.strip())) or config.approval_codes
    if not codes:
        print("approval-bot: no approval codes: pass some, or set BOT_APPROVAL_CODES", file=sys.stderr)  # noqa: T201
        return 2
    from bot.feishu import FeishuGateway
    from bot.preflight import check_subscriptions

    gateway = FeishuGateway(config.app_id, config.app_secret.reveal(), config.base_url, config.api_timeout_s)
    checks = check_subscriptions(codes, gateway)
    for check in checks:
        print(f"approval-bot: {check.line()}", flush=True)  # noqa: T201
    return 0 if all(c.ok for c in checks) else 1


def _serve(args: argparse.Namespace) -> int:
    """gunicorn with the production settings (the same command as the Procfile)."""
    if args.port:
        os.environ["PORT"] = str(args.port)
    argv = ["gunicorn", "-c", "python:bot.gunicorn_conf", "bot.app:create_app()"]
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", *argv[1:]])  # noqa: S606
    return 0  # pragma: no cover


def _connect(args: argparse.Namespace) -> int:
    """Long-connection mode: events and callbacks over Feishu's WebSocket, through the same pipeline."""
    try:
        config = load_config(environment(), long_connection=True)
    except ConfigError as err:
        print(f"approval-bot: configuration error: {err}", file=sys.stderr)  # noqa: T201
        return 2
    from bot.app import build_services, shutdown
    from bot.longconn import pipeline_handle, pipeline_triage, run_long_connection

    services = build_services(config)
    services.maintenance.ensure_started()
    handle = pipeline_handle(services.dispatch, config.app_id, config.answer_budget_s)
    try:
        return run_long_connection(config.app_id, config.app_secret.reveal(), config.base_url, handle,
                                   health_port=args.health_port or config.health_port,
                                   metrics_token=config.metrics_token.reveal() or None,
                                   store_health=services.ctx.store.health,
                                   triage=pipeline_triage(services.settle, config.app_id))
    finally:
        shutdown(services)


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.server import run_sandbox

    run_sandbox(args.port)
    return 0


def demo_environment(sandbox_url: str, data_dir: Path) -> dict[str, str]:
    """Embedded defaults: the sandbox's app credentials, fresh keys for this run, and its approval definitions
    subscribed, so that submissions and decisions made in the sandbox reach the bot as events."""
    from sandbox.data import DEFINITIONS

    return {
        "FEISHU_APP_ID": "cli_sandbox_app",
        "FEISHU_APP_SECRET": "sandbox-app-secret",
        "FEISHU_VERIFICATION_TOKEN": secrets.token_urlsafe(24),
        "FEISHU_ENCRYPT_KEY": secrets.token_urlsafe(24),
        "FEISHU_BASE_URL": sandbox_url,
        "BOT_ADMINS": "ou_admin",
        "DATABASE_URL": f"sqlite:///{data_dir / 'demo.sqlite3'}",
        "BOT_LOCALE": os.environ.get("BOT_LOCALE", "zh_cn"),
        "BOT_APPROVAL_CODES": ",".join(d["approval_code"] for d in DEFINITIONS.values()),
    }


def attach_digest(demo: Any) -> None:
    """`attach_simulations` for a demo started by `sandbox.demo.start_demo`."""
    attach_simulations(demo.bot_app.extensions["approval_bot"].ctx, demo.sandbox.app)


def attach_simulations(ctx: Any, sandbox_app: Any) -> None:
    """What the playground simulates needs the bot as a tenant would run it: subscribed to the sandbox's approval
    definitions (so a new submission or a decision in Feishu pushes events to it), and its daily digest on a
    button (the demo runs the bot in this process)."""
    from handlers import digest
    from sandbox.playground import set_digest
    from sandbox.worlds import build_definitions

    for code in build_definitions():
        ctx.feishu.subscribe_approval(code)  # as `approval-bot subscribe` does, through the Open API
    set_digest(sandbox_app, lambda: digest.send_now(ctx))


def _demo(args: argparse.Namespace) -> int:
    """Sandbox + bot (+ the playground page) on 127.0.0.1, until Ctrl-C."""
    if args.connect:
        return _demo_connect(args)
    from bot.app import create_app, shutdown
    from sandbox.demo import start_demo

    data_dir = Path(tempfile.mkdtemp(prefix="approval-bot-demo-"))
    demo = start_demo(lambda env: create_app(load_config(env)), lambda url: demo_environment(url, data_dir),
                      port=args.port, sandbox_port=args.sandbox_port)
    attach_digest(demo)
    print(f"approval-bot demo\n  playground: {demo.playground_url}\n  bot:        {demo.bot.url}\n"  # noqa: T201
          f"  sandbox:    {demo.sandbox.url}\nPress Ctrl-C to stop.", flush=True)
    _wait_for_stop()
    demo.stop(finish_bot=lambda: shutdown(demo.bot_app))
    print("stopped.")  # noqa: T201
    return 0


def _demo_connect(args: argparse.Namespace) -> int:
    """The demo with the bot on the long connection: the playground talks to it over the sandbox's WebSocket."""
    from bot.app import build_services, shutdown
    from bot.longconn import HealthServer, LongConnection, pipeline_handle, pipeline_triage
    from sandbox.app import create_sandbox_app
    from sandbox.longconn import attach_playground
    from sandbox.server import ServerThread
    from sandbox.state import SandboxState

    data_dir = Path(tempfile.mkdtemp(prefix="approval-bot-demo-"))
    state = SandboxState()
    sandbox_app = create_sandbox_app(state)
    attach_playground(sandbox_app, state, locale=os.environ.get("BOT_LOCALE", "zh_cn"))
    sandbox = ServerThread(sandbox_app, port=args.sandbox_port).start()
    config = load_config(demo_environment(sandbox.url, data_dir), long_connection=True)
    services = build_services(config)
    attach_simulations(services.ctx, sandbox_app)
    services.maintenance.ensure_started()
    handle = pipeline_handle(services.dispatch, config.app_id, config.answer_budget_s)
    connection = LongConnection(config.app_id, config.app_secret.reveal(), config.base_url, handle,
                                triage=pipeline_triage(services.settle, config.app_id)).start()
    health = HealthServer(connection.status, host="127.0.0.1", port=args.port,
                          store_health=services.ctx.store.health).start()
    print(f"approval-bot demo (long connection)\n  playground: {sandbox.url}/playground\n"  # noqa: T201
          f"  bot health: {health.url}/healthz\n  sandbox:    {sandbox.url}\nPress Ctrl-C to stop.", flush=True)
    _wait_for_stop()
    connection.stop()
    health.stop()
    shutdown(services)
    state.clear_faults()
    state.release_holds()
    sandbox.stop()
    print("stopped.")  # noqa: T201
    return 0


def _wait_for_stop() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="approval-bot", description="Feishu attendance approvals in chat")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="sandbox + bot + playground on 127.0.0.1")
    demo.add_argument("--port", type=int, default=8000, help="bot port (default 8000)")
    demo.add_argument("--sandbox-port", type=int, default=8089, help="sandbox and playground port (default 8089)")
    demo.add_argument("--connect", action="store_true", help="run the bot on the long connection (no webhook)")
    demo.set_defaults(run=_demo)
    serve = sub.add_parser("serve", help="run the bot under gunicorn with the production settings")
    serve.add_argument("--port", type=int, default=0, help="port (default $PORT or 8000)")
    serve.set_defaults(run=_serve)
    conn = sub.add_parser("connect", help="long-connection mode: no public URL (self-built apps)")
    conn.add_argument("--health-port", type=int, default=0, help="/healthz and /metrics (default $BOT_HEALTH_PORT)")
    conn.set_defaults(run=_connect)
    subscribe = sub.add_parser("subscribe", help="subscribe approval definitions' events (default BOT_APPROVAL_CODES)")
    subscribe.add_argument("codes", nargs="*", metavar="CODE", help="approval definition codes")
    subscribe.set_defaults(run=_subscribe)
    box = sub.add_parser("sandbox", help="the local Feishu emulator alone")
    box.add_argument("--port", type=int, default=8089)
    box.set_defaults(run=_sandbox)
    check = sub.add_parser("check-config", help="list every configuration problem, one line each")
    check.add_argument("--online", action="store_true",
                       help="also try the token, the store, each subscription and the scopes the features need")
    check.set_defaults(run=lambda args: check_config(args.online))
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except OSError as err:
        print(f"approval-bot: {err.strerror or err}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
