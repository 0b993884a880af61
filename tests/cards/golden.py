"""Golden snapshots of rendered cards: compare parsed JSON; a missing or different file fails.

To accept a change after reviewing it: ``UPDATE_GOLDEN=1 pytest tests/cards -k golden`` rewrites the files that
differ and still fails those tests (so a run with the variable set can never pass); then run again to compare."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def _dump(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False, indent=1) + "\n"


def assert_golden(name: str, card: Any) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1" and (not path.exists() or json.loads(path.read_text("utf-8")) != card):
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(_dump(card), encoding="utf-8")
        pytest.fail(f"rewrote golden/{path.name}: review `git diff`, then run without UPDATE_GOLDEN to compare")
    if not path.exists():
        pytest.fail(f"golden file {path.name} is missing: review the card, then run with UPDATE_GOLDEN=1")
    expected = json.loads(path.read_text(encoding="utf-8"))
    if expected != card:
        diff = "".join(difflib.unified_diff(_dump(expected).splitlines(True), _dump(card).splitlines(True),
                                            f"golden/{path.name}", "rendered", n=2))
        pytest.fail(f"card differs from golden/{path.name} (UPDATE_GOLDEN=1 after review):\n{diff[:6000]}")
