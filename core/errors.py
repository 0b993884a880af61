"""The error a failed Feishu Open API call becomes, whichever API it was (docs/feishu.md lists the codes)."""

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
        """A write that failed this way may still have been applied."""
        return self.kind in {"timeout", "network", "server"}
