"""Pre-built HTTP requests: signed, encrypted Feishu events with distinct event ids, made right before a run so
that every timestamp is inside the bot's window (BOT_MAX_CLOCK_SKEW_S, 300 s)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import cards
from sandbox.sender import EventSender

ENCRYPT_KEY = "bench-encrypt-key"
VERIFICATION_TOKEN = "bench-verification-token"  # noqa: S105 - a benchmark's throwaway token
PATH = "/webhook/event"


def sender(url: str = "http://127.0.0.1") -> EventSender:
    return EventSender(url, encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)


def raw_request(port: int, headers: Mapping[str, str], body: bytes, path: str = PATH) -> bytes:
    """One HTTP/1.1 keep-alive request, byte for byte as it goes on the wire."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def group_messages(port: int, n: int) -> list[bytes]:
    """`n` group messages that do not mention the bot (acknowledged without calling Feishu), distinct ids."""
    out = sender()
    built = []
    for i in range(n):
        headers, body = out.build_message("employee", f"lunch at noon? #{i}", chat="group",
                                          event_id=secrets.token_hex(16))
        built.append(raw_request(port, headers, body))
    return built


def approve_clicks(port: int, codes: Iterable[str], user: str = "manager") -> list[bytes]:
    """`card.action.trigger` approvals, one per pending remedy request, as the bot's approval card sends them."""
    out = sender()
    built = []
    for code in codes:
        value = {"action": "approve", "approval_id": code, "approval_type": "remedy", "v": cards.CARD_VERSION}
        headers, body = out.build_click(user, value, message_id="om_" + secrets.token_hex(16),
                                        chat_id="oc_p2p_manager", event_id=secrets.token_hex(16))
        built.append(raw_request(port, headers, body))
    return built


def write_for_wrk(requests: list[bytes], path: Path) -> Path:
    """The file the wrk script reads: "<length>\\n<request bytes>" one after the other."""
    with path.open("wb") as out:
        for request in requests:
            out.write(f"{len(request)}\n".encode("ascii"))
            out.write(request)
    return path


def age_s(started: float) -> float:
    return time.time() - started
