"""Loading lark-oapi: without setuptools' pkg_resources, with the collector paused (docs/serving.md, "Memory and
start-up").

The SDK vendors protobuf under `lark_oapi.ws.pb.google`, whose `__init__` declares a namespace package through
`pkg_resources` when it can be imported and through `pkgutil.extend_path` otherwise (the same package path:
one directory). Importing pkg_resources scans every installed distribution: about 0.15 s and 5 MiB in each
process, for nothing the bot or the SDK uses. The SDK's own fallback is taken instead.

The SDK builds ~21k classes as it loads: the cyclic collector's passes over that growing heap cost 1.5-2 s of CPU
(of 5-6 s), in every process that imports it (the master, `approval-bot connect`, each test worker). Nothing it
builds is garbage, so the collector sleeps meanwhile and the result is frozen: no later pass walks it, and under
preload_app no worker writes to (and copies) the pages it shares with the master. This module imports nothing of
the SDK.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

BLOCKED = "pkg_resources"


@contextmanager
def without_pkg_resources() -> Iterator[None]:
    """While the SDK loads, `import pkg_resources` raises ImportError (None in sys.modules: the import system's
    own "not importable" mark); afterwards it imports as usual. A process that loaded it already keeps it."""
    if BLOCKED in sys.modules:
        yield
        return
    sys.modules[BLOCKED] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get(BLOCKED, BLOCKED) is None:
            del sys.modules[BLOCKED]


@contextmanager
def loading_sdk() -> Iterator[None]:
    """The one way the shell imports lark-oapi (bot/feishu.py, bot/longconn.py): pkg_resources refused, the
    collector paused, then what was built frozen. A collector paused by the caller stays paused."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        with without_pkg_resources():
            yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
