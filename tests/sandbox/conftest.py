"""Fixtures for the sandbox's own tests: an in-process Flask client (fast, no sockets) and, through the
`sandbox.testing` plugin, the session sandbox on 127.0.0.1 that the real lark-oapi client talks to.

`state` and `api` share one Flask app per worker (building one costs ~20 ms of CPU: werkzeug compiles every
route), over one state that each test gets as a new one: reset to the seed with its tokens forgotten."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from sandbox import data
from sandbox.app import create_sandbox_app
from sandbox.state import SandboxState


def pytest_configure(config: pytest.Config) -> None:
    # The lead registers the plugin in tests/conftest.py; until then (or when run alone) register it here.
    if not config.pluginmanager.has_plugin("sandbox.testing"):
        config.pluginmanager.import_plugin("sandbox.testing")


@dataclass
class Answer:
    status: int
    json: Any
    headers: Any
    text: str

    @property
    def code(self) -> Any:
        return self.json.get("code") if isinstance(self.json, dict) else None


class Api:
    """The Flask test client with a tenant token, answering (status, json, headers)."""

    def __init__(self, state: SandboxState, app: Flask | None = None) -> None:
        self.state = state
        self.client = (app if app is not None else create_sandbox_app(state)).test_client()
        self.token = ""
        self.refresh_token()

    def refresh_token(self) -> str:
        self.token = self.post("/open-apis/auth/v3/tenant_access_token/internal",
                               {"app_id": data.APP_ID, "app_secret": data.APP_SECRET}, auth=False).json[
            "tenant_access_token"]
        return self.token

    def _headers(self, auth: bool | str) -> dict[str, str]:
        if auth is False:
            return {}
        token = self.token if auth is True else auth
        return {"Authorization": f"Bearer {token}"}

    def _answer(self, response: Any) -> Answer:
        text = response.get_data(as_text=True)
        return Answer(response.status_code, response.get_json(silent=True), response.headers, text)

    def get(self, path: str, auth: bool | str = True, **query: Any) -> Answer:
        return self._answer(self.client.get(path, query_string=query, headers=self._headers(auth)))

    def post(self, path: str, body: Any = None, auth: bool | str = True, raw: bytes | None = None,
             **query: Any) -> Answer:
        kwargs: dict[str, Any] = ({"data": raw, "content_type": "application/json"} if raw is not None
                                  else {"json": body})
        return self._answer(self.client.post(path, query_string=query, headers=self._headers(auth), **kwargs))

    def patch(self, path: str, body: Any, auth: bool | str = True) -> Answer:
        return self._answer(self.client.patch(path, json=body, headers=self._headers(auth)))

    def process(self, approval_id: str, approval_type: str, status: Any) -> Answer:
        return self.post("/open-apis/attendance/v1/approval_infos/process",
                         {"approval_id": approval_id, "approval_type": approval_type, "status": status})

    def instance(self, instance_id: str, **query: Any) -> Answer:
        return self.get(f"/open-apis/approval/v4/instances/{instance_id}", **query)


@pytest.fixture(scope="session")
def _shared_app() -> Iterator[Flask]:
    app = create_sandbox_app(SandboxState())
    try:
        yield app
    finally:
        app.extensions["sandbox_longconn"].stop()


@pytest.fixture
def state(_shared_app: Flask) -> Iterator[SandboxState]:
    shared: SandboxState = _shared_app.extensions["sandbox_state"]
    shared.reset(keep_tokens=False)
    try:
        yield shared
    finally:
        shared.release_holds()
        _shared_app.extensions["sandbox_longconn"].reset()


@pytest.fixture
def api(state: SandboxState, _shared_app: Flask) -> Api:
    return Api(state, _shared_app)


@pytest.fixture
def lark_client(sandbox: Any) -> Iterator[Any]:
    """The real lark-oapi client pointed at the session sandbox, with its own token cache.

    `ClientBuilder.cache()` replaces the process-global `TokenManager.cache`; put the previous one back so that
    no test leaks a cache (or a token) into another.
    """
    import lark_oapi as lark
    from lark_oapi.core.cache import ICache
    from lark_oapi.core.token.manager import TokenManager

    class FreshCache(ICache):
        def __init__(self) -> None:
            self.items: dict[str, tuple[str, int]] = {}

        def get(self, key: str) -> str:
            value, _ = self.items.get(key, ("", 0))
            return value

        def set(self, key: str, value: str, expire: int) -> None:
            self.items[key] = (value, expire)

    previous = TokenManager.cache
    client = (lark.Client.builder().app_id(data.APP_ID).app_secret(data.APP_SECRET).domain(sandbox.url)
              .timeout(5).cache(FreshCache()).log_level(lark.LogLevel.ERROR).build())
    try:
        yield client
    finally:
        TokenManager.cache = previous
