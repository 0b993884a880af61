"""The app factory, a composition root: the only place (with bot/cli.py) where config, gateway, store, the
application's registry and pipeline, and the routes are wired together (docs/architecture.md)."""

from __future__ import annotations

import atexit
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from bot import logs, metrics
from bot.config import Config, ConfigError, environment, load_config
from bot.security import WebhookKeys
from bot.store import Store, open_store_or_exit

if TYPE_CHECKING:
    from core.inbound import Inbound
    from handlers.context import Context
    from handlers.maintenance import Maintenance
    from handlers.pipeline import Answer

log = logging.getLogger(__name__)
access_log = logging.getLogger("approval_bot.access")  # one JSON line per request (bot/logs.py)
MAX_BODY_BYTES = 1024 * 1024
POOL_THREADS = 16

_apps: weakref.WeakSet[Flask] = weakref.WeakSet()


@dataclass
class Services:
    """The bot without a transport: what the webhook and the long connection both hand deliveries to."""

    ctx: Context
    clock: Callable[[], float]
    maintenance: Maintenance
    dispatch: Callable[[Inbound, float], Answer]
    settle: Callable[[Inbound], Answer | None]  # the answer when a delivery needs no work (the long connection)
    keys: WebhookKeys | None = None  # the webhook's secrets (the long connection needs none)


def build_services(
    config: Config,
    *,
    feishu: object | None = None,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    on_settled: Callable[[str, str], None] | None = None,
) -> Services:
    """Gateway, store, registry, pool and pipeline, wired; a registry that cannot work exits with one line."""
    logs.configure()
    import cards
    from handlers import registry
    from handlers.context import Context
    from handlers.maintenance import Maintenance
    from handlers.pipeline import dispatch, settle_without_work
    from handlers.registry import RegistryError

    try:
        routes = registry()
    except RegistryError as err:
        raise SystemExit(f"approval-bot: {err}") from None
    cards.preload()  # in the master under preload_app: one compiled copy of the templates, shared by the workers
    gateway: Any = feishu or load_gateway()(
        config.app_id, config.app_secret.reveal(), config.base_url, config.api_timeout_s,
        observer=metrics.observe_feishu, task_calls_per_minute=config.task_calls_per_minute,
    )
    store = store or open_store_or_exit(config.database_url)
    # every request's job runs here: as many threads as gunicorn gives requests, so no job of a busy worker
    # waits for a pool thread while its request's answer budget runs (docs/serving.md)
    pool = ThreadPoolExecutor(max_workers=max(POOL_THREADS, config.threads), thread_name_prefix="bot-work")
    ctx = Context(config=config, feishu=gateway, store=store, pool=pool, registry=routes, clock=clock,
                  **({"on_settled": on_settled} if on_settled else {}))
    atexit.register(pool.shutdown, wait=True, cancel_futures=False)
    return Services(ctx=ctx, clock=clock, maintenance=Maintenance(ctx), dispatch=partial(dispatch, ctx),
                    settle=partial(settle_without_work, ctx))


def load_gateway() -> type:
    """bot.feishu's FeishuGateway. The first call loads lark-oapi (~10k modules; once, in the master under
    preload_app), the collector paused and what it built frozen (bot/sdk.py, loading_sdk)."""
    from bot.feishu import FeishuGateway

    return FeishuGateway


def create_app(
    config: Config | None = None,
    *,
    feishu: object | None = None,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    on_settled: Callable[[str, str], None] | None = None,
) -> Flask:
    """The webhook bot. With no config, read the environment (and .env); a bad value exits with one line."""
    if config is None:
        try:
            config = load_config(environment())
        except ConfigError as err:
            raise SystemExit(f"approval-bot: configuration error: {err}") from None
    services = build_services(config, feishu=feishu, store=store, clock=clock, on_settled=on_settled)
    if config.insecure_demo:
        log.warning("BOT_INSECURE_DEMO is on: events are accepted unsigned (token only); serve on 127.0.0.1 only")
    services.keys = WebhookKeys(
        encrypt_key=config.encrypt_key.reveal(),
        verification_token=config.verification_token.reveal(),
        app_id=config.app_id,
        max_skew_s=config.max_clock_skew_s,
        insecure=config.insecure_demo,
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["approval_bot"] = services
    _install_routes(app)
    _apps.add(app)
    return app


def _install_routes(app: Flask) -> None:
    from bot.webhook import bp as webhook_bp

    app.register_blueprint(webhook_bp)

    @app.before_request
    def _request_id() -> None:
        app.extensions["approval_bot"].maintenance.ensure_started()
        incoming = request.environ.get("HTTP_X_REQUEST_ID", "")
        g.request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else logs.new_request_id()
        g.started = time.monotonic()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = g.get("request_id", "")
        response.headers["X-Request-Id"] = request_id
        response.headers["X-Content-Type-Options"] = "nosniff"  # every answer, the challenge and errors included
        access_log.info(
            "%s %s %s", request.method, request.path[:200], response.status_code,
            extra={"status": response.status_code, "event_id": g.get("event_id", ""), "request_id": request_id,
                   "duration_ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1000, 1)},
        )
        return response

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        report = app.extensions["approval_bot"].ctx.store.health()
        return jsonify(report.body()), report.http_status

    @app.get("/metrics")
    def prometheus() -> Response:
        payload, content_type = metrics.exposition()
        return Response(payload, content_type=content_type)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Response, int]:
        status = err.code or 400
        if status == 413:
            metrics.REJECTED.labels("too_large").inc()
        return jsonify({"code": status, "msg": (err.name or "error").lower()}), status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[Response, int]:
        ref = uuid.uuid4().hex[:12]
        log.error("unexpected %s ref=%s", type(err).__name__, ref, exc_info=True)
        return jsonify({"code": 500, "msg": "internal error", "ref": ref}), 500


def shutdown(app: Flask | Services) -> None:
    """Stop background upkeep, let in-flight work finish, close the store (tests, the demo, SIGTERM)."""
    services = app if isinstance(app, Services) else app.extensions["approval_bot"]
    services.maintenance.stop()
    services.ctx.pool.shutdown(wait=True, cancel_futures=False)
    services.ctx.store.close()


def after_fork() -> None:
    """Called by gunicorn in each new worker: connections opened in the master must not be shared."""
    for app in list(_apps):
        app.extensions["approval_bot"].ctx.store.after_fork()

