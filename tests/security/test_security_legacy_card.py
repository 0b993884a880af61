"""Legacy message-card callbacks: sha1 keyed by the verification token, same window, challenge-only unsigned."""

from __future__ import annotations

import hashlib
import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

from bot.security import Rejected, legacy_signature, open_legacy_card
from tests.properties import examples

from .conftest import NOW, SKEW, TOKEN, Feishu

SIGNED = ("X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature")


def reject(body: bytes, headers) -> Rejected:  # noqa: ANN001
    with pytest.raises(Rejected) as caught:
        open_legacy_card(body, headers, Feishu.keys, NOW)
    return caught.value


def test_legacy_signature_matches_a_hand_computed_vector() -> None:
    body = b'{"open_id":"ou_1"}'
    # printf '%s' '1700000000nonce-1my-token{"open_id":"ou_1"}' | sha1sum
    assert legacy_signature("1700000000", "nonce-1", "my-token", body) == "2072b60af3aa58c779120b49f6e9a79c01f787b1"
    assert legacy_signature("1700000000", "nonce-1", "my-token", body) == hashlib.sha1(
        b"1700000000nonce-1my-token" + body
    ).hexdigest()


def test_signed_action_is_accepted_with_a_replay_key(feishu: Feishu) -> None:
    payload = feishu.card_payload()
    body = json.dumps(payload).encode()
    card = open_legacy_card(body, feishu.sign_legacy(body, NOW - 10, "abc"), feishu.keys, NOW)
    assert (card.kind, card.challenge, card.payload) == ("action", None, payload)
    assert card.replay_key == f"legacy:abc:{NOW - 10}"


def test_the_card_update_token_is_not_the_verification_token(feishu: Feishu) -> None:
    """The action body's `token` is the card's 30-minute update token: never compared to (or confused with) ours."""
    body = json.dumps(feishu.card_payload(update_token="c-anything")).encode()
    assert open_legacy_card(body, feishu.sign_legacy(body), feishu.keys, NOW).kind == "action"


def test_signature_keyed_by_the_encrypt_key_or_another_token_is_refused(feishu: Feishu) -> None:
    body = json.dumps(feishu.card_payload()).encode()
    assert reject(body, feishu.sign_legacy(body, token="other")).reason == "bad_signature"
    assert reject(body, feishu.sign(body)).reason == "bad_signature"  # the event (sha256) scheme


def test_unsigned_challenge_is_answered_after_the_token_check(feishu: Feishu) -> None:
    body = json.dumps(feishu.challenge_payload('a"b\\c')).encode()
    card = open_legacy_card(body, {}, feishu.keys, NOW)
    assert (card.kind, card.challenge) == ("challenge", 'a"b\\c')
    bad = json.dumps(feishu.challenge_payload(token="wrong")).encode()
    assert (reject(bad, {}).status, reject(bad, {}).reason) == (401, "bad_token")


def test_signed_challenge_checks_the_token(feishu: Feishu) -> None:
    body = json.dumps(feishu.challenge_payload("c1")).encode()
    assert open_legacy_card(body, feishu.sign_legacy(body), feishu.keys, NOW).challenge == "c1"
    bad = json.dumps(feishu.challenge_payload(token="")).encode()
    assert reject(bad, feishu.sign_legacy(bad)).reason == "bad_token"


def test_encrypted_legacy_challenge_is_understood(feishu: Feishu) -> None:
    body = feishu.sealed(feishu.challenge_payload("enc"))
    assert open_legacy_card(body, {}, feishu.keys, NOW).challenge == "enc"


@pytest.mark.parametrize(
    "body",
    [json.dumps(Feishu.card_payload()).encode(), b"", b"\xff", b"[1]", b'{"encrypt":"!!"}',
     json.dumps({"challenge": "x", "token": TOKEN, "type": "nope"}).encode()],
    ids=["action", "empty", "binary", "array", "bad-encrypt", "not-a-challenge"],
)
def test_unsigned_non_challenge_is_refused(feishu: Feishu, body: bytes) -> None:
    assert (reject(body, {}).status, reject(body, {}).reason) == (401, "missing_signature")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"\xff\xfe", 400), (b"[1]", 400), (b'{"a":1} x', 400), (b"[" * 100_000, 400), (b'{"open_id":"ou"}', 400),
     (b'{"action":"approve"}', 400), (b'{"encrypt":"!!"}', 400)],
)
def test_signed_malformed_bodies_are_400(feishu: Feishu, body: bytes, status: int) -> None:
    assert reject(body, feishu.sign_legacy(body)).status == status


def test_duplicated_header_is_refused(feishu: Feishu) -> None:
    body = json.dumps(feishu.card_payload()).encode()
    headers = Headers(feishu.sign_legacy(body))
    headers.add("X-Lark-Request-Nonce", headers["X-Lark-Request-Nonce"])
    assert reject(body, headers).status == 401


@settings(max_examples=examples(300), deadline=None)
@given(data=st.data(), text=st.text(max_size=100), offset=st.integers(-SKEW, SKEW),
       nonce=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=16))
def test_tampered_legacy_callbacks_are_never_accepted(data: st.DataObject, text: str, offset: int, nonce: str) -> None:
    payload = Feishu.card_payload()
    payload["action"]["value"]["note"] = text
    body = json.dumps(payload, ensure_ascii=False).encode()
    values = Feishu.sign_legacy(body, NOW + offset, nonce)
    mutation = data.draw(st.sampled_from(["body", "timestamp", "nonce", "signature", "drop"]))
    if mutation == "body":
        at = data.draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1:]
    elif mutation == "drop":
        del values[data.draw(st.sampled_from(SIGNED))]
    else:
        name = SIGNED[["timestamp", "nonce", "signature"].index(mutation)]
        at = data.draw(st.integers(0, len(values[name]) - 1))
        new = data.draw(st.characters(codec="ascii", exclude_characters="\r\n").filter(lambda c: c != values[name][at]))
        values[name] = values[name][:at] + new + values[name][at + 1:]
    with pytest.raises(Rejected) as caught:
        open_legacy_card(body, Headers(values), Feishu.keys, NOW)
    assert caught.value.status == 401
