"""The two failures the application handles: a failed Feishu Open API call (docs/feishu.md lists the codes), and a
store that cannot be read or written."""

from __future__ import annotations


class FeishuError(Exception):
    """A failed Open API call. `kind`: api, timeout, network, server, rate_limit."""

    def __init__(
        self, code: int, msg: str, *, log_id: str = "", kind: str = "api", http_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"feishu {kind} error {code}")
        self.code = code
        self.msg = msg
        self.log_id = log_id
        self.kind = kind
        self.http_status = http_status
        self.retry_after_s = retry_after_s

    @property
    def outcome_unknown(self) -> bool:
        """A write that failed this way may still have been applied: no answer came (timeout, broken connection,
        a 5xx from something in front of Feishu with no Feishu code). A Feishu error code is an answer."""
        return self.kind in {"timeout", "network"} or (self.kind == "server" and self.code == -1)


class MissingAccess(FeishuError):
    """Contact answered, but without what the bot needs: `needs` names it, a field scope not granted (Feishu then
    leaves the field out silently) or the app's contact data range (41050 / 40004). Never an empty team."""

    def __init__(self, needs: str, *, code: int = -1, msg: str = "", log_id: str = "") -> None:
        super().__init__(code, msg or f"missing {needs}", log_id=log_id, kind="api")
        self.needs = needs


class StoreUnavailable(Exception):
    """The store cannot be read or written: a missing or replaced database file, a full disk, a read-only file
    or directory, a lock held past its timeout, an unreachable server. Every storage failure of a `Store` method
    is this one type (the driver's error is chained as the cause), so callers answer one fixed way.

    `problem` is short and names no path (it is shown by /healthz); `path` is the file concerned, if known."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.problem = problem
        self.path = path
