"""Webhook request verification and decryption: the only gate between the network and the handlers.

Order of checks (docs/security.md T1, T2, T4), each step before any later work:
1. signature over the **raw** body, constant time (`hmac.compare_digest`), before any base64, AES or JSON;
2. timestamp parsed strictly (ASCII digits only) and inside ``max_skew_s`` in both directions;
3. outer JSON parsed strictly, then one decryption whose every failure gets one identical answer (no padding oracle);
4. verification token (constant time) and app_id.

Feishu's signature is ``sha256(timestamp + nonce + encrypt_key + body)``: a plain hash, not an HMAC, so it is open
to length extension; strict JSON parsing (no trailing data, strict UTF-8) is what stops an extended body.

Pure module: no Flask, no lark_oapi. Failures raise `Rejected(status, reason)`; `reason` is a short fixed word for
logs and metrics, never exception text, and never reaches the HTTP body.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from Crypto.Cipher import AES

TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"
_SIGNED_HEADERS = (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

MAX_JSON_DEPTH = 64  # Feishu payloads nest < 10 deep; deeper input only costs us recursion downstream
_TIMESTAMP = re.compile(r"[0-9]{1,11}")  # not \d: in Python that matches full-width and Arabic-Indic digits
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \uD800-\uDFFF, any case: the only way JSON carries one
_BLOCK = AES.block_size


class Rejected(Exception):
    """A request we refuse: `status` is 400 or 401, `reason` a short machine word (for logs and metrics)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    kind: str  # "challenge" | "event"
    challenge: str | None
    schema: str  # "2.0" | "1.0" | "" (challenge)
    event_id: str  # header.event_id (2.0) or uuid (1.0); "" for a challenge
    event_type: str  # header.event_type (2.0) or event.type (1.0); "url_verification" for a challenge
    payload: dict[str, Any]  # the whole decrypted JSON object
    plaintext: bytes  # the decrypted JSON bytes, for the SDK's typed models


@dataclass(frozen=True)
class LegacyCard:
    kind: str  # "challenge" | "action"
    challenge: str | None
    payload: dict[str, Any]
    replay_key: str  # f"legacy:{nonce}:{timestamp}": legacy callbacks carry no event id


@dataclass(frozen=True)
class WebhookKeys:
    """The secrets a request is checked against. Construction fails closed on a missing secret."""

    encrypt_key: str
    verification_token: str
    app_id: str
    max_skew_s: int
    insecure: bool = False  # explicit demo mode: plaintext bodies, token check only

    def __post_init__(self) -> None:
        if not self.encrypt_key and not self.insecure:
            raise ValueError("FEISHU_ENCRYPT_KEY is empty: set it, or run in the explicit insecure demo mode")
        # Even in demo mode: with no token and no key every forged body would pass (SDK probe #10).
        if not self.verification_token:
            raise ValueError("FEISHU_VERIFICATION_TOKEN is empty")
        if not self.app_id:
            raise ValueError("FEISHU_APP_ID is empty")
        if isinstance(self.max_skew_s, bool) or not isinstance(self.max_skew_s, int) or self.max_skew_s <= 0:
            raise ValueError("BOT_MAX_CLOCK_SKEW_S must be a positive number of seconds (0 would disable the check)")

    def __repr__(self) -> str:
        return (f"WebhookKeys(encrypt_key='***', verification_token='***', app_id={self.app_id!r}, "
                f"max_skew_s={self.max_skew_s}, insecure={self.insecure})")


# -- signing and encryption (also used by the sandbox and tests to play Feishu) ---------------------------------


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def event_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Feishu's event signature: hex sha256(timestamp + nonce + encrypt_key + raw body)."""
    return hashlib.sha256(_utf8(timestamp + nonce + encrypt_key) + body).hexdigest()


def legacy_signature(timestamp: str, nonce: str, verification_token: str, body: bytes) -> str:
    """The legacy message-card signature: hex sha1(timestamp + nonce + verification_token + raw body)."""
    return hashlib.sha1(_utf8(timestamp + nonce + verification_token) + body).hexdigest()  # noqa: S324 (Feishu's scheme)


@functools.lru_cache(maxsize=4)  # one key per app: derived once, not per request
def _aes_key(encrypt_key: str) -> bytes:
    return hashlib.sha256(_utf8(encrypt_key)).digest()


_ciphers = threading.local()  # per thread: the AES-ECB object of each key, its key schedule computed once


def _aes_ecb(encrypt_key: str) -> Any:
    by_key = getattr(_ciphers, "by_key", None)
    if by_key is None:
        by_key = _ciphers.by_key = {}
    cipher = by_key.get(encrypt_key)
    if cipher is None:
        if len(by_key) >= 4:  # one key per app; tests try many
            by_key.clear()
        cipher = by_key[encrypt_key] = AES.new(_aes_key(encrypt_key), AES.MODE_ECB)
    return cipher


def _cbc_decrypt(encrypt_key: str, iv: bytes, ciphertext: bytes) -> bytes:
    """AES-256-CBC decryption (P_i = D(C_i) xor C_i-1, C_0 = iv) as one ECB pass and one XOR: the same bytes as
    AES.new(key, MODE_CBC, iv).decrypt, without setting a cipher up per request (a fifth of an acknowledgement's
    decryption, and four GIL-releasing calls into the library)."""
    blocks = _aes_ecb(encrypt_key).decrypt(ciphertext)
    chain = iv + ciphertext[:-_BLOCK]
    return (int.from_bytes(blocks, "big") ^ int.from_bytes(chain, "big")).to_bytes(len(ciphertext), "big")


def encrypt(encrypt_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """base64(iv ‖ AES-256-CBC(sha256(key), PKCS#7)), as Feishu sends it. A random IV unless one is given."""
    iv = os.urandom(_BLOCK) if iv is None else iv
    if len(iv) != _BLOCK:
        raise ValueError("iv must be 16 bytes")
    pad = _BLOCK - len(plaintext) % _BLOCK
    cipher = AES.new(_aes_key(encrypt_key), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(plaintext + bytes([pad]) * pad)).decode("ascii")


def _undecryptable() -> Rejected:
    # One answer for every failure below: distinct answers would make a padding oracle (SDK probe #5).
    return Rejected(400, "undecryptable")


def decrypt(encrypt_key: str, data: str) -> bytes:
    """Decrypt Feishu's `encrypt` field to UTF-8 bytes; every failure raises the same Rejected(400)."""
    if not isinstance(data, str):
        raise _undecryptable()
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _undecryptable() from None
    if len(raw) < 2 * _BLOCK or len(raw) % _BLOCK:
        raise _undecryptable()
    padded = _cbc_decrypt(encrypt_key, raw[:_BLOCK], raw[_BLOCK:])
    pad = padded[-1]
    if not 1 <= pad <= _BLOCK or not hmac.compare_digest(padded[-pad:], bytes([pad]) * pad):
        raise _undecryptable()
    plaintext = padded[:-pad]
    try:
        plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise _undecryptable() from None
    return plaintext


# -- strict JSON ------------------------------------------------------------------------------------------------


def _no_constant(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf
        raise ValueError("float out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _check_shape(value: Any) -> None:
    """Bound the depth and refuse lone surrogates (they break every later encode); iterative, no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError("too deep")
        if isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    raise ValueError("lone surrogate")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            raise ValueError("lone surrogate")


def _shape_unsure(raw: bytes) -> bool:
    """Whether `_check_shape` could refuse what `raw` parses to; False only when it cannot: fewer brackets than
    MAX_JSON_DEPTH nest no deeper, and strict UTF-8 carries no surrogate, so only an escape can make one."""
    return raw.count(b"{") + raw.count(b"[") >= MAX_JSON_DEPTH or _SURROGATE_ESCAPE.search(raw) is not None


def loads_strict(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object strictly: UTF-8, no trailing data, no NaN/Infinity, no duplicate keys, bounded depth."""
    try:
        text = raw.decode("utf-8")  # a BOM survives as U+FEFF, which json refuses
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite_float
        )
        if not isinstance(value, dict):
            raise ValueError("not an object")
        if _shape_unsure(raw):
            _check_shape(value)
    except (ValueError, RecursionError, TypeError, AttributeError):
        raise Rejected(400, "malformed") from None
    return value


# -- headers ----------------------------------------------------------------------------------------------------


def _header_values(headers: Any, name: str) -> list[str]:
    """Every value of one header, case-insensitively, from werkzeug Headers or a plain mapping."""
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    if not isinstance(headers, Mapping):
        return []
    values: list[str] = []
    for key, value in headers.items():
        if not (isinstance(key, str) and key.lower() == name.lower()):
            continue
        if isinstance(value, list | tuple):
            values.extend(str(v) for v in value)
        else:
            values.append(str(value))
    return values


def _signed_headers(headers: Any) -> tuple[str, str, str] | None:
    """(timestamp, nonce, signature); None when unsigned (no signature header); 401 when partial or duplicated.

    Unsigned means only "no X-Lark-Signature": whether Feishu adds a bare timestamp and nonce to the unsigned
    url_verification is not documented, and the unsigned path accepts nothing but a challenge with our token.
    """
    found = [_header_values(headers, name) for name in _SIGNED_HEADERS]
    if any(len(values) > 1 for values in found):
        raise Rejected(401, "bad_signature")
    if not found[2]:
        return None
    if not found[0] or not found[1]:
        raise Rejected(401, "bad_signature")
    timestamp, nonce, signature = (values[0] for values in found)
    return timestamp, nonce, signature


def _check_signature(expected_hex: str, given: str) -> None:
    # ASCII bytes on both sides: compare_digest refuses non-ASCII str, and "?" never matches a hex digit.
    if not hmac.compare_digest(expected_hex.encode("ascii"), given.encode("ascii", "replace")):
        raise Rejected(401, "bad_signature")


def _check_timestamp(timestamp: str, now: float, max_skew_s: int) -> None:
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Rejected(401, "bad_timestamp")
    if abs(now - int(timestamp)) > max_skew_s:
        raise Rejected(401, "stale_timestamp")


def _check_secret(expected: str, given: Any, reason: str) -> None:
    if not isinstance(given, str) or not hmac.compare_digest(_utf8(expected), _utf8(given)):
        raise Rejected(401, reason)


# -- events (POST /webhook/event) -------------------------------------------------------------------------------


def open_event(body: bytes, headers: Any, keys: WebhookKeys, now: float) -> Envelope:
    """Verify and decrypt one event or callback push; raise Rejected (400/401) on anything we will not act on."""
    if not keys.encrypt_key:  # insecure demo mode
        payload = loads_strict(body)
        if "encrypt" in payload:
            raise _undecryptable()  # no key to open it with
        return _envelope(payload, body, keys)
    signed = _signed_headers(headers)
    if signed is None:
        return _unsigned_challenge(body, keys)
    timestamp, nonce, signature = signed
    _check_signature(event_signature(timestamp, nonce, keys.encrypt_key, body), signature)
    _check_timestamp(timestamp, now, keys.max_skew_s)
    plaintext, payload = _open_encrypted(loads_strict(body), keys.encrypt_key)
    return _envelope(payload, plaintext, keys)


def _open_encrypted(outer: dict[str, Any], encrypt_key: str) -> tuple[bytes, dict[str, Any]]:
    if "encrypt" not in outer:
        raise Rejected(400, "not_encrypted")  # a key is configured: Feishu never sends plaintext then
    plaintext = decrypt(encrypt_key, outer["encrypt"])
    try:
        return plaintext, loads_strict(plaintext)
    except Rejected:
        raise _undecryptable() from None


def _unsigned_challenge(body: bytes, keys: WebhookKeys) -> Envelope:
    """Feishu does not sign url_verification; anything else unsigned is refused.

    Every failure here is the same 401: the body is unauthenticated, so distinct answers for decryption
    failures would hand out the padding oracle the signature check otherwise closes.
    """
    try:
        plaintext, payload = _open_encrypted(loads_strict(body), keys.encrypt_key)
    except Rejected:
        raise Rejected(401, "missing_signature") from None
    if payload.get("type") != "url_verification":
        raise Rejected(401, "missing_signature")
    return _envelope(payload, plaintext, keys)


def _envelope(payload: dict[str, Any], plaintext: bytes, keys: WebhookKeys) -> Envelope:
    if payload.get("type") == "url_verification":
        return _challenge(payload, plaintext, keys)
    if "schema" in payload:
        return _event_v2(payload, plaintext, keys)
    if "uuid" in payload:
        return _event_v1(payload, plaintext, keys)
    raise Rejected(400, "missing_fields")


def _challenge(payload: dict[str, Any], plaintext: bytes, keys: WebhookKeys) -> Envelope:
    _check_secret(keys.verification_token, payload.get("token"), "bad_token")
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        raise Rejected(400, "missing_fields")
    return Envelope("challenge", challenge, "", "", "url_verification", payload, plaintext)


def _event_v2(payload: dict[str, Any], plaintext: bytes, keys: WebhookKeys) -> Envelope:
    header = payload.get("header")
    if payload.get("schema") != "2.0" or not isinstance(header, dict):
        raise Rejected(400, "missing_fields")
    _check_secret(keys.verification_token, header.get("token"), "bad_token")
    _check_secret(keys.app_id, header.get("app_id"), "bad_app_id")
    event_id, event_type = header.get("event_id"), header.get("event_type")
    if not _nonempty(event_id) or not _nonempty(event_type) or not isinstance(payload.get("event"), dict):
        raise Rejected(400, "missing_fields")
    return Envelope("event", None, "2.0", event_id, event_type, payload, plaintext)


def _event_v1(payload: dict[str, Any], plaintext: bytes, keys: WebhookKeys) -> Envelope:
    _check_secret(keys.verification_token, payload.get("token"), "bad_token")
    event = payload.get("event")
    if not isinstance(event, dict):
        raise Rejected(400, "missing_fields")
    # Feishu's pages for both v1 events the bot takes (approval_instance, approval_task) list event.app_id:
    # one without it is not known to be for this app, like a v2 header without app_id.
    _check_secret(keys.app_id, event.get("app_id"), "bad_app_id")
    event_id, event_type = payload.get("uuid"), event.get("type")
    if not _nonempty(event_id) or not _nonempty(event_type):
        raise Rejected(400, "missing_fields")
    return Envelope("event", None, "1.0", event_id, event_type, payload, plaintext)


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and value != ""


# -- legacy message-card callbacks (POST /webhook/card) ---------------------------------------------------------


def open_legacy_card(body: bytes, headers: Any, keys: WebhookKeys, now: float) -> LegacyCard:
    """Verify a legacy card callback: sha1 signature keyed by the verification token, same timestamp window.

    The body is plain JSON (or `{"encrypt": …}` when Feishu encrypts it). Only the challenge may come unsigned.
    The action body's `token` is the card's update token, not the verification token: it is not compared.
    """
    signed = _signed_headers(headers)
    if signed is None:
        return _unsigned_legacy_challenge(body, keys)
    timestamp, nonce, signature = signed
    _check_signature(legacy_signature(timestamp, nonce, keys.verification_token, body), signature)
    _check_timestamp(timestamp, now, keys.max_skew_s)
    payload = _legacy_payload(body, keys)
    if payload.get("type") == "url_verification":
        return _legacy_challenge(payload, keys)
    if not isinstance(payload.get("action"), dict):
        raise Rejected(400, "missing_fields")
    return LegacyCard("action", None, payload, f"legacy:{nonce}:{timestamp}")


def _legacy_payload(body: bytes, keys: WebhookKeys) -> dict[str, Any]:
    payload = loads_strict(body)
    if "encrypt" in payload:
        if not keys.encrypt_key:
            raise _undecryptable()
        _, payload = _open_encrypted(payload, keys.encrypt_key)
    return payload


def _unsigned_legacy_challenge(body: bytes, keys: WebhookKeys) -> LegacyCard:
    try:
        payload = _legacy_payload(body, keys)
    except Rejected:
        raise Rejected(401, "missing_signature") from None
    if payload.get("type") != "url_verification":
        raise Rejected(401, "missing_signature")
    return _legacy_challenge(payload, keys)


def _legacy_challenge(payload: dict[str, Any], keys: WebhookKeys) -> LegacyCard:
    _check_secret(keys.verification_token, payload.get("token"), "bad_token")
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        raise Rejected(400, "missing_fields")
    return LegacyCard("challenge", challenge, payload, "")
