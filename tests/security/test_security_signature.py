"""T1 forged requests: signature over the raw body, constant time, before any other work; token and app_id."""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

import bot.security as security
from bot.security import Rejected, WebhookKeys, event_signature, open_event
from tests.properties import examples

from .conftest import APP_ID, KEY, NOW, SKEW, TOKEN, Feishu

SIGNED = ("X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature")
NONCES = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=32)


def reject(body: bytes, headers, keys: WebhookKeys = Feishu.keys, now: float = NOW) -> Rejected:
    with pytest.raises(Rejected) as caught:
        open_event(body, headers, keys, now)
    return caught.value


# -- hand-computed vectors --------------------------------------------------------------------------------------


def test_event_signature_matches_a_hand_computed_vector() -> None:
    body = b'{"encrypt":"abc"}'
    assert event_signature("1700000000", "nonce-1", "my-key", body) == hashlib.sha256(
        b"1700000000" + b"nonce-1" + b"my-key" + body
    ).hexdigest()
    # printf '%s' '1700000000nonce-1my-key{"encrypt":"abc"}' | sha256sum
    assert event_signature("1700000000", "nonce-1", "my-key", body) == (
        "165a6c068a1f223f264db7ad3b0b974006ffa95d743ed73f646907198ebc8de1"
    )


# -- control: genuine pushes are accepted -----------------------------------------------------------------------


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_id=st.text(min_size=1, max_size=40), text=st.text(max_size=300),
       offset=st.integers(-SKEW, SKEW), nonce=NONCES)
def test_genuine_push_is_accepted(feishu: Feishu, event_id: str, text: str, offset: int, nonce: str) -> None:
    payload = feishu.event_payload(event_id)
    payload["event"]["message"]["text"] = text
    push = feishu.push(payload, NOW + offset, nonce)
    envelope = open_event(push.body, Headers(push.headers), feishu.keys, NOW)
    assert (envelope.kind, envelope.schema, envelope.event_id) == ("event", "2.0", event_id)
    assert envelope.payload == payload
    assert json.loads(envelope.plaintext) == payload


def test_header_names_are_case_insensitive(feishu: Feishu) -> None:
    push = feishu.push(feishu.event_payload())
    lowered = {name.lower(): value for name, value in push.headers.items()}
    assert open_event(push.body, lowered, feishu.keys, NOW).event_id == "ev-1"
    assert open_event(push.body, Headers(lowered), feishu.keys, NOW).event_id == "ev-1"


# -- the main tamper property -----------------------------------------------------------------------------------

MUTATIONS = ("body", "timestamp", "nonce", "signature", "signature_case", "drop", "duplicate", "duplicate_same")


@st.composite
def tampered_pushes(draw: st.DrawFn) -> tuple[str, bytes, Headers]:
    payload = Feishu.event_payload(draw(st.text(min_size=1, max_size=40)))
    payload["event"]["message"]["text"] = draw(st.text(max_size=200))
    ts, nonce = NOW + draw(st.integers(-SKEW, SKEW)), draw(NONCES)
    body = Feishu.sealed(payload)
    values = Feishu.sign(body, ts, nonce)
    mutation = draw(st.sampled_from(MUTATIONS))
    if mutation == "body":
        at, flip = draw(st.integers(0, len(body) - 1)), draw(st.integers(1, 255))
        body = body[:at] + bytes([body[at] ^ flip]) + body[at + 1:]
    elif mutation in ("timestamp", "nonce", "signature"):
        name = {"timestamp": SIGNED[0], "nonce": SIGNED[1], "signature": SIGNED[2]}[mutation]
        old = values[name]
        at = draw(st.integers(0, len(old) - 1))
        new = draw(st.characters(codec="latin-1", exclude_characters="\r\n").filter(lambda c, o=old[at]: c != o))
        values[name] = old[:at] + new + old[at + 1:]
    elif mutation == "signature_case":
        values[SIGNED[2]] = values[SIGNED[2]].upper()
    headers = Headers(values)
    if mutation == "drop":
        del headers[draw(st.sampled_from(SIGNED))]
    elif mutation in ("duplicate", "duplicate_same"):
        name = draw(st.sampled_from(SIGNED))
        other = draw(st.text(st.characters(exclude_characters="\r\n"), max_size=70))
        headers.add(name, values[name] if mutation == "duplicate_same" else other)
    return mutation, body, headers


def test_tampered_pushes_are_never_accepted() -> None:
    """docs/security.md T1: flip a byte of body, ts or nonce, a character of the signature, drop or duplicate a
    header."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=examples(2000), deadline=None)
    @given(case=tampered_pushes())
    def run(case: tuple[str, bytes, Headers]) -> None:
        mutation, body, headers = case
        if mutation == "signature_case" and headers[SIGNED[2]] == headers[SIGNED[2]].lower():
            return  # an all-digit signature has no case to change (p ≈ 1e-13)
        try:
            open_event(body, headers, Feishu.keys, NOW)
        except Rejected as rejected:
            outcomes[f"{rejected.status}"] += 1
            # dropping the signature header makes an unsigned push: refused as such
            assert rejected.status == 401, (mutation, rejected)
            assert rejected.reason in ("bad_signature", "missing_signature"), (mutation, rejected)
            return
        except Exception as exc:  # any other exception would be a 500
            outcomes["other"] += 1
            raise AssertionError(f"{mutation}: {type(exc).__name__}") from exc
        outcomes["accepted"] += 1
        raise AssertionError(f"{mutation}: tampered push accepted")

    run()
    assert outcomes["accepted"] == 0 and outcomes["other"] == 0
    assert sum(outcomes.values()) >= examples(2000) * 95 // 100


# -- verify first ---------------------------------------------------------------------------------------------


def test_compare_digest_is_on_the_signature_path(feishu: Feishu, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):  # noqa: ANN001
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    push = feishu.push(feishu.event_payload())
    open_event(push.body, push.headers, feishu.keys, NOW)
    expected = push.headers["X-Lark-Signature"].encode("ascii")
    assert (expected, expected) in calls
    assert (TOKEN.encode(), TOKEN.encode()) in calls  # the token check too
    calls.clear()
    bad = dict(push.headers, **{"X-Lark-Signature": "0" * 64})
    assert reject(push.body, bad).reason == "bad_signature"
    assert calls == [(expected, b"0" * 64)]  # one comparison, before anything else


def test_a_bad_signature_is_refused_before_any_base64_aes_or_json_work(
    feishu: Feishu, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_args, **_kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("parsed or decrypted before the signature was checked")

    push = feishu.push(feishu.event_payload())  # built before the traps are set
    monkeypatch.setattr(security, "loads_strict", forbidden)
    monkeypatch.setattr(security, "decrypt", forbidden)
    monkeypatch.setattr(security.base64, "b64decode", forbidden)
    monkeypatch.setattr(security.json, "loads", forbidden)
    monkeypatch.setattr(security.AES, "new", forbidden)
    for garbage in (push.body, b"\xff\xfe not json", b"[" * 100_000, b'{"encrypt":"!!!"}'):
        headers = dict(push.headers, **{"X-Lark-Signature": "f" * 64})
        assert reject(garbage, headers).status == 401


def test_decrypts_exactly_once(feishu: Feishu, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = security.decrypt
    monkeypatch.setattr(security, "decrypt", lambda key, data: calls.append(1) or real(key, data))
    push = feishu.push(feishu.event_payload())
    open_event(push.body, push.headers, feishu.keys, NOW)
    assert calls == [1]


# -- headers ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [SIGNED[0], SIGNED[1], SIGNED[2], (SIGNED[0], SIGNED[1])])
def test_partial_signature_headers_are_refused(feishu: Feishu, missing) -> None:  # noqa: ANN001
    push = feishu.push(feishu.event_payload())
    gone = {missing} if isinstance(missing, str) else set(missing)
    headers = {k: v for k, v in push.headers.items() if k not in gone}
    assert reject(push.body, headers).status == 401


def test_duplicated_headers_are_refused_in_a_plain_mapping_too(feishu: Feishu) -> None:
    push = feishu.push(feishu.event_payload())
    headers = dict(push.headers)
    headers["x-lark-signature"] = push.headers["X-Lark-Signature"]  # same value, other case: still two headers
    assert reject(push.body, headers).status == 401
    listed = dict(push.headers, **{"X-Lark-Signature": [push.headers["X-Lark-Signature"]] * 2})
    assert reject(push.body, listed).status == 401


@pytest.mark.parametrize("signature", ["", "zz", "0" * 64, "g" * 64, "é" * 64, "\ud800" * 64, "1" * 4096])
def test_non_hex_or_wrong_signatures_are_refused(feishu: Feishu, signature: str) -> None:
    push = feishu.push(feishu.event_payload())
    assert reject(push.body, dict(push.headers, **{"X-Lark-Signature": signature})).status == 401


def test_signature_keyed_by_another_key_is_refused(feishu: Feishu) -> None:
    body = feishu.sealed(feishu.event_payload())
    assert reject(body, feishu.sign(body, key="other-key")).reason == "bad_signature"


# -- token and app_id ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [({"token": "wrong"}, "bad_token"), ({"token": ""}, "bad_token"), ({"token": None}, "bad_token"),
     ({"token": 12}, "bad_token"), ({"token": TOKEN + "x"}, "bad_token"),
     ({"app_id": "cli_other"}, "bad_app_id"), ({"app_id": None}, "bad_app_id"), ({"app_id": ""}, "bad_app_id")],
)
def test_v2_token_and_app_id_are_checked(feishu: Feishu, header: dict, reason: str) -> None:
    payload = feishu.event_payload(**header)
    push = feishu.push(payload)
    rejected = reject(push.body, push.headers)
    assert (rejected.status, rejected.reason) == (401, reason)


def test_v2_without_token_or_app_id_is_refused(feishu: Feishu) -> None:
    for field in ("token", "app_id"):
        payload = feishu.event_payload()
        del payload["header"][field]
        push = feishu.push(payload)
        assert reject(push.body, push.headers).status == 401


def test_v1_event_token_and_app_id(feishu: Feishu) -> None:
    push = feishu.push(feishu.v1_payload(app_id=APP_ID))
    envelope = open_event(push.body, push.headers, feishu.keys, NOW)
    assert (envelope.schema, envelope.event_id, envelope.event_type) == ("1.0", "uuid-1", "approval_instance")
    for app_id in (None, "", 7):
        push = feishu.push(feishu.v1_payload(app_id=app_id))
        assert reject(push.body, push.headers).reason == "bad_app_id"
    without = feishu.v1_payload()
    del without["event"]["app_id"]
    push = feishu.push(without)  # a v1 event without event.app_id is refused like a v2 header without one
    assert reject(push.body, push.headers).reason == "bad_app_id"
    push = feishu.push(feishu.v1_payload(app_id="cli_other"))
    assert reject(push.body, push.headers).reason == "bad_app_id"
    payload = feishu.v1_payload()
    payload["token"] = "wrong"
    push = feishu.push(payload)
    assert reject(push.body, push.headers).reason == "bad_token"


# -- url_verification ---------------------------------------------------------------------------------------------


def test_unsigned_encrypted_challenge_is_answered_after_the_token_check(feishu: Feishu) -> None:
    injected = '","injected":"1'
    body = feishu.sealed(feishu.challenge_payload(injected))
    envelope = open_event(body, {}, feishu.keys, NOW)
    assert (envelope.kind, envelope.challenge, envelope.event_type) == ("challenge", injected, "url_verification")
    assert json.loads(json.dumps({"challenge": envelope.challenge})) == {"challenge": injected}
    bad = feishu.sealed(feishu.challenge_payload(token="wrong"))
    assert reject(bad, {}).reason == "bad_token"


def test_challenge_with_a_bare_timestamp_and_nonce_is_still_unsigned(feishu: Feishu) -> None:
    """Whether Feishu adds timestamp and nonce (but no signature) to the challenge is undocumented: accept both."""
    body = feishu.sealed(feishu.challenge_payload("bare"))
    bare = {"X-Lark-Request-Timestamp": "1", "X-Lark-Request-Nonce": "n"}
    assert open_event(body, bare, feishu.keys, NOW).challenge == "bare"
    event = feishu.sealed(feishu.event_payload())
    assert (reject(event, bare).status, reject(event, bare).reason) == (401, "missing_signature")


def test_signed_challenge_is_accepted_too(feishu: Feishu) -> None:
    push = feishu.push(feishu.challenge_payload("c"))
    assert open_event(push.body, push.headers, feishu.keys, NOW).challenge == "c"


@pytest.mark.parametrize(
    "body",
    [Feishu.sealed(Feishu.event_payload()), Feishu.sealed(Feishu.v1_payload()), b"", b"{}", b"\xff",
     b'{"encrypt":"!!"}', b'{"encrypt":"' + b"A" * 44 + b'"}', json.dumps(Feishu.challenge_payload()).encode(),
     Feishu.sealed({"challenge": "x", "token": TOKEN, "type": "other"})],
    ids=["v2", "v1", "empty", "object", "binary", "bad-b64", "random-ct", "plain-challenge", "not-a-challenge"],
)
def test_unsigned_pushes_other_than_the_challenge_are_refused_alike(feishu: Feishu, body: bytes) -> None:
    """One answer for every unsigned failure, so an unsigned body cannot probe the decryption (padding oracle)."""
    rejected = reject(body, {})
    assert (rejected.status, rejected.reason) == (401, "missing_signature")


def test_forged_plaintext_with_the_known_token_is_refused(feishu: Feishu) -> None:
    """SDK probe #9: no encryption, no signature, just the token → 401; signed plaintext → 400."""
    plain = json.dumps(feishu.event_payload()).encode()
    assert reject(plain, {}).status == 401
    rejected = reject(plain, feishu.sign(plain))
    assert (rejected.status, rejected.reason) == (400, "not_encrypted")


# -- configuration fails closed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"encrypt_key": ""}, {"verification_token": ""}, {"app_id": ""}, {"max_skew_s": 0}, {"max_skew_s": -5},
     {"encrypt_key": "", "verification_token": "", "insecure": True}, {"verification_token": "", "insecure": True}],
)
def test_keys_refuse_to_be_built_without_secrets(kwargs: dict) -> None:
    base = {"encrypt_key": KEY, "verification_token": TOKEN, "app_id": APP_ID, "max_skew_s": SKEW}
    with pytest.raises(ValueError):
        WebhookKeys(**{**base, **kwargs})


def test_keys_repr_hides_the_secrets() -> None:
    text = repr(Feishu.keys)
    assert KEY not in text and TOKEN not in text and APP_ID in text


# -- insecure demo mode ---------------------------------------------------------------------------------------------

DEMO = WebhookKeys(encrypt_key="", verification_token=TOKEN, app_id=APP_ID, max_skew_s=SKEW, insecure=True)


def test_demo_mode_takes_plaintext_with_the_token(feishu: Feishu) -> None:
    payload = feishu.event_payload()
    envelope = open_event(json.dumps(payload).encode(), {}, DEMO, NOW)
    assert envelope.payload == payload
    challenge = open_event(json.dumps(feishu.challenge_payload("z")).encode(), {}, DEMO, NOW)
    assert challenge.challenge == "z"


def test_demo_mode_still_checks_the_token_and_app_id(feishu: Feishu) -> None:
    for header in ({"token": "wrong"}, {"app_id": "cli_other"}):
        body = json.dumps(feishu.event_payload(**header)).encode()
        assert reject(body, {}, DEMO).status == 401
    assert reject(feishu.sealed(feishu.event_payload()), {}, DEMO).status == 400  # no key to open it


def test_a_key_wins_over_the_demo_flag(feishu: Feishu) -> None:
    keys = WebhookKeys(encrypt_key=KEY, verification_token=TOKEN, app_id=APP_ID, max_skew_s=SKEW, insecure=True)
    assert reject(json.dumps(feishu.event_payload()).encode(), {}, keys).status == 401
