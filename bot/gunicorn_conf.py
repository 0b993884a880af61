"""Gunicorn settings for production (`gunicorn -c python:bot.gunicorn_conf 'bot.app:create_app()'`).

Workers are bot.serving.BufferingWorker: gthread's thread pool, but the main loop reads every request in full
(headers within 5 s, the body within 2 s, at most 1 MiB) before a thread sees it, so slow or idle clients hold
no thread (docs/serving.md). The worker timeout stays far below gunicorn's default 30 s but above the 3 s
answer budget, since late card updates finish in the background pool after the answer. preload_app imports
lark_oapi (2-4 s, ~140 MiB) once in the master; workers share those pages copy-on-write (docs/serving.md,
"Memory and start-up").
"""

import os
import tempfile

_insecure = os.environ.get("BOT_INSECURE_DEMO", "").strip().lower() in ("1", "true", "yes", "on")
# Insecure demo mode (unsigned, plaintext events) never listens beyond loopback, whatever HOST says.
bind = f"{'127.0.0.1' if _insecure else os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
worker_class = "bot.serving.BufferingWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads run complete requests only; they wait on Feishu (the answer budget), never on a client.
threads = int(os.environ.get("BOT_THREADS", "32"))
# Connections parked in one worker's selector (idle keep-alive, requests still arriving): a few KB each.
# At the bound the longest-waiting one is closed; the soft open-file limit is raised to fit (bot/serving.py).
worker_connections = 4096
timeout = int(os.environ.get("BOT_WORKER_TIMEOUT_S", "20"))
graceful_timeout = 30
keepalive = 5
preload_app = True
control_socket_disable = True  # gunicorn 27's control socket is one path per user: instances would share it
max_requests = 0
limit_request_line = 8190
limit_request_fields = 100
# The app writes the access log itself: one JSON line per request with request id, event id, status and
# duration (bot/app.py, logger approval_bot.access). Set GUNICORN_ACCESS_LOG=- for gunicorn's own line too.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'

# Metrics from every worker are merged through files in one directory (prometheus-client multiprocess mode).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="approval-bot-metrics-")


def when_ready(server):  # noqa: ARG001 - gunicorn's hook: in the master, the app loaded, no worker forked yet
    # What the master built stays put: the workers' collector never walks it, so it never writes to (and copies)
    # the pages they share with the master. lark-oapi's ~10k modules were frozen as they loaded
    # (bot/sdk.py, loading_sdk); this collects and freezes the rest of the app.
    import gc

    gc.collect()
    gc.freeze()


def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    from bot.app import after_fork

    after_fork()


def child_exit(server, worker):  # noqa: ARG001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
