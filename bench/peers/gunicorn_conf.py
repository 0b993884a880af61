"""The peers' gunicorn settings: the bot's own (bot/gunicorn_conf.py, the Procfile's) without its hooks, which
only concern the bot; PEER_PRELOAD=0 switches preload_app off (peer B "without preload")."""

import os

from bot.gunicorn_conf import (  # noqa: F401 - gunicorn reads these names from this module
    access_log_format,
    accesslog,
    bind,
    errorlog,
    graceful_timeout,
    keepalive,
    limit_request_fields,
    limit_request_line,
    loglevel,
    max_requests,
    preload_app,
    threads,
    timeout,
    worker_class,
    workers,
)

preload_app = os.environ.get("PEER_PRELOAD", "1") != "0"
