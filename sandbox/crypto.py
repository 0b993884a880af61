"""Feishu's event encryption and signatures, as the platform applies them (feishu-protocol.md §1.3, §1.4, §3.2).

- Encryption: key = SHA-256(encrypt_key); AES-256-CBC with a random 16-byte IV; PKCS#7 padding;
  the wire value is base64(iv ‖ ciphertext), sent as `{"encrypt": "..."}`.
- Event / new-callback signature: lowercase hex SHA-256 of UTF-8(timestamp + nonce + encrypt_key) ‖ raw body.
- Legacy card-callback signature: lowercase hex SHA-1 of UTF-8(timestamp + nonce + verification_token) ‖ raw body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from Crypto.Cipher import AES

BLOCK = AES.block_size  # 16


def aes_key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise ValueError("empty plaintext")
    n = data[-1]
    if n < 1 or n > BLOCK or data[-n:] != bytes([n]) * n:
        raise ValueError("invalid PKCS#7 padding")
    return data[:-n]


def encrypt(plaintext: bytes | str, encrypt_key: str, *, iv: bytes | None = None) -> str:
    """base64(iv ‖ AES-256-CBC(pkcs7(plaintext))); a fresh random IV unless one is given (test vectors)."""
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    iv = os.urandom(BLOCK) if iv is None else iv
    if len(iv) != BLOCK:
        raise ValueError("IV must be 16 bytes")
    cipher = AES.new(aes_key(encrypt_key), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(_pad(data))).decode("ascii")


def decrypt(token: str, encrypt_key: str) -> bytes:
    """The inverse of `encrypt`, strict about length and padding."""
    raw = base64.b64decode(token, validate=True)
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise ValueError("invalid ciphertext length")
    cipher = AES.new(aes_key(encrypt_key), AES.MODE_CBC, raw[:BLOCK])
    return _unpad(cipher.decrypt(raw[BLOCK:]))


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """`X-Lark-Signature` of events and `card.action.trigger` callbacks (a plain hash, not an HMAC)."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def legacy_signature(timestamp: str, nonce: str, verification_token: str, body: bytes) -> str:
    """`X-Lark-Signature` of legacy message-card callbacks."""
    return hashlib.sha1((timestamp + nonce + verification_token).encode("utf-8") + body).hexdigest()  # noqa: S324


def verify(timestamp: str, nonce: str, encrypt_key: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(timestamp, nonce, encrypt_key, body), given)
