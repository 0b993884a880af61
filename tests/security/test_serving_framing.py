"""Where a request ends, decided by the worker's main loop before any thread sees it (bot/serving.py's `frame`).

It must agree with gunicorn on every request it lets through (gunicorn parses the same bytes afterwards), and
refuse with a fixed answer what would make a thread wait or let two parsers disagree (request smuggling).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import app as bot_app
from bot import serving, webhook
from bot.serving import Framing, Refusal, fixed_answer, frame
from tests.properties import examples

GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def framed(data: bytes) -> int | None:
    return frame(bytearray(data), Framing())


def refusal(data: bytes) -> tuple[int, str]:
    with pytest.raises(Refusal) as raised:
        framed(data)
    return raised.value.status, raised.value.reason


def post(body: bytes, *headers: bytes) -> bytes:
    head = b"POST /webhook/event HTTP/1.1\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + body


def test_the_budgets_are_the_apps() -> None:
    assert serving.BODY_DEADLINE_S == webhook.BODY_DEADLINE_S
    assert serving.MAX_BODY_BYTES == bot_app.MAX_BODY_BYTES


def test_a_request_without_a_body_ends_at_the_blank_line() -> None:
    assert framed(GET) == len(GET)
    assert framed(GET[:-1]) is None
    assert framed(GET + b"GET /next") == len(GET)  # a pipelined request stays for the next round


def test_a_content_length_body_ends_after_that_many_bytes() -> None:
    whole = post(b'{"a":1}', b"Content-Length: 7")
    assert framed(whole) == len(whole)
    assert framed(whole[:-1]) is None


def test_a_chunked_body_ends_after_the_last_chunk_and_trailers() -> None:
    whole = post(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n", b"Transfer-Encoding: chunked")
    assert framed(whole) == len(whole)
    with_trailer = post(b"1\r\na\r\n0\r\nX-T: 1\r\n\r\n", b"Transfer-Encoding: chunked")
    assert framed(with_trailer) == len(with_trailer)
    for cut in range(len(with_trailer) - 1, len(with_trailer) - 30, -1):
        assert framed(with_trailer[:cut]) is None


def test_the_chunked_walk_resumes_where_it_stopped() -> None:
    """Bytes arriving one at a time are not re-scanned from the start (a 1-byte-chunk body stays linear)."""
    whole = post(b"1\r\na\r\n" * 50 + b"0\r\n\r\n", b"Transfer-Encoding: chunked")
    buf, state = bytearray(), Framing()
    ends = [frame(buf, state) for byte in whole if not buf.extend(bytes([byte]))]
    assert ends[-1] == len(whole) and all(end is None for end in ends[:-1])
    assert state.chunked_bytes == 50


@pytest.mark.parametrize(("data", "status"), [
    (post(b"x", b"Content-Length: 1", b"Transfer-Encoding: chunked"), 400),  # both: smuggling
    (post(b"x", b"Transfer-Encoding: gzip, chunked"), 400),
    (post(b"x", b"Transfer-Encoding: identity"), 400),
    (post(b"x", b"Content-Length: 1", b"Content-Length: 2"), 400),
    (post(b"x", b"Content-Length: 1, 2"), 400),
    (post(b"x", b"Content-Length: -1"), 400),
    (post(b"x", b"Content-Length: 0x10"), 400),
    (post(b"", b"Content-Length: 1048577"), 413),
    (post(b"zz\r\n", b"Transfer-Encoding: chunked"), 400),
    (post(b"2\r\nabX\r\n", b"Transfer-Encoding: chunked"), 400),
    (post(b"100001\r\n" + b"a" * 10, b"Transfer-Encoding: chunked"), 413),  # one chunk over 1 MiB
    (post(b"123456789\r\n", b"Transfer-Encoding: chunked"), 400),  # a size of more than 8 hex digits
    (post(b"", b"X-Folded: a", b" continued"), 400),
    (post(b"", b"Bad Name: 1"), 400),
    (post(b"", b"NoColon"), 400),
    (b"GET /\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 400),
    (b"GET /" + b"a" * serving.MAX_HEAD_BYTES + b" HTTP/1.1\r\n", 431),
])
def test_what_a_thread_must_not_wait_for_or_misread_is_refused(data: bytes, status: int) -> None:
    assert refusal(data)[0] == status


def test_the_same_length_twice_is_one_length() -> None:
    whole = post(b"ab", b"Content-Length: 2", b"Content-Length: 2")
    assert framed(whole) == len(whole)


def test_fixed_answers_are_json_and_close_the_connection() -> None:
    for status in (400, 408, 413, 431):
        answer = fixed_answer(status)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode())
        assert b"Connection: close" in head and f"Content-Length: {len(body)}".encode() in head
        assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head
        assert json.loads(body)["code"] == status


@settings(max_examples=examples(300), deadline=None)
@given(body=st.binary(max_size=3000), sizes=st.lists(st.integers(1, 700), min_size=1, max_size=8),
       cut=st.integers(0, 5000))
def test_any_split_of_a_valid_request_frames_exactly_once_at_its_end(body: bytes, sizes: list[int],
                                                                     cut: int) -> None:
    """Fed in arbitrary pieces, a valid request (length or chunked) is complete exactly when its last byte is in."""
    chunks, rest = [], body
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    for whole in (post(body, b"Content-Length: %d" % len(body)), post(chunked, b"Transfer-Encoding: chunked")):
        buf, state, at = bytearray(), Framing(), min(cut, len(whole))
        buf.extend(whole[:at])
        first = frame(buf, state)
        buf.extend(whole[at:])
        second = frame(buf, state)
        assert (first, second) in ((None, len(whole)), (len(whole), len(whole)))
        assert first is None or at == len(whole)
