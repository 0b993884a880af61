"""Loading lark-oapi without setuptools' pkg_resources (docs/serving.md, "Memory and start-up").

The SDK vendors protobuf under `lark_oapi.ws.pb.google`, whose `__init__` declares a namespace package through
`pkg_resources` when it can be imported and through `pkgutil.extend_path` otherwise (the same package path:
one directory). Importing pkg_resources scans every installed distribution: about 0.15 s and 5 MiB in each
process, for nothing the bot or the SDK uses. The SDK's own fallback is taken instead; this module imports
nothing of the SDK.
"""

from __future__ import annotations

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
