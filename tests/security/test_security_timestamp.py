"""T2 replayed requests: the timestamp is parsed strictly and must be within the window, both ways."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.security import Rejected, WebhookKeys, open_event, open_legacy_card
from tests.properties import examples

from .conftest import APP_ID, KEY, NOW, SKEW, TOKEN, Feishu


def outcome(feishu: Feishu, ts: str, now: float = NOW, keys: WebhookKeys = Feishu.keys) -> str:
    """Sign a genuine push with exactly this timestamp string, so only the timestamp can fail."""
    body = feishu.sealed(feishu.event_payload())
    try:
        open_event(body, feishu.sign(body, ts), keys, now)
    except Rejected as rejected:
        return f"{rejected.status} {rejected.reason}"
    return "accepted"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(0, "accepted"), (-299, "accepted"), (299, "accepted"), (-300, "accepted"), (300, "accepted"),
     (-301, "401 stale_timestamp"), (301, "401 stale_timestamp"), (-3600, "401 stale_timestamp"),
     (3600, "401 stale_timestamp"), (-7 * 3600, "401 stale_timestamp")],
)
def test_window_is_two_sided(feishu: Feishu, offset: int, expected: str) -> None:
    assert outcome(feishu, str(NOW + offset)) == expected


def test_fractional_now_at_the_edge(feishu: Feishu) -> None:
    assert outcome(feishu, str(NOW), now=NOW + 300.0) == "accepted"
    assert outcome(feishu, str(NOW), now=NOW + 300.001) == "401 stale_timestamp"
    assert outcome(feishu, str(NOW), now=NOW - 300.001) == "401 stale_timestamp"


@pytest.mark.parametrize(
    "ts",
    [" 1700000000", "1700000000 ", "\t1700000000", "1700000000\n", "１７００００００００", "١٧٠٠٠٠٠٠٠٠",
     "1_700_000_000", "+1700000000", "-1700000000", "1700000000.0", "1.7e9", "0x6553F100", "", "٣",
     "017000000000", "123456789012", "1700000000,1700000000", "NaN", "infinity"],
    ids=repr,
)
def test_timestamp_is_parsed_strictly(feishu: Feishu, ts: str) -> None:
    """int() accepts most of these; the window check must not (docs/security.md T2)."""
    assert outcome(feishu, ts) in ("401 bad_timestamp", "401 stale_timestamp")


def test_leading_zeros_within_eleven_digits_are_still_a_number(feishu: Feishu) -> None:
    assert outcome(feishu, "0" + str(NOW)) == "accepted"


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(-100_000, 100_000))
def test_accepted_iff_inside_the_window(feishu: Feishu, offset: int) -> None:
    accepted = outcome(feishu, str(NOW + offset)) == "accepted"
    assert accepted == (abs(offset) <= SKEW)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(skew=st.integers(1, 900), offset=st.integers(-2000, 2000))
def test_window_follows_the_configured_skew(feishu: Feishu, skew: int, offset: int) -> None:
    keys = WebhookKeys(encrypt_key=KEY, verification_token=TOKEN, app_id=APP_ID, max_skew_s=skew)
    assert (outcome(feishu, str(NOW + offset), keys=keys) == "accepted") == (abs(offset) <= skew)


@pytest.mark.parametrize(("offset", "accepted"), [(299, True), (-299, True), (301, False), (-301, False),
                                                  (-7 * 3600, False)])
def test_legacy_card_window(feishu: Feishu, offset: int, accepted: bool) -> None:
    body = b'{"open_id":"ou_manager","action":{"value":{}}}'
    headers = feishu.sign_legacy(body, NOW + offset)
    if accepted:
        assert open_legacy_card(body, headers, feishu.keys, NOW).kind == "action"
    else:
        with pytest.raises(Rejected) as caught:
            open_legacy_card(body, headers, feishu.keys, NOW)
        assert (caught.value.status, caught.value.reason) == (401, "stale_timestamp")


def test_legacy_card_timestamp_is_strict(feishu: Feishu) -> None:
    body = b'{"open_id":"ou_manager","action":{"value":{}}}'
    for ts in (" 1700000000", "１７００００００００", "1_700_000_000"):
        with pytest.raises(Rejected) as caught:
            open_legacy_card(body, feishu.sign_legacy(body, ts), feishu.keys, NOW)
        assert caught.value.status == 401
