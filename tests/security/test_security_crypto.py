"""Encryption as Feishu does it: round trips, a frozen vector, and a differential check against lark-oapi."""

from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.security import Rejected, decrypt, encrypt
from tests.properties import examples

from .conftest import KEY


@settings(max_examples=examples(300), deadline=None)
@given(text=st.text(max_size=2000), key=st.text(min_size=1, max_size=64))
def test_encrypt_then_decrypt_round_trips_any_unicode(text: str, key: str) -> None:
    assert decrypt(key, encrypt(key, text.encode())) == text.encode()


def test_fixed_iv_vector_is_independent_of_our_code() -> None:
    """Built by hand from the spec: base64(iv ‖ AES-256-CBC(sha256(key), PKCS#7(plaintext)))."""
    iv = bytes(range(16))
    plaintext = b'{"challenge":"x"}'  # 17 bytes -> 15 bytes of padding
    by_hand = AES.new(hashlib.sha256(b"my-key").digest(), AES.MODE_CBC, iv).encrypt(plaintext + b"\x0f" * 15)
    expected = base64.b64encode(iv + by_hand).decode()
    assert encrypt("my-key", plaintext, iv) == expected
    assert decrypt("my-key", expected) == plaintext


def test_threads_decrypting_with_several_keys_at_once_each_get_their_plaintext() -> None:
    """decrypt keeps one cipher per thread and key (bot/security.py): none is shared or mixed up."""
    keys = [f"key-{i}" for i in range(6)]  # more than a thread keeps
    sealed = [(key, text, encrypt(key, text)) for key in keys for text in (b'{"a":1}', b"x" * 100)]

    def check(_: int) -> bool:
        return all(decrypt(key, data) == text for key, text, data in sealed * 20)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(check, range(8)))


def test_each_encryption_uses_a_fresh_iv() -> None:
    assert len({encrypt(KEY, b"same")[:22] for _ in range(20)}) == 20


def test_iv_must_be_one_block() -> None:
    with pytest.raises(ValueError):
        encrypt(KEY, b"x", iv=b"short")


def test_full_block_plaintext_gets_a_full_padding_block() -> None:
    raw = base64.b64decode(encrypt(KEY, b"0123456789abcdef"))
    assert len(raw) == 16 + 32


def test_decrypt_refuses_non_canonical_inputs_alike() -> None:
    good = encrypt(KEY, b'{"a":1}')
    for data in (good + "=", good[:-1], " " + good, good[:5] + "-" + good[6:], good + "\n", "", None, b"bytes"):
        with pytest.raises(Rejected) as caught:
            decrypt(KEY, data)  # type: ignore[arg-type]
        refusal = (caught.value.status, caught.value.reason, str(caught.value))
        assert refusal == (400, "undecryptable", "400 undecryptable")


# -- differential: lark-oapi's own decryptor reads what we encrypt --------------------------------------------------


@pytest.fixture(scope="module")
def sdk_cipher():  # noqa: ANN201
    decryptor = pytest.importorskip("lark_oapi.core.utils.decryptor")
    return decryptor.AESCipher


@settings(max_examples=examples(200), deadline=None)
@given(text=st.text(max_size=500), key=st.text(min_size=1, max_size=40))
def test_lark_oapi_decrypts_what_we_encrypt(sdk_cipher, text: str, key: str) -> None:  # noqa: ANN001
    assert sdk_cipher(key).decrypt_str(encrypt(key, text.encode())) == text


def test_lark_oapi_accepts_our_event_signature() -> None:
    pytest.importorskip("lark_oapi")
    from lark_oapi.core.model import RawRequest
    from lark_oapi.event.dispatcher_handler import EventDispatcherHandler

    from bot.security import event_signature

    body = b'{"encrypt":"abc"}'
    request = RawRequest()
    request.body = body
    request.headers = {"X-Lark-Request-Timestamp": "1700000000", "X-Lark-Request-Nonce": "n0nce",
                       "X-Lark-Signature": event_signature("1700000000", "n0nce", KEY, body)}
    handler = EventDispatcherHandler.builder(KEY, "token").build()
    handler._verify_sign(request, KEY)  # raises on a mismatch
    tampered = dict(request.headers, **{"X-Lark-Signature": "0" * 64})
    request.headers = tampered
    with pytest.raises(Exception, match="signature"):  # the SDK agrees a wrong signature is wrong
        handler._verify_sign(request, KEY)
