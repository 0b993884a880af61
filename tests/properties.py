"""How many examples a property test tries, by tier (README, "Run the tests").

`examples(n)`: the full suite (`.venv/bin/pytest`, what `.ci/run` runs) tries the n the test names; the quick tier
(`pytest -m "not slow"`) a tenth of it, at least 10, so a developer's loop stays short while CI keeps the
thorough figures. tests/conftest.py picks the tier from the mark expression before any test module is imported.
"""

from __future__ import annotations

_quick = False


def choose_tier(*, quick: bool) -> None:
    """Also the default for property tests that name no count (Hypothesis tries 100)."""
    global _quick
    _quick = quick
    if quick:
        from hypothesis import settings

        settings.register_profile("quick", max_examples=examples(100))
        settings.load_profile("quick")


def examples(n: int) -> int:
    return max(10, n // 10) if _quick else n


def leaves_out_slow(markexpr: str) -> bool:
    """Whether `-m markexpr` deselects a test marked only `slow`."""
    if not markexpr.strip():
        return False
    from _pytest.mark.expression import Expression  # pytest's own parser: "not slow", "unit and not slow", …

    return not Expression.compile(markexpr).evaluate(lambda name, **_: name == "slow")
