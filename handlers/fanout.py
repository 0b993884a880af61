"""Independent Open API reads at once: a manager's departments, a team's query chunks, a record's statuses.

A pool of its own, not `ctx.pool`: the callers already run in `ctx.pool`, and a job waiting on jobs queued
behind it in the same pool could wait for ever. Its size stays under the attendance queries' 50 calls a second
(docs/feishu.md) whatever the number of callers: each call takes tens of milliseconds at least.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
WORKERS = 8
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="bot-fanout")


def start(calls: Sequence[Callable[[], T]]) -> list[Future[T]]:
    return [_POOL.submit(call) for call in calls]


def gather(futures: Sequence[Future[T]], deadline: float | None = None) -> tuple[list[T], list[Future[T]]]:
    """The results of the calls done by `deadline` (time.monotonic(); None: all of them), in order, and the
    futures still running. A call that failed raises its error."""
    wait(futures, timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    finished = [f for f in futures if f.done()]
    for future in finished:
        error = future.exception()
        if error is not None:
            raise error
    return [f.result() for f in finished], [f for f in futures if not f.done()]


def run_all(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Every call's result, in order (each call has the gateway's own timeout)."""
    results, _ = gather(start(calls))
    return results
