"""The app's pool runs every request's job: it has at least as many threads as gunicorn's request threads, so a
busy worker's jobs never wait for a pool thread while their answer budget runs (docs/serving.md)."""

from __future__ import annotations

import pytest

from bot.app import POOL_THREADS, build_services, shutdown
from bot.config import load_config
from tests.fakes import FakeGateway


@pytest.mark.parametrize("threads", [4, 32, 48])
def test_the_pool_has_a_thread_for_every_request_thread(tmp_path, threads):
    env = {"FEISHU_APP_ID": "cli_a", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "v",
           "FEISHU_ENCRYPT_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
           "BOT_THREADS": str(threads)}
    services = build_services(load_config(env), feishu=FakeGateway())
    try:
        assert services.ctx.pool._max_workers == max(POOL_THREADS, threads)  # noqa: SLF001 - the figure itself
    finally:
        shutdown(services)
