"""bot/longconn.py overrides private parts of lark_oapi.ws.Client: the SDK is pinned to the version tested here."""

from __future__ import annotations

import inspect
import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pinned_lark_oapi() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = [d for d in dependencies if re.match(r"lark-oapi\b", d)]
    assert len(pins) == 1 and re.fullmatch(r"lark-oapi==\d+\.\d+\.\d+", pins[0]), pins
    return pins[0].split("==")[1]


def test_lark_oapi_is_pinned_exactly_and_installed_at_the_pin():
    assert metadata.version("lark-oapi") == pinned_lark_oapi()


def test_the_private_parts_the_long_connection_relies_on_are_there():
    import lark_oapi.ws.client as sdk_ws

    for name in ("_new_ping_frame", "_get_by_key", "_ws_connect_kwargs", "_parse_ws_conn_exception", "requests",
                 "HEADER_TYPE", "HEADER_MESSAGE_ID", "HEADER_SUM", "HEADER_SEQ", "HEADER_BIZ_RT"):
        assert hasattr(sdk_ws, name), name
    client = sdk_ws.Client
    for name in ("_get_conn_url", "_handle_message", "_handle_control_frame", "_handle_data_frame",
                 "_receive_message_loop", "_write_message", "_combine", "_configure"):
        assert callable(getattr(client, name, None)), name
    # discovery still goes through the module's `requests` (which bot/longconn.py gives a timeout)
    assert "requests.post(" in inspect.getsource(client._get_conn_url)


def test_discovery_gets_a_timeout_through_the_sdk():
    import lark_oapi.ws.client as sdk_ws

    import bot.longconn  # noqa: F401 - installs the stand-in

    assert type(sdk_ws.requests).__name__ == "_DiscoveryRequests"
