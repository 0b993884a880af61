"""T4 malformed bodies (correctly signed): strict JSON, one answer for every decryption failure, length extension."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import time

import pytest
from Crypto.Cipher import AES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.security import MAX_JSON_DEPTH, Rejected, encrypt, event_signature, loads_strict, open_event
from tests.properties import examples

from .conftest import KEY, NOW, TOKEN, Feishu


def answer(feishu: Feishu, body: bytes) -> tuple:
    """What a correctly signed `body` gets: ("accepted",) or the full identity of the refusal."""
    try:
        open_event(body, feishu.sign(body), feishu.keys, NOW)
    except Rejected as rejected:
        return type(rejected).__name__, rejected.status, rejected.reason, str(rejected), rejected.args
    return ("accepted",)


def outer(encrypt_value: object) -> bytes:
    return json.dumps({"encrypt": encrypt_value}).encode()


def raw_ciphertext(plaintext_blocks: bytes, key: str = KEY) -> str:
    """AES-CBC without adding padding: lets a test choose the last byte (the padding) itself."""
    iv = b"\x01" * 16
    cipher = AES.new(hashlib.sha256(key.encode()).digest(), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(plaintext_blocks)).decode()


# -- outer body -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not json", b"[1,2]", b'"encrypt"', b"null", b"", b'{"encrypt":"x"} trailing', b'{"encrypt":"x"}{}',
     b"[" * 100_000, b"{" * 100_000, b'{"encrypt":NaN}', b'{"encrypt":Infinity}', b'{"encrypt":1e400}',
     b'{"encrypt":"a","encrypt":"b"}', b'\xef\xbb\xbf{"encrypt":"x"}', b'{"encrypt":"\\ud800"}',
     b'{"encrypt":"x"', b"{'encrypt':'x'}", b'{"encrypt":"x",}', b'{"encrypt":' + b"9" * 5000 + b"}"],
    ids=lambda b: repr(b[:24]),
)
def test_malformed_outer_json_is_400(feishu: Feishu, body: bytes) -> None:
    assert answer(feishu, body)[1:3] == (400, "malformed")


def test_signed_body_without_encrypt_is_400(feishu: Feishu) -> None:
    assert answer(feishu, b'{"schema":"2.0"}')[1:3] == (400, "not_encrypted")


# -- one answer for every decryption failure (no padding oracle) ------------------------------------------------

DECRYPTION_FAILURES = {
    "not base64": outer("!!!!not-base64!!!!"),
    "base64 bad padding": outer("YWJjZA="),
    "base64 with newline": outer(base64.b64encode(b"x" * 48).decode() + "\n"),
    "base64 non-ascii": outer("é" * 44),
    "encrypt not a string": outer(12345),
    "encrypt null": outer(None),
    "encrypt object": outer({"a": 1}),
    "empty": outer(""),
    "one block only": outer(base64.b64encode(b"\x00" * 16).decode()),
    "not a multiple of 16": outer(base64.b64encode(b"\x00" * 33).decode()),
    "padding byte 0": outer(raw_ciphertext(b"A" * 15 + b"\x00")),
    "padding byte 17": outer(raw_ciphertext(b"A" * 15 + b"\x11")),
    "padding inconsistent": outer(raw_ciphertext(b"A" * 13 + b"\x01\x02\x03")),
    "padding whole garbage": outer(raw_ciphertext(b"A" * 32)),
    "wrong key": outer(encrypt("another-key", json.dumps(Feishu.event_payload()).encode())),
    "plaintext not utf-8": outer(encrypt(KEY, b"\xff\xfe\xfd")),
    "plaintext truncated utf-8": outer(encrypt(KEY, '{"a":"中'.encode()[:-1])),
    "plaintext not json": outer(encrypt(KEY, b"hello")),
    "plaintext empty": outer(encrypt(KEY, b"")),
    "plaintext json array": outer(encrypt(KEY, b"[1,2]")),
    "plaintext trailing data": outer(encrypt(KEY, json.dumps(Feishu.event_payload()).encode() + b" x")),
    "plaintext NaN": outer(encrypt(KEY, b'{"a":NaN}')),
    "plaintext deep": outer(encrypt(KEY, b"[" * 100_000)),
    "plaintext duplicate keys": outer(encrypt(KEY, b'{"schema":"2.0","schema":"2.0"}')),
}


@pytest.mark.parametrize("name", list(DECRYPTION_FAILURES))
def test_each_decryption_failure_is_400(feishu: Feishu, name: str) -> None:
    assert answer(feishu, DECRYPTION_FAILURES[name])[1:3] == (400, "undecryptable")


def test_all_decryption_failures_share_one_answer(feishu: Feishu) -> None:
    distinct = {answer(feishu, body) for body in DECRYPTION_FAILURES.values()}
    assert len(distinct) == 1, distinct


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.integers(0, 20).flatmap(lambda n: st.binary(min_size=n * 16, max_size=n * 16 + 15)))
def test_random_ciphertexts_get_the_one_answer(feishu: Feishu, blob: bytes) -> None:
    """SDK probe #5 answered 2 distinct error texts to 3,000 random blobs; we answer one."""
    assert answer(feishu, outer(base64.b64encode(blob).decode()))[1:3] == (400, "undecryptable")


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80))
def test_random_encrypt_strings_get_the_one_answer(feishu: Feishu, text: str) -> None:
    assert answer(feishu, outer(text))[1:3] == (400, "undecryptable")


# -- missing fields -------------------------------------------------------------------------------------------------


def _without(payload: dict, *path: str) -> dict:
    target = payload
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return payload


MISSING = {
    "no header": _without(Feishu.event_payload(), "header"),
    "header not an object": {**Feishu.event_payload(), "header": "x"},
    "schema 3.0": {**Feishu.event_payload(), "schema": "3.0"},
    "no event_id": _without(Feishu.event_payload(), "header", "event_id"),
    "empty event_id": Feishu.event_payload(event_id=""),
    "event_id not a string": Feishu.event_payload(event_id=7),
    "no event_type": _without(Feishu.event_payload(), "header", "event_type"),
    "no event": _without(Feishu.event_payload(), "event"),
    "neither schema nor uuid": {"token": TOKEN, "event": {}},
    "v1 without event": _without(Feishu.v1_payload(), "event"),
    "v1 without event type": _without(Feishu.v1_payload(), "event", "type"),
    "v1 empty uuid": Feishu.v1_payload(uuid=""),
    "challenge without challenge": _without(Feishu.challenge_payload(), "challenge"),
    "challenge not a string": {**Feishu.challenge_payload(), "challenge": ["x"]},
}


@pytest.mark.parametrize("name", list(MISSING))
def test_missing_fields_are_400(feishu: Feishu, name: str) -> None:
    assert answer(feishu, feishu.sealed(MISSING[name]))[1:3] == (400, "missing_fields")


def test_bad_input_is_answered_fast(feishu: Feishu) -> None:
    """Answers within 1 s even for a 1 MiB worst case, outer and inner."""
    for body in (b"[" * (1 << 20), outer(encrypt(KEY, b"[" * 700_000)), b'{"a":' + b"1" * (1 << 20) + b"}"):
        started = time.perf_counter()
        assert answer(feishu, body)[1] == 400
        assert time.perf_counter() - started < 1.0


# -- loads_strict ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b" ", b"null", b"1", b'"s"', b"[]", b"{} {}", b"{}x", b'{"a":NaN}', b'{"a":-Infinity}', b'{"a":1e999}',
     b'{"a":1,"a":1}', b'{"a":{"b":1,"b":2}}', b"\xef\xbb\xbf{}", b"\xff", b'{"a":"\\udc00"}', b'{"\\ud800":1}',
     b"{" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
     b'{"a":1}\x00', "{}".encode("utf-16")],
    ids=lambda b: repr(b[:20]),
)
def test_loads_strict_refuses(raw: bytes) -> None:
    with pytest.raises(Rejected) as caught:
        loads_strict(raw)
    assert (caught.value.status, caught.value.reason) == (400, "malformed")


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"{}", {}), (b' \n{"a": [1, 2.5, null, true]}\n ', {"a": [1, 2.5, None, True]}),
     ('{"名":"值 \\u00e9 😀"}'.encode(), {"名": "值 é 😀"}), (b'{"a":"\\ud83d\\ude00"}', {"a": "😀"}),
     (b'{"a":' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}", None)],
)
def test_loads_strict_accepts(raw: bytes, value: dict | None) -> None:
    parsed = loads_strict(raw)
    if value is not None:
        assert parsed == value


@settings(max_examples=examples(200), deadline=None)
@given(raw=st.binary(max_size=200))
def test_loads_strict_raises_only_rejected(raw: bytes) -> None:
    try:
        assert isinstance(loads_strict(raw), dict)
    except Rejected as rejected:
        assert rejected.reason == "malformed"


# -- length extension (SDK probe #12) -------------------------------------------------------------------------------
# Feishu signs sha256(ts + nonce + key + body): a plain hash, so anyone holding one signed request can compute the
# signature of body ‖ glue ‖ suffix without the key. A ~40-line SHA-256 with a settable state does it.

_PRIMES = [p for p in range(2, 312) if all(p % d for d in range(2, int(p ** 0.5) + 1))]
_K = [int(math.modf(p ** (1 / 3))[0] * 2**32) for p in _PRIMES[:64]]
_MASK = 0xFFFFFFFF


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _MASK


def _compress(state: list[int], block: bytes) -> list[int]:
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _MASK)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]
        t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        a, b, c, d, e, f, g, h = (t1 + t2) & _MASK, a, b, c, (d + t1) & _MASK, e, f, g
    return [(x + y) & _MASK for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True)]


def glue(length: int) -> bytes:
    """SHA-256's padding for a message of `length` bytes."""
    return b"\x80" + b"\x00" * ((55 - length) % 64) + struct.pack(">Q", length * 8)


def sha256_from(state_hex: str | None, done: int, data: bytes) -> str:
    """Continue SHA-256 from a digest (`state_hex`) after `done` bytes (a multiple of 64), over `data`."""
    state = ([int(math.modf(p ** 0.5)[0] * 2**32) for p in _PRIMES[:8]] if state_hex is None
             else list(struct.unpack(">8I", bytes.fromhex(state_hex))))
    message = data + glue(done + len(data))
    for at in range(0, len(message), 64):
        state = _compress(state, message[at:at + 64])
    return struct.pack(">8I", *state).hex()


def test_the_pure_sha256_is_sha256() -> None:
    for data in (b"", b"abc", b"x" * 55, b"x" * 56, b"y" * 64, bytes(range(256)) * 3):
        assert sha256_from(None, 0, data) == hashlib.sha256(data).hexdigest()


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from([b',"x":1}', b"}", b'{"schema":"2.0"}', b" ", b""]) | st.binary(max_size=40),
       nonce=st.text(alphabet="abcdef0123456789", min_size=1, max_size=16))
def test_length_extended_body_is_refused(feishu: Feishu, suffix: bytes, nonce: str) -> None:
    ts = str(NOW)
    body = feishu.sealed(feishu.event_payload())
    signature = event_signature(ts, nonce, KEY, body)
    prefix_len = len((ts + nonce + KEY).encode())  # an attacker tries every key length; the test knows it
    padding = glue(prefix_len + len(body))
    forged_body = body + padding + suffix
    forged_signature = sha256_from(signature, prefix_len + len(body) + len(padding), suffix)
    # The forgery is genuine: Feishu's signature scheme accepts it ...
    assert event_signature(ts, nonce, KEY, forged_body) == forged_signature
    headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": forged_signature}
    # ... and strict parsing is what stops it: the glue starts with 0x80 (never valid UTF-8 there).
    with pytest.raises(Rejected) as caught:
        open_event(forged_body, headers, feishu.keys, NOW)
    assert (caught.value.status, caught.value.reason) == (400, "malformed")
